/* Sockets: not saved yet. */
#include "fd_kinds.h"

int amber_fd_socket_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is a socket (%s), which Amber cannot save yet", rec->fd, target);
  return -1;
}

int amber_fd_socket_restore(struct amber_fd_rec *rec, int floor) { return -ENOTSUP; }
