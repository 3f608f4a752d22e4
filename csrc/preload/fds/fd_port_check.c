/* A socket bound to a privileged port (below net.ipv4.ip_unprivileged_port_start, 1024 unless
 * lowered) is bound again at restore by the process that owns it, with that process's own
 * credentials (the restorer gives them before anything else: docs/trust-model.md). A process
 * that no longer runs as root (it bound the port, then gave root up, as many daemons do) could
 * not, and the restore would fail once the original was ended: the snapshot refuses it instead,
 * naming the descriptor and the port. A TCP socket bound but not listening is only best effort
 * at restore (fd_socket.c), and passes. */
#include <netinet/in.h>
#include <sys/socket.h>

#include "fd_kinds.h"

static int unprivileged_start(void) {
  char text[32];
  long n = amber_read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", text, sizeof text - 1);
  if (n <= 0) return 1024;
  text[n] = 0;
  const char *p = text;
  uint64_t v;
  return amber_parse_u64(&p, &v, 10) ? 1024 : (int)v;
}

static int port_of(const struct amber_fd_rec *rec) {
  uint16_t port = 0;
  if (rec->domain == AF_INET && rec->addr_len >= sizeof(struct sockaddr_in))
    port = ((const struct sockaddr_in *)rec->addr)->sin_port;
  else if (rec->domain == AF_INET6 && rec->addr_len >= sizeof(struct sockaddr_in6))
    port = ((const struct sockaddr_in6 *)rec->addr)->sin6_port;
  return ntohs(port);
}

int amber_fd_port_check(const struct amber_fd_rec *rec) {
  int stream = (rec->type & 0xf) == SOCK_STREAM;
  if (rec->socket_kind != AMBER_SOCK_LISTEN && (stream || rec->socket_kind != AMBER_SOCK_BOUND))
    return 0;
  int port = port_of(rec);
  if (port == 0 || !amber_fd_owned(rec)) return 0;
  int start = unprivileged_start();
  uint32_t uid[3];
  amber_sys3(SYS_getresuid, &uid[0], &uid[1], &uid[2]);
  if (port >= start || uid[1] == 0) return 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is a socket bound to port %d, which a restore binds again as this "
            "process's user (uid %d), who may not bind a port below %d (it was bound before "
            "root was given up)",
            rec->fd, port, (int)uid[1], start);
  return -1;
}
