/* Directory notifications (dnotify: fcntl F_NOTIFY, after which the kernel sends the process
 * SIGIO, or the signal F_SETSIG chose, when the directory changes). The kernel shows them
 * nowhere (fdinfo lists inotify and fanotify marks only), so a restore lost them without a
 * word: the program waited for changes that never came. The library notes each registration
 * made through libc's fcntl, with the directory's inode, and the restored process registers it
 * again before the program runs. A close of the descriptor drops it, as the kernel does; a
 * fork's child has none (the kernel ties them to the file table). Not seen: one made by a raw
 * system call, or before an exec; and a one-shot registration (without DN_MULTISHOT) that
 * fired and was not renewed comes back armed once more. */
#include <fcntl.h>
#include <sys/stat.h>

#include "../agent/agent.h"
#include "../../common/errno_name.h"

#define DNOTIFY_MAX 64

static struct {
  int32_t fd, pad;
  uint64_t arg, dev, ino;
} notes[DNOTIFY_MAX]; /* saved with memory */
static int nnotes, overflow;

static int find(int fd) {
  for (int i = 0; i < nnotes; i++)
    if (notes[i].fd == fd) return i;
  return -1;
}

static void drop(int i) { notes[i] = notes[--nnotes]; }

/* After fcntl(fd, F_NOTIFY, arg) succeeded. */
void amber_dnotify_note(int fd, unsigned long arg) {
  int i = find(fd);
  if (!(arg & ~(unsigned long)DN_MULTISHOT)) { /* no event left: removed */
    if (i >= 0) drop(i);
    return;
  }
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) < 0) return;
  if (i < 0 && nnotes == DNOTIFY_MAX) {
    overflow = 1;
    return;
  }
  if (i < 0) i = nnotes++;
  /* Another call on the same descriptor adds its events to a multishot one, else replaces it. */
  if (notes[i].fd == fd && notes[i].ino == st.st_ino && (arg & DN_MULTISHOT))
    notes[i].arg |= arg;
  else
    notes[i].arg = arg;
  notes[i].fd = fd, notes[i].dev = st.st_dev, notes[i].ino = st.st_ino;
}

/* Descriptors first to last closed (or replaced by dup2). */
void amber_dnotify_closed(unsigned first, unsigned last) {
  for (int i = nnotes - 1; i >= 0; i--)
    if ((unsigned)notes[i].fd >= first && (unsigned)notes[i].fd <= last) drop(i);
}

void amber_dnotify_forget(void) { nnotes = 0, overflow = 0; }

/* While frozen: a note whose descriptor is no longer its directory is stale (closed behind
 * the library's back); more than it could note is refused. 0, or -1 with amber_ckpt.error. */
int amber_dnotify_capture(void) {
  if (overflow) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "more than %d directory notifications (fcntl F_NOTIFY) are registered, which "
              "Amber cannot all keep", DNOTIFY_MAX);
    return -1;
  }
  for (int i = nnotes - 1; i >= 0; i--) {
    struct stat st;
    if (amber_sys2(SYS_fstat, notes[i].fd, &st) < 0 || st.st_ino != notes[i].ino ||
        st.st_dev != notes[i].dev)
      drop(i);
  }
  return 0;
}

/* After a restore, once every descriptor is in place and the restore's own copies of them are
 * closed (a close of any copy drops the notification): registered again by this process. */
int amber_dnotify_after_restore(void) {
  for (int i = 0; i < nnotes; i++) {
    long err = amber_sys3(SYS_fcntl, notes[i].fd, F_NOTIFY, notes[i].arg);
    if (err < 0) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "cannot register the directory notification (F_NOTIFY) of descriptor %d again (%s)",
                notes[i].fd, amber_errno_name((int)err));
      return -1;
    }
  }
  return 0;
}
