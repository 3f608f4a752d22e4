/* Wrappers for the socket calls that take or return network addresses, and for name lookups,
 * in an application that runs in a virtual network environment. The policy is net_vne.c;
 * outside a VNE every wrapper passes straight through. */
#include <pthread.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/amber.h"
#include "../vne/net_vne.h"
#include "creds_copy.h"

/* glibc declares the address arguments as transparent unions under _GNU_SOURCE. */
#define SA(arg) ((arg).__sockaddr__)

static int fail(int err) {
  errno = err;
  return -1;
}

/* Gives the caller a translated address: at most *len bytes of it, and its full length. */
static void copy_out(const struct sockaddr_storage *ss, socklen_t got, struct sockaddr *addr,
                     socklen_t *len) {
  memcpy(addr, ss, got < *len ? got : *len);
  *len = got;
}

static void peer_out(int fd, struct sockaddr_storage *ss, socklen_t got) {
  if (ss->ss_family != AF_INET) return;
  amber_enter();
  amber_net_peer_out(fd, (struct sockaddr_in *)ss, got);
  amber_leave();
}

AMBER_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  if (!amber_net_active()) return REAL(bind)(fd, SA(addr), len);
  amber_enter();
  int r = amber_net_bind(fd, SA(addr), len);
  amber_leave();
  if (r < 0) return fail(-r);
  return r ? 0 : REAL(bind)(fd, SA(addr), len);
}

AMBER_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  if (!amber_net_active()) return REAL(connect)(fd, SA(addr), len);
  struct sockaddr_in real;
  amber_enter();
  int r = amber_net_dest(fd, SA(addr), len, &real);
  amber_leave();
  if (r < 0) return fail(-r);
  if (r) return REAL(connect)(fd, (const struct sockaddr *)&real, sizeof real);
  return REAL(connect)(fd, SA(addr), len);
}

AMBER_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len) {
  if (!amber_net_active() || !SA(addr) || !len) return REAL(accept)(fd, SA(addr), len);
  struct sockaddr_storage ss;
  socklen_t got = sizeof ss;
  int c = REAL(accept)(fd, (struct sockaddr *)&ss, &got);
  if (c < 0) return c;
  peer_out(fd, &ss, got);
  copy_out(&ss, got, SA(addr), len);
  return c;
}

AMBER_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags) {
  if (!amber_net_active() || !SA(addr) || !len) return REAL(accept4)(fd, SA(addr), len, flags);
  struct sockaddr_storage ss;
  socklen_t got = sizeof ss;
  int c = REAL(accept4)(fd, (struct sockaddr *)&ss, &got, flags);
  if (c < 0) return c;
  peer_out(fd, &ss, got);
  copy_out(&ss, got, SA(addr), len);
  return c;
}

AMBER_EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len) {
  if (!amber_net_active() || !SA(addr) || !len) return REAL(getpeername)(fd, SA(addr), len);
  struct sockaddr_storage ss;
  socklen_t got = sizeof ss;
  int r = REAL(getpeername)(fd, (struct sockaddr *)&ss, &got);
  if (r < 0) return r;
  peer_out(fd, &ss, got);
  copy_out(&ss, got, SA(addr), len);
  return r;
}

AMBER_EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len) {
  if (!amber_net_active() || !SA(addr) || !len) return REAL(getsockname)(fd, SA(addr), len);
  struct sockaddr_storage ss;
  socklen_t got = sizeof ss;
  int r = REAL(getsockname)(fd, (struct sockaddr *)&ss, &got);
  if (r < 0) return r;
  if (ss.ss_family == AF_INET) {
    amber_enter();
    amber_net_local_out(fd, (struct sockaddr_in *)&ss, got);
    amber_leave();
  }
  copy_out(&ss, got, SA(addr), len);
  return r;
}

AMBER_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
                            socklen_t len) {
  if (!amber_net_active() || !SA(addr)) return REAL(sendto)(fd, buf, n, flags, SA(addr), len);
  struct sockaddr_in real;
  amber_enter();
  int r = amber_net_dest(fd, SA(addr), len, &real);
  amber_leave();
  if (r < 0) return fail(-r);
  if (r) return REAL(sendto)(fd, buf, n, flags, (const struct sockaddr *)&real, sizeof real);
  return REAL(sendto)(fd, buf, n, flags, SA(addr), len);
}

AMBER_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
                              socklen_t *len) {
  if (!amber_net_active() || !SA(addr) || !len)
    return REAL(recvfrom)(fd, buf, n, flags, SA(addr), len);
  struct sockaddr_storage ss;
  socklen_t got = sizeof ss;
  ssize_t r = REAL(recvfrom)(fd, buf, n, flags, (struct sockaddr *)&ss, &got);
  if (r < 0) return r;
  peer_out(fd, &ss, got);
  copy_out(&ss, got, SA(addr), len);
  return r;
}

