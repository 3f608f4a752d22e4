/* IP socket options a program sets that a new socket would not have, which a restore silently
 * lost: keepalive timing (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: nginx's so_keepalive=,
 * Redis's tcp-keepalive, PostgreSQL's tcp_keepalives_*) and TCP_DEFER_ACCEPT (nginx's
 * deferred), which a listener passes on to the connections it accepts; the lingering close
 * (SO_LINGER), the priority and type of service (SO_PRIORITY,
 * IP_TOS, IPV6_TCLASS: QoS marks), the hop limits (IP_TTL, IPV6_UNICAST_HOPS, the multicast
 * ones), multicast loopback, SO_RCVLOWAT, and TCP's user timeout, TCP_NOTSENT_LOWAT, TCP Fast
 * Open on a listener and the congestion control (reno where the system's is bbr). And what a
 * UDP server asks of the kernel and reads in each datagram's control messages, lost without a
 * word, the program then finding none: the destination address and interface (IP_PKTINFO,
 * IPV6_RECVPKTINFO: DNS servers answer from it), the TOS, TTL and original destination,
 * queued errors (IP_RECVERR: QUIC, ping), timestamps, drop counts, GRO and GSO (UDP_GRO,
 * UDP_SEGMENT), path MTU discovery (IP_MTU_DISCOVER: QUIC sets DF), FREEBIND and TRANSPARENT;
 * the socket's mark (SO_MARK: policy routing), the interface it is bound to
 * (SO_BINDTODEVICE, kept by index), and any socket's receive and send timeouts (SO_RCVTIMEO,
 * SO_SNDTIMEO: a blocking call that should time out would wait for ever). Each is read with
 * getsockopt at the snapshot and set again only where the new socket's differs.
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
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

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
#define SEGMENT_DEVICE CONGESTION /* UDP_SEGMENT, and the bound interface's index << 16 */
#define SEGMENT_DEVICE_BIT 24     /* its saved bit (CONGESTION's is taken) */
#define SWITCHES (CONGESTION + 1) /* a bit each of `switches`, MTU discovery's modes above */
#define MARK (SWITCHES + 1)
#define RCVTIMEO (MARK + 1) /* timeouts: ms, or -us when not whole ms (timeout_code) */
#define SNDTIMEO (RCVTIMEO + 1)

