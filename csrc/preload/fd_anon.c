/* anon_inode descriptors: not saved yet. */
#include "fd_kinds.h"

int amber_fd_anon_capture(struct amber_fd_rec *rec, const char *target) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is an %s, which Amber cannot save yet", rec->fd, target);
  return -1;
}

int amber_fd_anon_restore(struct amber_fd_rec *rec, int floor, int pass) { return -ENOTSUP; }