static ssize_t send_msg(int fd, const struct msghdr *msg, int flags) {
  if (!amber_net_active() || !msg || !msg->msg_name) return REAL(sendmsg)(fd, msg, flags);
  struct sockaddr_in real;
  amber_enter();
  int r = amber_net_dest(fd, msg->msg_name, msg->msg_namelen, &real);
  amber_leave();
  if (r < 0) return fail(-r);
  if (!r) return REAL(sendmsg)(fd, msg, flags);
  struct msghdr copy = *msg;
  copy.msg_name = &real;
  copy.msg_namelen = sizeof real;
  return REAL(sendmsg)(fd, &copy, flags);
}

static void copy_done(void *c) { amber_creds_copy_done(c); }

/* Credentials (wrap_creds.c) are looked for only in a message with control data, and sent
 * from a copy (creds_copy.c): the program's message is only read. The copy is let go also when
 * the thread is cancelled in the call (it blocks). */
AMBER_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  if (!msg || !msg->msg_controllen || !amber_active()) return send_msg(fd, msg, flags);
  struct amber_creds_copy c;
  const struct msghdr *m;
  int err = amber_creds_copy_one(&c, msg, &m);
  ssize_t r;
  pthread_cleanup_push(copy_done, &c);
  r = err ? fail(-err) : send_msg(fd, m, flags);
  pthread_cleanup_pop(1);
  return r;
}

AMBER_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  ssize_t r = REAL(recvmsg)(fd, msg, flags);
  if (r >= 0 && msg && msg->msg_controllen && amber_active()) amber_creds_out(msg);
  if (r < 0 || !amber_net_active() || !msg || !msg->msg_name) return r;
  if (msg->msg_namelen >= sizeof(struct sockaddr_in) &&
      ((struct sockaddr *)msg->msg_name)->sa_family == AF_INET) {
    int saved = errno;
    amber_enter();
    amber_net_peer_out(fd, msg->msg_name, msg->msg_namelen);
    amber_leave();
    errno = saved;
  }
  return r;
}

AMBER_EXPORT int close(int fd) {
  if (amber_table_fd_is(fd)) { /* Amber's, not the program's: it is not there for it */
    errno = EBADF;
    return -1;
  }
  amber_signalfd_forget(fd);
  if (fd >= 0) amber_dnotify_closed((unsigned)fd, (unsigned)fd);
  if (!amber_net_active()) return REAL(close)(fd);
  int proto;
  uint16_t rport;
  amber_enter();
  int registered = amber_net_close_begin(fd, &proto, &rport);
  amber_leave();
  int r = REAL(close)(fd);
  if (registered && r == 0) {
    int saved = errno;
    amber_enter();
    amber_net_close_end(proto, rport);
    amber_leave();
    errno = saved;
  }
  return r;
}

/* Dotted-quad text of an address in network byte order. */
static void ip_text(uint32_t ip, char out[16]) {
  const uint8_t *b = (const uint8_t *)&ip;
  char *p = out;
  for (int i = 0; i < 4; i++) {
    int v = b[i];
    if (v >= 100) *p++ = (char)('0' + v / 100);
    if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    *p++ = i < 3 ? '.' : 0;
  }
}

AMBER_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                             struct addrinfo **res) {
  if (!amber_net_active() || !node) return REAL(getaddrinfo)(node, service, hints, res);
  uint32_t vip;
  amber_enter();
  int r = amber_net_resolve(node, &vip);
  amber_leave();
  if (r != 1) return REAL(getaddrinfo)(node, service, hints, res);
  struct addrinfo h;
  if (hints) h = *hints;
  else memset(&h, 0, sizeof h);
  if (h.ai_family == AF_INET6) return EAI_NONAME; /* a VNE name has an IPv4 address only */
  h.ai_family = AF_INET;
  h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~(AI_ADDRCONFIG | AI_V4MAPPED);
  char text[16];
  ip_text(vip, text);
  return REAL(getaddrinfo)(text, service, &h, res);
}

AMBER_EXPORT struct hostent *gethostbyname(const char *name) {
  static __thread struct {
    struct hostent h;
    char *aliases[1];
    char *addrs[2];
    uint32_t addr;
    char name[68];
  } found;
  if (!amber_net_active() || !name) return REAL(gethostbyname)(name);
  uint32_t vip;
  amber_enter();
  int r = amber_net_resolve(name, &vip);
  amber_leave();
  if (r != 1) return REAL(gethostbyname)(name);
  size_t n = strnlen(name, sizeof found.name - 1);
  memcpy(found.name, name, n);
  found.name[n] = 0;
  found.addr = vip;
  found.aliases[0] = NULL;
  found.addrs[0] = (char *)&found.addr;
  found.addrs[1] = NULL;
  found.h.h_name = found.name;
  found.h.h_aliases = found.aliases;
  found.h.h_addrtype = AF_INET;
  found.h.h_length = 4;
  found.h.h_addr_list = found.addrs;
  return &found.h;
}
