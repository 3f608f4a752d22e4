/* Epoll registrations whose descriptor moved. A registration belongs to the open file and the
 * number it was added under (fdinfo's tfd), not to whatever that number holds now: the program
 * may have closed it after a dup, and the number may hold another file since. The agent finds
 * a descriptor of the process that still holds the registered file (kcmp KCMP_EPOLL_TFD); at
 * restore the file is put at the registered number for the time of EPOLL_CTL_ADD (what holds
 * that number then is set aside and put back), so the registration has its number again. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>

#include "fd_kinds.h"

static int is_registered_file(int epfd, int tfd, int fd) {
  struct kcmp_epoll_slot slot = {(uint32_t)epfd, (uint32_t)tfd, 0};
  int pid = amber_sys_getpid();
  return amber_sys5(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot) == 0;
}

int amber_epoll_holder(int epfd, int tfd) {
  static int32_t fds[AMBER_MAX_FDS + 1];
  int n = amber_list_numbers("/proc/thread-self/fd", fds, AMBER_MAX_FDS);
  for (int i = 0; i < n; i++)
    if (fds[i] != epfd && !amber_table_fd_is(fds[i]) && is_registered_file(epfd, tfd, fds[i]))
      return fds[i];
  return -1;
}

long amber_epoll_add_moved(int epfd, int tfd, int holder, struct epoll_event *ev, int floor) {
  int flags = (int)amber_sys2(SYS_fcntl, tfd, F_GETFD);
  int aside = flags < 0 ? -1 : (int)amber_sys3(SYS_fcntl, tfd, F_DUPFD_CLOEXEC, floor);
  if (flags >= 0 && aside < 0) return aside;
  long err = amber_sys3(SYS_dup3, holder, tfd, O_CLOEXEC);
  if (err >= 0) err = amber_sys4(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, tfd, ev);
  if (aside >= 0) { /* what the number holds, back with its flags */
    amber_sys3(SYS_dup3, aside, tfd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    amber_sys1(SYS_close, aside);
  } else {
    amber_sys1(SYS_close, tfd);
  }
  return err < 0 ? err : 0;
}

/* Once the share scan says who re-creates each description: an epoll shared with another
 * process (a child forked from a running event loop inherits it) gets its registrations back
 * from its owner alone, so the registrations of files only the others hold are the owner's
 * concern. The owner must hold each registered file; the others drop the ones they do not. */
int amber_epoll_frozen(struct amber_fd_rec *rec) {
  if (rec->kind != AMBER_FD_EPOLL || rec->u[5]) return 0;
  int owned = amber_fd_owned(rec), kept = 0;
  for (int i = 0; i < amber_ckpt.nepoll; i++) {
    const struct amber_epoll_rec *r = &amber_ckpt.epoll[i];
    if (r->epfd == rec->fd && r->pad == AMBER_EPOLL_NOT_HELD) {
      if (!owned) continue;
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "descriptor %d is an epoll watching a file registered as descriptor %d, which "
                "no descriptor of this process holds now (closed, or held only by another "
                "process); Amber cannot save that yet",
                rec->fd, (int)r->tfd);
      return -1;
    }
    amber_ckpt.epoll[kept++] = *r;
  }
  amber_ckpt.nepoll = kept;
  return 0;
}
