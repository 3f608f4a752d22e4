/* TCP options a program sets on its sockets that a new socket does not have: keepalive timing
 * (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: nginx's so_keepalive=, Redis's tcp-keepalive,
 * PostgreSQL's tcp_keepalives_*) and TCP_DEFER_ACCEPT (nginx's deferred). A listener passes
 * them on to the connections it accepts, so a restored one without them silently handed out
 * connections with the system's defaults (keepalive after two hours, accepts before data).
 *
 * Saved in u[2] of a TCP socket's record (a Unix socket keeps its file's mode there): SAVED,
 * the idle and interval times in seconds (16 bits each), the count (8 bits) and the deferral
 * in seconds (16 bits). Set again only where they differ from a new socket's, which follows
 * the system's settings. */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fd_kinds.h"

#define SAVED (1ULL << 63)

static const struct {
  int name, shift, bits;
} fields[] = {
    {TCP_KEEPIDLE, 0, 16},
    {TCP_KEEPINTVL, 16, 16},
    {TCP_KEEPCNT, 32, 8},
    {TCP_DEFER_ACCEPT, 40, 16},
};
#define NFIELDS (int)(sizeof fields / sizeof fields[0])

static int get(int fd, int name, int *v) {
  socklen_t len = sizeof *v;
  return (int)amber_sys5(SYS_getsockopt, fd, IPPROTO_TCP, name, v, &len);
}

void amber_tcp_options_capture(struct amber_fd_rec *rec) {
  uint64_t saved = SAVED;
  for (int i = 0; i < NFIELDS; i++) {
    int v = 0;
    if (get(rec->fd, fields[i].name, &v) < 0) return;
    uint64_t max = (1ULL << fields[i].bits) - 1;
    saved |= ((uint64_t)v > max ? max : (uint64_t)v) << fields[i].shift;
  }
  rec->u[2] = saved;
}

void amber_tcp_options_apply(int fd, const struct amber_fd_rec *rec) {
  uint64_t saved = rec->u[2];
  if (!(saved & SAVED)) return; /* an image made before they were saved */
  for (int i = 0; i < NFIELDS; i++) {
    int want = (int)((saved >> fields[i].shift) & ((1ULL << fields[i].bits) - 1)), now = 0;
    if (get(fd, fields[i].name, &now) == 0 && now != want)
      amber_sys5(SYS_setsockopt, fd, IPPROTO_TCP, fields[i].name, &want, sizeof want);
  }
}
