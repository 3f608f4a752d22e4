/* IP socket options a program sets that a new socket would not have, which a restore silently
 * lost: keepalive timing (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: nginx's so_keepalive=,
 * Redis's tcp-keepalive, PostgreSQL's tcp_keepalives_*) and TCP_DEFER_ACCEPT (nginx's
 * deferred), which a listener passes on to the connections it accepts; the lingering close
 * (SO_LINGER), the priority and type of service (SO_PRIORITY,
 * IP_TOS, IPV6_TCLASS: QoS marks), the hop limits (IP_TTL, IPV6_UNICAST_HOPS, the multicast
 * ones), multicast loopback, SO_RCVLOWAT, and TCP's user timeout, TCP_NOTSENT_LOWAT, TCP Fast
 * Open on a listener and the congestion control (reno where the system's is bbr). Each is read
 * with getsockopt at the snapshot and set again only where the new socket's differs.
 *
 * The buffer sizes (SO_RCVBUF, SO_SNDBUF: a syslog or DNS server's large UDP buffer, nginx's
 * listen rcvbuf=, which connections it accepts inherit) of a socket the kernel does not tune,
 * a UDP one or a TCP one not connected: any size that is not a new socket's was set by hand. A
 * connected TCP socket's are not kept: a size set by hand cannot be told from one the kernel
 * tuned, and setting one would stop the tuning. Not here either: multicast group memberships
 * and the multicast interface (the kernel has no per-socket list to read back: noted as they are
 * made, mcast_keep.c). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "fd_kinds.h"

static int any(const struct amber_fd_rec *r) { return r->domain == AF_INET || r->domain == AF_INET6; }
static int tcp(const struct amber_fd_rec *r) { return any(r) && r->protocol == IPPROTO_TCP; }

/* Each option with the family (0: either) and protocol (0: any) of the sockets that have it. */
static const struct {
  int level, name, family, protocol;
} options[] = {
    {SOL_SOCKET, SO_PRIORITY, 0, 0},
    {SOL_SOCKET, SO_RCVLOWAT, 0, 0},
    {IPPROTO_IP, IP_TOS, AF_INET, 0},
    {IPPROTO_IP, IP_TTL, AF_INET, 0},
    {IPPROTO_IP, IP_MULTICAST_TTL, AF_INET, IPPROTO_UDP},
    {IPPROTO_IP, IP_MULTICAST_LOOP, AF_INET, IPPROTO_UDP},
    {IPPROTO_IPV6, IPV6_TCLASS, AF_INET6, 0},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, AF_INET6, 0},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, AF_INET6, IPPROTO_UDP},
    {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, AF_INET6, IPPROTO_UDP},
    {IPPROTO_TCP, TCP_KEEPIDLE, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_KEEPINTVL, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_KEEPCNT, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0, IPPROTO_TCP},
    {IPPROTO_TCP, TCP_FASTOPEN, 0, IPPROTO_TCP},
};
#define NOPTIONS (int)(sizeof options / sizeof options[0])
#define LINGER NOPTIONS         /* two places: l_onoff, l_linger */
#define CONGESTION (LINGER + 2) /* a bit only: the name is in rec->congestion */
/* SO_RCVBUF, SO_SNDBUF (the kernel's doubled values) in rec->u[2], which only a Unix socket
 * uses otherwise: the receive one in the high half. Their saved bits, past the places'. */
#define BUFFERS_BIT 25

_Static_assert(LINGER + 2 <= (int)(sizeof((struct amber_fd_rec *)0)->sockopt / sizeof(int32_t)),
               "the record holds every option");

static const int buffer_option[2][2] = {{SO_RCVBUF, SO_RCVBUFFORCE}, {SO_SNDBUF, SO_SNDBUFFORCE}};

/* Not tuned by the kernel: a UDP socket, or a TCP one listening or never connected. */
static int untuned(const struct amber_fd_rec *r) {
  if (r->type == SOCK_DGRAM) return 1;
  struct tcp_info ti;
  memset(&ti, 0, sizeof ti);
  return tcp(r) && amber_sys5(SYS_getsockopt, r->fd, IPPROTO_TCP, TCP_INFO, &ti,
                              &(socklen_t){sizeof ti}) == 0 &&
         (ti.tcpi_state == TCP_LISTEN || ti.tcpi_state == TCP_CLOSE);
}

