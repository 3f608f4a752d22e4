/* Every descriptor kind Amber saves, one line each (its table of operations is in fd_<kind>.c).
 * A descriptor is captured by the first kind, in this order, that recognises it. */
#include "fd_kinds.h"

#define AMBER_FD_KIND_LIST(KIND)                                                                  \
  KIND(pipe)                                                                                      \
  KIND(socket)                                                                                    \
  KIND(inotify)                                                                                   \
  KIND(pidfd)                                                                                     \
  KIND(anon)                                                                                      \
  KIND(pty)                                                                                       \
  KIND(mqueue)                                                                                    \
  KIND(file)                                                                                      \
  KIND(pathless)                                                                                  \
  KIND(fifo)

#define DECLARE(k) extern const struct amber_fd_ops amber_fd_##k##_ops;
#define ENTRY(k) &amber_fd_##k##_ops,
AMBER_FD_KIND_LIST(DECLARE)
const struct amber_fd_ops *const amber_fd_kinds[] = {AMBER_FD_KIND_LIST(ENTRY) 0};

int amber_fd_recognising = -1;

const struct amber_fd_ops *amber_fd_ops_of(const struct amber_fd_rec *rec) {
  if (rec->kind <= 0 || rec->kind >= 32) return 0;
  for (const struct amber_fd_ops *const *o = amber_fd_kinds; *o; o++)
    if ((*o)->kinds & AMBER_FD_BIT(rec->kind)) return *o;
  return 0;
}

/* Two tables that claim one kind number would restore each other's records: refused before a
 * snapshot rather than found out at a restore. */
int amber_fd_kinds_check(void) {
  for (const struct amber_fd_ops *const *a = amber_fd_kinds; *a; a++)
    for (const struct amber_fd_ops *const *b = a + 1; *b; b++)
      if ((*a)->kinds & (*b)->kinds) {
        amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                  "the descriptor kinds %s and %s claim the same kind number (%#x): Amber was "
                  "built wrong", (*a)->name, (*b)->name, (*a)->kinds & (*b)->kinds);
        return -1;
      }
  return 0;
}

int amber_fd_any_creator(const struct amber_fd_rec *rec, const struct amber_share_fd *e) {
  (void)rec, (void)e;
  return 1;
}
