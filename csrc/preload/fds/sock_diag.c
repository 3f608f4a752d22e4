/* The one way Amber's agent asks the kernel about sockets (NETLINK_SOCK_DIAG): Unix ones
 * (fd_socketpair.c), TCP ones (tcp_backlog.c). */
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include "fd_kinds.h"

long amber_sock_diag_send(int *sock, struct nlmsghdr *h, uint32_t len, uint16_t flags,
                          uint32_t seq) {
  if (*sock < 0) {
    *sock = (int)amber_sys3(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (*sock < 0) return *sock;
  }
  h->nlmsg_len = len;
  h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = seq;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  return amber_sys6(SYS_sendto, *sock, (long)h, len, 0, (long)&kernel, sizeof kernel);
}

long amber_sock_diag_each(int sock, uint32_t seq, int (*each)(const struct nlmsghdr *h, void *ctx),
                          void *ctx) {
  static char reply[16384] __attribute__((aligned(8)));
  for (int more = 1; more;) {
    long r = amber_sys6(SYS_recvfrom, sock, (long)reply, sizeof reply, MSG_DONTWAIT, 0, 0);
    if (r < 0) return r;
    for (long off = 0; off + (long)sizeof(struct nlmsghdr) <= r;) {
      struct nlmsghdr *h = (void *)(reply + off);
      if (h->nlmsg_len < sizeof *h || off + (long)h->nlmsg_len > r) break;
      off += NLMSG_ALIGN(h->nlmsg_len);
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        return err == -ENOENT ? 0 : err;
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && more && each(h, ctx)) more = 0;
    }
    if (!(((struct nlmsghdr *)reply)->nlmsg_flags & NLM_F_MULTI)) return 0; /* one answer */
  }
  /* A dump cut short: what is left of it is read, so that the next question starts clean. */
  while (amber_sys6(SYS_recvfrom, sock, (long)reply, sizeof reply, MSG_DONTWAIT, 0, 0) > 0) {
  }
  return 0;
}