static long get(int fd, int level, int name, void *v, socklen_t len) {
  return amber_sys5(SYS_getsockopt, fd, level, name, v, &len);
}

static void set(int fd, int level, int name, const void *v, socklen_t len) {
  amber_sys5(SYS_setsockopt, fd, level, name, v, len);
}

void amber_socket_options_capture(struct amber_fd_rec *rec) {
  if (!any(rec)) return;
  for (int i = 0; i < NOPTIONS; i++)
    if ((!options[i].family || options[i].family == rec->domain) &&
        (!options[i].protocol || options[i].protocol == rec->protocol) &&
        get(rec->fd, options[i].level, options[i].name, &rec->sockopt[i], sizeof(int32_t)) == 0)
      rec->sockopts_saved |= 1u << i;
  struct linger l;
  if (get(rec->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0) {
    rec->sockopt[LINGER] = l.l_onoff, rec->sockopt[LINGER + 1] = l.l_linger;
    rec->sockopts_saved |= 1u << LINGER;
  }
  if (tcp(rec) &&
      get(rec->fd, IPPROTO_TCP, TCP_CONGESTION, rec->congestion, sizeof rec->congestion - 1) == 0)
    rec->sockopts_saved |= 1u << CONGESTION;
  if (untuned(rec)) rec->u[2] = 0;
  for (int b = 0; b < 2 && untuned(rec); b++) {
    uint32_t size = 0;
    if (get(rec->fd, SOL_SOCKET, buffer_option[b][0], &size, sizeof size) == 0) {
      rec->u[2] |= (uint64_t)size << (b ? 0 : 32);
      rec->sockopts_saved |= 1u << (BUFFERS_BIT + b);
    }
  }
}

/* The kernel keeps twice the size asked for (its bookkeeping's share), up to twice the system's
 * maximum unless forced (CAP_NET_ADMIN, which a process that forced it had). */
static void apply_buffer(int fd, int b, int32_t want) {
  int32_t now = 0, ask = want / 2;
  if (get(fd, SOL_SOCKET, buffer_option[b][0], &now, sizeof now) || now == want) return;
  set(fd, SOL_SOCKET, buffer_option[b][0], &ask, sizeof ask);
  if (get(fd, SOL_SOCKET, buffer_option[b][0], &now, sizeof now) == 0 && now != want)
    set(fd, SOL_SOCKET, buffer_option[b][1], &ask, sizeof ask);
}

void amber_socket_options_apply(int fd, const struct amber_fd_rec *rec) {
  uint32_t saved = rec->sockopts_saved;
  for (int i = 0; i < NOPTIONS; i++) {
    int32_t now = 0;
    if ((saved & (1u << i)) && get(fd, options[i].level, options[i].name, &now, sizeof now) == 0 &&
        now != rec->sockopt[i])
      set(fd, options[i].level, options[i].name, &rec->sockopt[i], sizeof(int32_t));
  }
  struct linger l, want = {rec->sockopt[LINGER], rec->sockopt[LINGER + 1]};
  if ((saved & (1u << LINGER)) && get(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 &&
      (!l.l_onoff != !want.l_onoff || (want.l_onoff && l.l_linger != want.l_linger)))
    set(fd, SOL_SOCKET, SO_LINGER, &want, sizeof want);
  char now[sizeof rec->congestion] = "";
  if ((saved & (1u << CONGESTION)) && rec->congestion[0] &&
      get(fd, IPPROTO_TCP, TCP_CONGESTION, now, sizeof now - 1) == 0 &&
      strncmp(now, rec->congestion, sizeof now))
    set(fd, IPPROTO_TCP, TCP_CONGESTION, rec->congestion,
        (socklen_t)strnlen(rec->congestion, sizeof rec->congestion));
  for (int b = 0; b < 2; b++)
    if (saved & (1u << (BUFFERS_BIT + b))) apply_buffer(fd, b, (int32_t)(rec->u[2] >> (b ? 0 : 32)));
}
