/* Translation between an application's VNE and the real sockets of this computer (see
 * net_vne.h and common/vne.h). The application's own registrations are kept twice: in the
 * computer's VNE table, where every application looks them up, and in the application's
 * tables (amber_table.vne_binds), which travel in its image so that a restore registers them
 * again wherever it runs. */
#include "net_vne.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "../../common/vne.h"
#include "../agent/agent.h"

#define LOOPBACK 0x0100007fU /* 127.0.0.1 in network byte order */
/* How long a peer on another computer may take to be mirrored here: seconds on a loaded
 * machine (registry, then agent); only a peer not yet mirrored waits. */
#define PEER_WAIT_MS 5000

static struct amber_vne_table *mapped;
static uint64_t mapped_restore; /* amber_restore_args.restored when it was mapped */

int amber_net_active(void) { return amber_active() && amber.table->vne[0] != 0; }

int amber_net_table_mapping(uint64_t start) {
  return mapped && (uint64_t)(uintptr_t)mapped == start;
}

/* The computer's VNE table and the application's VNE in it (-1: not defined here). A restored
 * process maps the table of the computer it runs on now, named by its new tables. */
static struct amber_vne_table *vtable(int *vne) {
  struct amber_vne_table *t = __atomic_load_n(&mapped, __ATOMIC_ACQUIRE);
  uint64_t restored = __atomic_load_n(&amber_restore_args.restored, __ATOMIC_ACQUIRE);
  if (!t || mapped_restore != restored) {
    struct amber_vne_table *fresh;
    if (amber_vne_open(amber.table->vne_table, 0, &fresh)) return NULL;
    if (__atomic_compare_exchange_n(&mapped, &t, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      t = fresh;
      mapped_restore = restored;
    } else {
      amber_vne_close(fresh); /* another thread was first: t is its table */
    }
  }
  *vne = amber_vne_find(t, amber.table->vne);
  return t;
}

static int sock_proto(int fd) {
  int domain = 0, type = 0;
  socklen_t len = sizeof domain;
  if (amber_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
      domain != AF_INET)
    return 0;
  len = sizeof type;
  if (amber_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return 0;
  return type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0;
}

static int local_port(int fd, uint16_t *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  long r = amber_sys3(SYS_getsockname, fd, &a, &len);
  if (r < 0) return (int)r;
  *port = a.sin_family == AF_INET ? a.sin_port : 0;
  return 0;
}

/* The application's record of the socket bound to real port rport, or NULL. */
static struct amber_vne_bind *bind_of(int proto, uint16_t rport) {
  struct amber_table *a = amber.table;
  uint32_t n = __atomic_load_n(&a->vne_nbinds, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < n && i < AMBER_VNE_BINDS; i++) {
    struct amber_vne_bind *b = &a->vne_binds[i];
    if (__atomic_load_n(&b->state, __ATOMIC_ACQUIRE) == AMBER_ROW_LIVE && b->proto == proto &&
        b->rport == rport)
      return b;
  }
  return NULL;
}

/* Whether a socket of this computer still uses real port rport: for TCP one in any state but
 * TIME_WAIT and CLOSE (a closed listener's leftover connections do not hold it), for UDP any.
 * The kernel's socket lists (/proc/self/net/tcp, udp) say, without touching the port. */
static int port_busy(int proto, uint16_t rport) {
  const char *path = proto == IPPROTO_TCP ? "/proc/self/net/tcp" : "/proc/self/net/udp";
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1; /* cannot tell: keep the registration */
  unsigned want = __builtin_bswap16(rport);
  char buf[4096];
  size_t have = 0;
  int busy = 0, header = 1;
  for (;;) {
    long n = amber_sys3(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *end;
    while (!busy && (end = strchr(line, '\n'))) {
      *end = 0;
      /* "  12: 0100007F:1F90 00000000:0000 0A ..." */
      char *colon = header ? NULL : strchr(line, ':');
      char *port = colon ? strchr(colon + 1, ':') : NULL;
      if (port) {
        unsigned p = 0, st = 0;
        const char *q = port + 1;
        for (int i = 0; i < 4 && *q; i++, q++) p = p * 16 + (unsigned)(*q <= '9' ? *q - '0' : (*q | 32) - 'a' + 10);
        while (*q == ' ') q++;
        while (*q && *q != ' ') q++; /* the remote address */
        while (*q == ' ') q++;
        for (int i = 0; i < 2 && *q; i++, q++) st = st * 16 + (unsigned)(*q <= '9' ? *q - '0' : (*q | 32) - 'a' + 10);
        if (p == want && (proto != IPPROTO_TCP || (st != 6 /* TIME_WAIT */ && st != 7 /* CLOSE */)))
          busy = 1;
      }
      header = 0;
      line = end + 1;
    }
    if (busy) break;
    have = (size_t)(buf + have - line);
    memmove(buf, line, have);
    if (have >= sizeof buf - 1) have = 0; /* a line longer than the buffer: skip it */
  }
  amber_sys1(SYS_close, fd);
  return busy;
}

/* A registration whose socket is gone: its process ended, or nothing holds its port. */
static int stale(const struct amber_vne_row *row) {
  if (row->origin != AMBER_VNE_LOCAL) return 0;
  if (row->pid > 0 && amber_sys2(SYS_kill, row->pid, 0) == -ESRCH) return 1;
  return !port_busy(row->proto, row->rport);
}

static int real_bind(int fd, uint16_t port, int server, uint16_t *rport) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = port};
  /* The connections a server leaves in TIME_WAIT must not keep its real port from being bound
   * again where it is restored: they inherit SO_REUSEADDR from the socket they came from. */
  int one = 1;
  if (server) amber_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  long r = amber_sys3(SYS_bind, fd, &a, sizeof a);
  if ((r == -EADDRINUSE || r == -EACCES) && port) {
    a.sin_port = 0; /* taken here, or privileged: any port does, the virtual one stays */
    r = amber_sys3(SYS_bind, fd, &a, sizeof a);
  }
  if (r < 0) return (int)r;
  return local_port(fd, rport);
}

/* Registers (proto, virtual IP, vport) -> (this computer, rport); the VNE lock is held. */
static int record(struct amber_vne_table *t, int vne, int proto, int any, int client,
                  uint16_t vport, uint16_t rport) {
  struct amber_table *a = amber.table;
  struct amber_vne_row *row = amber_vne_row_put(t, vne, proto, a->vne_ip, vport);
  if (!row) return -ENOBUFS;
  row->origin = AMBER_VNE_LOCAL;
  row->rport = rport;
  row->pid = amber_sys_getpid();
  memcpy(row->app_id, a->app_id, sizeof row->app_id);
  amber_vne_row_live(row);

  amber_table_lock(a);
  struct amber_vne_bind *b = bind_of(proto, rport);
  for (uint32_t i = 0; !b && i < AMBER_VNE_BINDS; i++)
    if (a->vne_binds[i].state != AMBER_ROW_LIVE) b = &a->vne_binds[i];
  if (b) {
    b->proto = (uint8_t)proto;
    b->any = (uint8_t)any;
    b->client = (uint8_t)client;
    b->vport = vport;
    b->rport = rport;
    __atomic_store_n(&b->state, AMBER_ROW_LIVE, __ATOMIC_RELEASE);
    uint32_t slot = (uint32_t)(b - a->vne_binds);
    if (slot + 1 > a->vne_nbinds) __atomic_store_n(&a->vne_nbinds, slot + 1, __ATOMIC_RELEASE);
  }
  amber_table_unlock(a);
  return b ? 0 : -ENOBUFS;
}

int amber_net_bind(int fd, const struct sockaddr *addr, socklen_t len) {
  if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) return 0;
  const struct sockaddr_in *in = (const void *)addr;
  uint32_t ip = in->sin_addr.s_addr, me = amber.table->vne_ip;
  int vne;
  struct amber_vne_table *t = vtable(&vne);
  if (ip != INADDR_ANY && ip != me) {
    if (t && vne >= 0 && amber_vne_in(&t->defs[vne], ip)) return -EADDRNOTAVAIL;
    return 0;
  }
  int proto = sock_proto(fd);
  if (!t || vne < 0 || !me || !proto) return ip == INADDR_ANY ? 0 : -EADDRNOTAVAIL;
  uint16_t vport = in->sin_port, rport = 0;
  amber_vne_lock(t);
  struct amber_vne_row *old = vport ? amber_vne_row_of(t, vne, proto, me, vport) : NULL;
  int err = old && !stale(old) ? -EADDRINUSE : 0;
  if (!err) err = real_bind(fd, vport, 1, &rport);
  if (!err && !vport) vport = rport;
  if (!err) err = record(t, vne, proto, ip == INADDR_ANY, 0, vport, rport);
  amber_vne_unlock(t);
  return err ? err : 1;
}