_Static_assert(SNDTIMEO + 1 <= (int)(sizeof((struct amber_fd_rec *)0)->sockopt / sizeof(int32_t)),
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
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

/* Options that are on or off, a bit each in sockopt[SWITCHES]. */
static const struct {
  int level, name, family, protocol;
} switches[] = {
    {IPPROTO_IP, IP_PKTINFO, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO, AF_INET6, 0},
    {IPPROTO_IP, IP_RECVTOS, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_RECVTCLASS, AF_INET6, 0},
    {IPPROTO_IP, IP_RECVTTL, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, AF_INET6, 0},
    {IPPROTO_IP, IP_RECVERR, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_RECVERR, AF_INET6, 0},
    {IPPROTO_IP, IP_RECVORIGDSTADDR, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, AF_INET6, 0},
    {IPPROTO_IP, IP_FREEBIND, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_FREEBIND, AF_INET6, 0},
    {IPPROTO_IP, IP_TRANSPARENT, AF_INET, 0},
    {IPPROTO_IPV6, IPV6_TRANSPARENT, AF_INET6, 0},
    {IPPROTO_IP, IP_MULTICAST_ALL, AF_INET, IPPROTO_UDP},
    {SOL_SOCKET, SO_TIMESTAMP, 0, 0},
    {SOL_SOCKET, SO_TIMESTAMPNS, 0, 0},
    {SOL_SOCKET, SO_RXQ_OVFL, 0, 0},
    {SOL_SOCKET, SO_DONTROUTE, 0, 0},
    {SOL_SOCKET, SO_OOBINLINE, 0, 0},
    {IPPROTO_UDP, UDP_GRO, 0, IPPROTO_UDP},
};
#define NSWITCHES (int)(sizeof switches / sizeof switches[0])
#define MTU_V4_SHIFT 24 /* IP_MTU_DISCOVER's mode, 3 bits */
#define MTU_V6_SHIFT 27 /* IPV6_MTU_DISCOVER's */
_Static_assert(NSWITCHES <= MTU_V4_SHIFT, "the switches fit below the MTU modes");

static long get(int fd, int level, int name, void *v, socklen_t len) {
  return amber_sys5(SYS_getsockopt, fd, level, name, v, &len);
}

static void set(int fd, int level, int name, const void *v, socklen_t len) {
  amber_sys5(SYS_setsockopt, fd, level, name, v, len);
}

/* Options that need a capability (CAP_NET_ADMIN or CAP_NET_RAW) the process may have had when
 * it set them and has no longer, or that a less privileged user restoring lacks: one that
 * cannot be set again fails the restore, naming it, rather than come back without it. */
static const char *lost_option;
static long lost_err;

static void set_or_fail(int fd, int level, int name, const void *v, socklen_t len,
                        const char *what) {
  long r = amber_sys5(SYS_setsockopt, fd, level, name, v, len);
  if (r < 0 && !lost_option) lost_option = what, lost_err = r;
}

static int applies(const struct amber_fd_rec *r, int family, int protocol) {
  return (!family || family == r->domain) && (!protocol || protocol == r->protocol);
}

/* A timeout in one int32: whole ms as they are, else -us (to some 35 minutes), else ms
 * rounded up. */
static int32_t timeout_code(const struct timeval *tv) {
  uint64_t us = (uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec;
  if (us % 1000 == 0 && us / 1000 <= INT32_MAX) return (int32_t)(us / 1000);
  if (us <= INT32_MAX) return -(int32_t)us;
  uint64_t ms = (us + 999) / 1000;
  return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

static void timeout_capture(struct amber_fd_rec *rec, int name, int slot) {
  struct timeval tv;
  if (get(rec->fd, SOL_SOCKET, name, &tv, sizeof tv) == 0 && (tv.tv_sec || tv.tv_usec)) {
    rec->sockopt[slot] = timeout_code(&tv);
    rec->sockopts_saved |= 1u << slot;
  }
}

static void timeout_apply(int fd, const struct amber_fd_rec *rec, int name, int slot) {
  if (!(rec->sockopts_saved & (1u << slot))) return;
  int32_t code = rec->sockopt[slot];
  uint64_t us = code < 0 ? (uint64_t)-(int64_t)code : (uint64_t)code * 1000;
  struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
  set(fd, SOL_SOCKET, name, &tv, sizeof tv);
}

static void switches_capture(struct amber_fd_rec *rec) {
  uint32_t bits = 0;
  int any_read = 0;
  for (int i = 0; i < NSWITCHES; i++) {
    int32_t v = 0;
    if (!applies(rec, switches[i].family, switches[i].protocol) ||
        get(rec->fd, switches[i].level, switches[i].name, &v, sizeof v))
      continue;
    any_read = 1;
    if (v) bits |= 1u << i;
  }
  int32_t mode = 0;
  if (rec->domain == AF_INET && !get(rec->fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode))
    bits |= (uint32_t)(mode & 7) << MTU_V4_SHIFT;
  if (rec->domain == AF_INET6 && !get(rec->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof mode))
    bits |= (uint32_t)(mode & 7) << MTU_V6_SHIFT;
  rec->sockopt[SWITCHES] = (int32_t)bits;
  if (any_read) rec->sockopts_saved |= 1u << SWITCHES;
}

/* TRANSPARENT needs CAP_NET_ADMIN or CAP_NET_RAW: its name, or 0 for the other switches. */
static const char *privileged_switch(int i) {
  if (switches[i].level == IPPROTO_IP && switches[i].name == IP_TRANSPARENT) return "IP_TRANSPARENT";
  if (switches[i].level == IPPROTO_IPV6 && switches[i].name == IPV6_TRANSPARENT)
    return "IPV6_TRANSPARENT";
  return 0;
}

static void switches_apply(int fd, const struct amber_fd_rec *rec) {
  if (!(rec->sockopts_saved & (1u << SWITCHES))) return;
  uint32_t bits = (uint32_t)rec->sockopt[SWITCHES];
  for (int i = 0; i < NSWITCHES; i++) {
    int32_t now = 0, want = (bits >> i) & 1;
    if (applies(rec, switches[i].family, switches[i].protocol) &&
        !get(fd, switches[i].level, switches[i].name, &now, sizeof now) && !now != !want)
      privileged_switch(i) ? set_or_fail(fd, switches[i].level, switches[i].name, &want,
                                         sizeof want, privileged_switch(i))
                           : set(fd, switches[i].level, switches[i].name, &want, sizeof want);
  }
  int32_t now = 0, want;
  want = (int32_t)((bits >> MTU_V4_SHIFT) & 7);
  if (rec->domain == AF_INET && !get(fd, IPPROTO_IP, IP_MTU_DISCOVER, &now, sizeof now) &&
      now != want)
    set(fd, IPPROTO_IP, IP_MTU_DISCOVER, &want, sizeof want);
  want = (int32_t)((bits >> MTU_V6_SHIFT) & 7);
  if (rec->domain == AF_INET6 && !get(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &now, sizeof now) &&
      now != want)
    set(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &want, sizeof want);
}

/* The mark, the UDP segment size and the bound interface (by index: the restore is on this
 * computer, or the interface has no meaning). */
static void routing_capture(struct amber_fd_rec *rec) {
  int32_t mark = 0, segment = 0, ifindex = 0;
  if (!get(rec->fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) && mark) {
    rec->sockopt[MARK] = mark;
    rec->sockopts_saved |= 1u << MARK;
  }
  if (rec->protocol == IPPROTO_UDP) get(rec->fd, IPPROTO_UDP, UDP_SEGMENT, &segment, sizeof segment);
  get(rec->fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, sizeof ifindex);
  if ((segment || ifindex) && segment <= 0xffff && ifindex <= 0x7fff) {
    rec->sockopt[SEGMENT_DEVICE] = segment | ifindex << 16;
    rec->sockopts_saved |= 1u << SEGMENT_DEVICE_BIT;
  }
}

static void routing_apply(int fd, const struct amber_fd_rec *rec) {
  uint32_t saved = rec->sockopts_saved;
  if (saved & (1u << MARK))
    set_or_fail(fd, SOL_SOCKET, SO_MARK, &rec->sockopt[MARK], sizeof(int32_t), "SO_MARK");
  if (!(saved & (1u << SEGMENT_DEVICE_BIT))) return;
  int32_t segment = rec->sockopt[SEGMENT_DEVICE] & 0xffff, ifindex = rec->sockopt[SEGMENT_DEVICE] >> 16;
  if (segment) set(fd, IPPROTO_UDP, UDP_SEGMENT, &segment, sizeof segment);
  if (ifindex)
    set_or_fail(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, sizeof ifindex, "SO_BINDTODEVICE");
}

/* A Unix socket's buffer sizes, which the kernel never tunes (journald's and rsyslog's large
 * /dev/log buffer), in the places an IP socket's options take: a Unix socket has none of those. */
#define UNIX_BUFFERS 0

static void apply_buffer(int fd, int b, int32_t want);

/* A Unix socket's timeouts, its buffer sizes, and whether it asks for its senders'
 * credentials (SO_PASSCRED: a syslog daemon's /dev/log; a listener passes it on to the
 * connections it accepts); a connected one's is its pair's matter (fd_socketpair.c). */
void amber_socket_unix_capture(struct amber_fd_rec *rec) {
  timeout_capture(rec, SO_RCVTIMEO, RCVTIMEO);
  timeout_capture(rec, SO_SNDTIMEO, SNDTIMEO);
  for (int b = 0; b < 2; b++)
    if (get(rec->fd, SOL_SOCKET, buffer_option[b][0], &rec->sockopt[UNIX_BUFFERS + b],
            sizeof(int32_t)) == 0)
      rec->sockopts_saved |= 1u << (BUFFERS_BIT + b);
  int32_t v = 0;
  if (!get(rec->fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof v) && v) rec->passcred = 1;
}

int amber_socket_unix_apply(int fd, const struct amber_fd_rec *rec) {
  lost_option = 0;
  timeout_apply(fd, rec, SO_RCVTIMEO, RCVTIMEO);
  timeout_apply(fd, rec, SO_SNDTIMEO, SNDTIMEO);
  for (int b = 0; b < 2; b++)
    if (rec->sockopts_saved & (1u << (BUFFERS_BIT + b)))
      apply_buffer(fd, b, rec->sockopt[UNIX_BUFFERS + b]);
  int32_t on = 1;
  if (rec->passcred) set(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  if (lost_option) amber_fd_restore_detail = lost_option;
  return lost_option ? (int)lost_err : 0;
}

void amber_socket_options_capture(struct amber_fd_rec *rec) {
  if (!any(rec)) return;
  timeout_capture(rec, SO_RCVTIMEO, RCVTIMEO);
  timeout_capture(rec, SO_SNDTIMEO, SNDTIMEO);
  switches_capture(rec);
  routing_capture(rec);
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
    set_or_fail(fd, SOL_SOCKET, buffer_option[b][1], &ask, sizeof ask,
                b ? "SO_SNDBUFFORCE" : "SO_RCVBUFFORCE");
}

int amber_socket_options_apply(int fd, const struct amber_fd_rec *rec) {
  uint32_t saved = rec->sockopts_saved;
  lost_option = 0;
  timeout_apply(fd, rec, SO_RCVTIMEO, RCVTIMEO);
  timeout_apply(fd, rec, SO_SNDTIMEO, SNDTIMEO);
  switches_apply(fd, rec);
  routing_apply(fd, rec);
  for (int i = 0; i < NOPTIONS; i++) {
    int32_t now = 0;
    if ((saved & (1u << i)) && get(fd, options[i].level, options[i].name, &now, sizeof now) == 0 &&
        now != rec->sockopt[i]) {
      if (options[i].name == SO_PRIORITY) /* above 6: CAP_NET_ADMIN */
        set_or_fail(fd, SOL_SOCKET, SO_PRIORITY, &rec->sockopt[i], sizeof(int32_t), "SO_PRIORITY");
      else
        set(fd, options[i].level, options[i].name, &rec->sockopt[i], sizeof(int32_t));
    }
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
  if (lost_option) amber_fd_restore_detail = lost_option;
  return lost_option ? (int)lost_err : 0;
}