/* A socket about to reach a virtual address is bound to a registered real port first. */
static int ensure_source(struct amber_vne_table *t, int vne, int fd, int proto) {
  uint16_t port = 0;
  int err = local_port(fd, &port);
  if (err || port) return err;
  amber_vne_lock(t);
  err = real_bind(fd, 0, 0, &port);
  /* Its virtual port is its real one, unless that number is taken in the VNE already. */
  if (!err && !amber_vne_row_of(t, vne, proto, amber.table->vne_ip, port))
    err = record(t, vne, proto, 0, 1, port, port);
  amber_vne_unlock(t);
  return err;
}

int amber_net_dest(int fd, const struct sockaddr *addr, socklen_t len, struct sockaddr_in *real) {
  if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) return 0;
  const struct sockaddr_in *in = (const void *)addr;
  uint32_t ip = in->sin_addr.s_addr;
  int vne;
  struct amber_vne_table *t = vtable(&vne);
  if (!t) return 0;
  if (vne < 0 || !amber_vne_in(&t->defs[vne], ip)) return amber_vne_of_ip(t, ip) >= 0 ? -ENETUNREACH : 0;
  int proto = sock_proto(fd);
  if (!proto) return -ENETUNREACH;
  struct amber_vne_row *row = amber_vne_row_of(t, vne, proto, ip, in->sin_port);
  if (!row) {
    int held = ip == amber.table->vne_ip || amber_vne_claim_of_ip(t, vne, ip);
    return held ? -ECONNREFUSED : -EHOSTUNREACH;
  }
  uint32_t rip = row->rip;
  uint16_t rport = row->rport;
  int err = ensure_source(t, vne, fd, proto);
  if (err) return err;
  memset(real, 0, sizeof *real);
  real->sin_family = AF_INET;
  real->sin_addr.s_addr = rip ? rip : LOOPBACK;
  real->sin_port = rport;
  return 1;
}

/* Whether some computer of the VNE has the real address rip (its peers are worth waiting for). */
static int known_computer(struct amber_vne_table *t, int vne, uint32_t rip) {
  uint32_t high = __atomic_load_n(&t->high, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < high && i < AMBER_VNE_ROWS; i++) {
    struct amber_vne_row *r = &t->rows[i];
    if (r->state == AMBER_ROW_LIVE && r->vne == vne && r->rip == rip) return 1;
  }
  return 0;
}

int amber_net_peer_out(int fd, struct sockaddr_in *addr, socklen_t len) {
  if (len < sizeof *addr || addr->sin_family != AF_INET) return 0;
  int proto = sock_proto(fd);
  uint16_t port = 0;
  if (!proto || local_port(fd, &port) || !bind_of(proto, port)) return 0;
  int vne;
  struct amber_vne_table *t = vtable(&vne);
  if (!t || vne < 0) return 0;
  uint32_t rip = addr->sin_addr.s_addr;
  int loop = (rip & 0xff) == 127;
  struct amber_vne_row *row = amber_vne_row_of_real(t, vne, proto, loop ? 0 : rip, addr->sin_port);
  /* A peer on another computer registered itself there just before it connected; the agent
   * mirrors that here within milliseconds. */
  for (int waited = 0; !row && !loop && waited < PEER_WAIT_MS && known_computer(t, vne, rip);
       waited += 2) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    amber_sys2(SYS_nanosleep, &ts, 0);
    row = amber_vne_row_of_real(t, vne, proto, rip, addr->sin_port);
  }
  if (!row && !loop && known_computer(t, vne, rip))
    amber_log("a peer %08x:%u on a computer of the VNE was not mirrored within %d ms: its real "
              "address is given", rip, addr->sin_port, PEER_WAIT_MS);
  if (!row) return 0;
  addr->sin_addr.s_addr = row->vip;
  addr->sin_port = row->vport;
  return 1;
}

int amber_net_local_out(int fd, struct sockaddr_in *addr, socklen_t len) {
  if (len < sizeof *addr || addr->sin_family != AF_INET) return 0;
  int proto = sock_proto(fd);
  struct amber_vne_bind *b = proto ? bind_of(proto, addr->sin_port) : NULL;
  if (!b) return 0;
  struct sockaddr_in peer;
  socklen_t plen = sizeof peer;
  int connected = amber_sys3(SYS_getpeername, fd, &peer, &plen) == 0;
  addr->sin_addr.s_addr = b->any && !connected ? INADDR_ANY : amber.table->vne_ip;
  addr->sin_port = b->vport;
  return 1;
}

int amber_net_close_begin(int fd, int *proto, uint16_t *rport) {
  *proto = sock_proto(fd);
  if (!*proto || local_port(fd, rport) || !*rport || !bind_of(*proto, *rport)) return 0;
  /* A connection a listener accepted shares the listener's port: its end frees nothing. */
  int listening = 0;
  socklen_t len = sizeof listening;
  struct sockaddr_in peer;
  socklen_t plen = sizeof peer;
  if (*proto == IPPROTO_TCP &&
      amber_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
      !listening && amber_sys3(SYS_getpeername, fd, &peer, &plen) == 0) {
    if (!bind_of(*proto, *rport)->client) return 0;
  }
  return 1;
}

void amber_net_close_end(int proto, uint16_t rport) {
  if (port_busy(proto, rport)) return; /* another descriptor, or a child, still has it */
  struct amber_table *a = amber.table;
  int vne;
  struct amber_vne_table *t = vtable(&vne);
  if (t && vne >= 0) {
    amber_vne_lock(t);
    struct amber_vne_row *row = amber_vne_row_of_real(t, vne, proto, 0, rport);
    if (row && !strncmp(row->app_id, a->app_id, sizeof row->app_id)) amber_vne_row_free(row);
    amber_vne_unlock(t);
  }
  amber_table_lock(a);
  struct amber_vne_bind *b = bind_of(proto, rport);
  if (b) __atomic_store_n(&b->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
  amber_table_unlock(a);
}

int amber_net_resolve(const char *name, uint32_t *vip) {
  char host[sizeof ((struct amber_vne_claim *)0)->hostname];
  size_t n = strnlen(name, sizeof host);
  if (n == 0 || n == sizeof host) return 0;
  memcpy(host, name, n + 1);
  if (host[n - 1] == '.') host[n - 1] = 0; /* a fully qualified name */
  int vne;
  struct amber_vne_table *t = vtable(&vne);
  if (!t || vne < 0) return 0;
  struct amber_vne_claim *c = amber_vne_claim_of_host(t, vne, host);
  if (!c) return 0;
  *vip = c->vip;
  return 1;
}

/* A restored socket whose real port is taken here (a clone of the same image, or the still
 * running original, holds it) takes a port the kernel picks; its virtual address stays, and
 * both registrations (the VNE table's row and the application's bind) follow it. */
int amber_net_rebind(int fd, const struct sockaddr *addr, socklen_t len) {
  if (!amber_net_active() || !addr || len < sizeof(struct sockaddr_in) ||
      addr->sa_family != AF_INET)
    return -EADDRINUSE;
  const struct sockaddr_in *in = (const void *)addr;
  int proto = sock_proto(fd), vne;
  struct amber_vne_bind *b = proto ? bind_of(proto, in->sin_port) : NULL;
  struct amber_vne_table *t = b ? vtable(&vne) : NULL;
  if (!t || vne < 0) return -EADDRINUSE; /* not an address of the VNE: the port was the program's */
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr = in->sin_addr};
  uint16_t rport = 0;
  long r = amber_sys3(SYS_bind, fd, &any, sizeof any);
  if (r < 0 || (r = local_port(fd, &rport)) < 0) return (int)r;
  struct amber_table *a = amber.table;
  amber_vne_lock(t);
  struct amber_vne_row *row = amber_vne_row_of(t, vne, proto, a->vne_ip, b->vport);
  if (row && !strncmp(row->app_id, a->app_id, sizeof row->app_id)) {
    row->rport = rport;
    row->pid = amber_sys_getpid();
  }
  amber_vne_unlock(t);
  amber_table_lock(a);
  b->rport = rport;
  amber_table_unlock(a);
  return 0;
}
