/* Multicast group memberships: the kernel keeps them per socket but lists them only per
 * interface (/proc/net/igmp, igmp6, mcfilter), so nothing can read back which socket joined
 * what. The library notes every change the kernel accepted, from libc's setsockopt
 * (wrap_sockopt.c) or a raw call (kernel/trap_creds.c, trapped by the seccomp filter), in the
 * application's tables by the socket's SO_COOKIE, which every process holding the socket sees
 * (a membership is the socket's, not the process's: a forked child's join on an inherited
 * socket, or one made before the joiner exited, is kept by whoever saves the socket).
 *
 * Joins, source joins and blocked sources are each one entry, in the order they were made;
 * a leave takes its join away with the group's sources, a source leave or unblock its entry.
 * What cannot be made again exactly is noted too, for the snapshot to refuse naming it: a
 * whole source filter (IP_MSFILTER, MCAST_MSFILTER), or a leave that matches no noted join
 * (a group joined by interface address and left by interface index), or a value Amber could
 * not read. */
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "../fds/fd_kinds.h"
#include "mcast_note.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#define V6_MULTICAST_ALL 29 /* IPV6_MULTICAST_ALL, not in every libc's headers */

enum op { NONE, SET, JOIN, LEAVE, SJOIN, SLEAVE, BLOCK, UNBLOCK, FILTER };

static enum op op_of(int level, int name) {
  if (level == IPPROTO_IP) switch (name) {
    case IP_MULTICAST_IF: case IP_MULTICAST_ALL: return SET;
    case IP_ADD_MEMBERSHIP: return JOIN;
    case IP_DROP_MEMBERSHIP: return LEAVE;
    case IP_ADD_SOURCE_MEMBERSHIP: return SJOIN;
    case IP_DROP_SOURCE_MEMBERSHIP: return SLEAVE;
    case IP_BLOCK_SOURCE: return BLOCK;
    case IP_UNBLOCK_SOURCE: return UNBLOCK;
    case IP_MSFILTER: return FILTER;
    }
  if (level == IPPROTO_IPV6) switch (name) {
    case IPV6_MULTICAST_IF: case V6_MULTICAST_ALL: return SET;
    case IPV6_ADD_MEMBERSHIP: case IPV6_JOIN_ANYCAST: return JOIN;
    case IPV6_DROP_MEMBERSHIP: case IPV6_LEAVE_ANYCAST: return LEAVE;
    }
  if (level == IPPROTO_IP || level == IPPROTO_IPV6) switch (name) {
    case MCAST_JOIN_GROUP: return JOIN;
    case MCAST_LEAVE_GROUP: return LEAVE;
    case MCAST_JOIN_SOURCE_GROUP: return SJOIN;
    case MCAST_LEAVE_SOURCE_GROUP: return SLEAVE;
    case MCAST_BLOCK_SOURCE: return BLOCK;
    case MCAST_UNBLOCK_SOURCE: return UNBLOCK;
    case MCAST_MSFILTER: return FILTER;
    }
  return NONE;
}

int amber_mcast_option(int level, int name) { return op_of(level, name) != NONE; }

/* A membership change's group, interface and source, as its value names them. */
enum { IF_ANY, IF_INDEX, IF_ADDR };
struct key {
  int family, has_source, iface_kind, index_off;
  uint32_t iface;
  uint8_t group[16], source[16];
};

static uint32_t u32_at(const uint8_t *v, int off) {
  uint32_t x;
  memcpy(&x, v + off, 4);
  return x;
}

/* A sockaddr_storage at v + off: its address into out (4 or 16 bytes); its family or 0. */
static int sockaddr_at(const uint8_t *v, int off, uint8_t *out) {
  sa_family_t f;
  memcpy(&f, v + off, sizeof f);
  if (f == AF_INET) memcpy(out, v + off + offsetof(struct sockaddr_in, sin_addr), 4);
  else if (f == AF_INET6) memcpy(out, v + off + offsetof(struct sockaddr_in6, sin6_addr), 16);
  else return 0;
  return f;
}

static void iface_index(struct key *k, uint32_t index, int off) {
  k->iface_kind = index ? IF_INDEX : IF_ANY, k->iface = index, k->index_off = index ? off : -1;
}

static void iface_addr(struct key *k, uint32_t addr) {
  k->iface_kind = addr ? IF_ADDR : IF_ANY, k->iface = addr;
}

/* 0, or -1 when the value is not one this option takes (the kernel would have refused it). */
static int parse(int level, int name, const uint8_t *v, uint32_t len, struct key *k) {
  memset(k, 0, sizeof *k);
  k->index_off = -1;
  if (name >= MCAST_JOIN_GROUP && name <= MCAST_LEAVE_SOURCE_GROUP) {
    int source = name != MCAST_JOIN_GROUP && name != MCAST_LEAVE_GROUP;
    if (len < (source ? sizeof(struct group_source_req) : sizeof(struct group_req))) return -1;
    k->family = sockaddr_at(v, offsetof(struct group_req, gr_group), k->group);
    iface_index(k, u32_at(v, 0), 0);
    if (source && sockaddr_at(v, offsetof(struct group_source_req, gsr_source), k->source) !=
                      k->family)
      return -1;
    k->has_source = source;
    return k->family ? 0 : -1;
  }
  if (level == IPPROTO_IPV6) { /* struct ipv6_mreq */
    if (len < sizeof(struct ipv6_mreq)) return -1;
    k->family = AF_INET6;
    memcpy(k->group, v, 16);
    iface_index(k, u32_at(v, offsetof(struct ipv6_mreq, ipv6mr_interface)),
                offsetof(struct ipv6_mreq, ipv6mr_interface));
    return 0;
  }
  k->family = AF_INET;
  if (name == IP_ADD_MEMBERSHIP || name == IP_DROP_MEMBERSHIP) { /* ip_mreq or ip_mreqn */
    if (len < sizeof(struct ip_mreq)) return -1;
    memcpy(k->group, v, 4);
    uint32_t index = len >= sizeof(struct ip_mreqn) ? u32_at(v, offsetof(struct ip_mreqn, imr_ifindex)) : 0;
    if (index) iface_index(k, index, offsetof(struct ip_mreqn, imr_ifindex));
    else iface_addr(k, u32_at(v, 4));
    return 0;
  }
  if (len < sizeof(struct ip_mreq_source)) return -1; /* the source ones */
  memcpy(k->group, v + offsetof(struct ip_mreq_source, imr_multiaddr), 4);
  iface_addr(k, u32_at(v, offsetof(struct ip_mreq_source, imr_interface)));
  memcpy(k->source, v + offsetof(struct ip_mreq_source, imr_sourceaddr), 4);
  k->has_source = 1;
  return 0;
}

static int same_group(const struct key *a, const struct key *b) {
  return a->family == b->family && !memcmp(a->group, b->group, a->family == AF_INET ? 4 : 16);
}

static int same_iface(const struct key *a, const struct key *b) {
  return a->iface_kind == b->iface_kind && a->iface == b->iface;
}

uint64_t amber_mcast_cookie(int fd) {
  uint64_t c = 0;
  socklen_t len = sizeof c;
  return amber_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_COOKIE, &c, &len) ? 0 : c;
}

/* The entry at i taken out, the later ones moved down: the order is the order of the calls. */
static void drop(struct amber_table *t, uint32_t i) {
  memmove(&t->mcast[i], &t->mcast[i + 1], (t->nmcast - i - 1) * sizeof t->mcast[0]);
  t->nmcast--;
}

/* A socket's noted changes outlive it (the kernel says nothing when its last holder closes
 * it): when the entries run out, those of sockets the kernel no longer has go. A socket lives
 * on while a process of the application holds it (its inode among their descriptors, which
 * sees unbound ones too: a sender's IP_MULTICAST_IF) or the kernel lists it among the UDP
 * sockets (sock_diag, by cookie: one in flight in a Unix socket's message, bound). When a
 * process's descriptors cannot be read, nothing is taken. */
struct live {
  struct amber_table *t;
  uint8_t alive[AMBER_MCAST_MAX];
};

static int mark_live(const struct nlmsghdr *h, void *ctx) {
  struct live *l = ctx;
  const struct inet_diag_msg *m = NLMSG_DATA(h);
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m)) return 0;
  uint64_t cookie = m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
  for (uint32_t i = 0; i < l->t->nmcast; i++)
    if (l->t->mcast[i].cookie == cookie) l->alive[i] = 1;
  return 0;
}

static void mark_held(struct live *l, int dir, const char *name) {
  char link[64];
  long n = amber_sys4(SYS_readlinkat, dir, name, link, sizeof link - 1);
  if (n < 9 || memcmp(link, "socket:[", 8)) return;
  uint64_t ino = 0;
  for (long i = 8; i < n && link[i] >= '0' && link[i] <= '9'; i++) ino = ino * 10 + (uint64_t)(link[i] - '0');
  for (uint32_t i = 0; i < l->t->nmcast; i++)
    if (l->t->mcast[i].ino == ino) l->alive[i] = 1;
}

/* 0, or -1 when a process's descriptors could not be listed. */
static int held(struct live *l) {
  static char dents[4096]; /* under the table's lock */
  struct amber_table *t = l->t;
  for (uint32_t slot = 0; slot < t->high[AMBER_KIND_PID] && slot < AMBER_TABLE_ROWS; slot++) {
    const struct amber_row *r = &t->rows[AMBER_KIND_PID][slot];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS) || r->sid <= 0) continue;
    char path[32];
    amber_fmt(path, sizeof path, "/proc/%d/fd", r->sid);
    int dir = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir == -ENOENT || dir == -ESRCH) continue; /* gone: holds nothing */
    if (dir < 0) return -1;
    long n;
    while ((n = amber_sys3(SYS_getdents64, dir, dents, sizeof dents)) > 0)
      for (long off = 0; off < n;) {
        struct amber_dirent64 *d = (void *)(dents + off);
        off += d->reclen;
        if (d->name[0] != '.') mark_held(l, dir, d->name);
      }
    amber_sys1(SYS_close, dir);
    if (n < 0) return -1;
  }
  return 0;
}

static void collect(struct amber_table *t) {
  static struct live l; /* under the table's lock */
  memset(&l, 0, sizeof l);
  l.t = t;
  if (held(&l)) return;
  int sock = -1;
  static const uint8_t families[] = {AF_INET, AF_INET6}, protocols[] = {IPPROTO_UDP, IPPROTO_UDPLITE};
  for (int f = 0; f < 2; f++)
    for (int p = 0; p < 2; p++) {
      struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
      } q;
      memset(&q, 0, sizeof q);
      q.r.sdiag_family = families[f], q.r.sdiag_protocol = protocols[p], q.r.idiag_states = ~0u;
      uint32_t seq = (uint32_t)(f * 2 + p + 1);
      long err = amber_sock_diag_send(&sock, &q.h, sizeof q, NLM_F_DUMP, seq);
      if (!err || err > 0) err = amber_sock_diag_each(sock, seq, mark_live, &l);
      (void)err; /* without the list, only the held sockets' entries stay */
    }
  if (sock >= 0) amber_sys1(SYS_close, sock);
  for (uint32_t i = t->nmcast; i-- > 0;)
    if (!l.alive[i]) drop(t, i);
}

static struct amber_mcast_rec *add(struct amber_table *t) {
  if (t->nmcast >= AMBER_MCAST_MAX) collect(t);
  if (t->nmcast >= AMBER_MCAST_MAX) {
    t->mcast_full = 1;
    return NULL;
  }
  struct amber_mcast_rec *m = &t->mcast[t->nmcast++];
  memset(m, 0, sizeof *m);
  m->ifindex_off = -1;
  return m;
}

/* Whether entry i is a membership change of the cookie's socket in k's group: its key in e. */
static int of_group(const struct amber_table *t, uint32_t i, uint64_t cookie, const struct key *k,
                    struct key *e) {
  const struct amber_mcast_rec *m = &t->mcast[i];
  enum op o = op_of(m->level, m->name);
  return m->cookie == cookie && !m->unkept && o != SET && o != FILTER &&
         !parse(m->level, m->name, m->val, m->len, e) && same_group(e, k);
}

/* An IPv6 leave that names no interface takes the group's membership the kernel finds first
 * in the socket's list, where each new one goes in front: the one made last (its interface's
 * first entry is the latest such). Its key into `out`; 0 if the group has none. (IPv4's takes
 * the interface of the route to the group, as its join on no interface did: matched as named.) */
static int latest_membership(const struct amber_table *t, uint64_t cookie, const struct key *k,
                             struct key *out) {
  int found = 0;
  for (uint32_t i = 0; i < t->nmcast; i++) {
    struct key e, before;
    if (!of_group(t, i, cookie, k, &e)) continue;
    int first = 1;
    for (uint32_t j = 0; j < i && first; j++)
      if (of_group(t, j, cookie, k, &before) && same_iface(&before, &e)) first = 0;
    if (first) *out = e, found = 1;
  }
  return found;
}

/* Removes the cookie's entries that `undo` takes away; how many. */
static int undo(struct amber_table *t, uint64_t cookie, enum op undo_op, const struct key *k) {
  struct key iface = *k;
  if (undo_op == LEAVE && k->family == AF_INET6 && k->iface_kind == IF_ANY &&
      !latest_membership(t, cookie, k, &iface))
    return 0;
  int n = 0;
  for (uint32_t i = 0; i < t->nmcast;) {
    struct key e;
    enum op o = op_of(t->mcast[i].level, t->mcast[i].name);
    int match = of_group(t, i, cookie, k, &e) && same_iface(&e, &iface);
    if (match && undo_op == SLEAVE) match = o == SJOIN && !memcmp(e.source, k->source, 16);
    if (match && undo_op == UNBLOCK) match = o == BLOCK && !memcmp(e.source, k->source, 16);
    if (match) {
      drop(t, i);
      n++;
    } else {
      i++;
    }
  }
  return n;
}

static void note_locked(struct amber_table *t, uint64_t cookie, int fd, int level, int name,
                        const uint8_t *v, uint32_t len) {
  enum op o = op_of(level, name);
  struct key k;
  struct amber_mcast_rec *m = NULL;
  if (o == SET) {
    for (uint32_t i = 0; i < t->nmcast && !m; i++)
      if (t->mcast[i].cookie == cookie && t->mcast[i].level == level && t->mcast[i].name == name)
        m = &t->mcast[i];
    if (!m) m = add(t);
    if (!m) return;
    memset(m, 0, sizeof *m);
    m->ifindex_off = -1;
    k.index_off = -1;
    if (name == IP_MULTICAST_IF && len >= sizeof(struct ip_mreqn))
      k.index_off = offsetof(struct ip_mreqn, imr_ifindex);
    if (level == IPPROTO_IPV6 && name == IPV6_MULTICAST_IF && len >= 4) k.index_off = 0;
    if (k.index_off >= 0 && !u32_at(v, k.index_off)) k.index_off = -1;
  } else if (o == FILTER || parse(level, name, v, len, &k)) {
    if (!(m = add(t))) return;
    m->unkept = o == FILTER ? AMBER_MCAST_FILTER : AMBER_MCAST_UNREAD;
    k.index_off = -1;
  } else if (o == LEAVE || o == SLEAVE || o == UNBLOCK) {
    if (undo(t, cookie, o, &k)) return;
    if (!(m = add(t))) return;
    m->unkept = AMBER_MCAST_UNMATCHED; /* its interface's name kept, for the message */
  } else if (!(m = add(t))) {
    return;
  }
  struct stat st;
  m->cookie = cookie, m->level = level, m->name = name;
  m->ino = amber_sys2(SYS_fstat, fd, &st) == 0 ? st.st_ino : 0;
  m->len = len < AMBER_MCAST_VAL ? len : AMBER_MCAST_VAL;
  memcpy(m->val, v, m->len);
  if (k.index_off >= 0 && (uint32_t)k.index_off + 4 <= m->len) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_ifindex = (int)u32_at(v, k.index_off);
    if (amber_sys3(SYS_ioctl, fd, SIOCGIFNAME, &ifr) == 0) {
      m->ifindex_off = k.index_off;
      memcpy(m->ifname, ifr.ifr_name, sizeof m->ifname - 1);
    }
  }
}

void amber_mcast_note(int fd, int level, int name, const void *val, uint32_t len) {
  if (!amber_active() || !val || op_of(level, name) == NONE) return;
  uint64_t cookie = amber_mcast_cookie(fd);
  struct amber_table *t = amber.table;
  amber_enter();
  amber_table_lock(t);
  if (!cookie) t->mcast_full = 1; /* cannot be told apart from other sockets: not kept */
  else note_locked(t, cookie, fd, level, name, val, len);
  amber_table_unlock(t);
  amber_leave();
}

static const char *option_name(int level, int name) {
  static const char *const ip[] = {"IP_MULTICAST_IF", "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP",
                                   "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP", "IP_UNBLOCK_SOURCE",
                                   "IP_BLOCK_SOURCE", "IP_ADD_SOURCE_MEMBERSHIP",
                                   "IP_DROP_SOURCE_MEMBERSHIP", "IP_MSFILTER"};
  static const char *const mcast[] = {"MCAST_JOIN_GROUP", "MCAST_BLOCK_SOURCE",
                                      "MCAST_UNBLOCK_SOURCE", "MCAST_LEAVE_GROUP",
                                      "MCAST_JOIN_SOURCE_GROUP", "MCAST_LEAVE_SOURCE_GROUP",
                                      "MCAST_MSFILTER"};
  if (name >= MCAST_JOIN_GROUP && name <= MCAST_MSFILTER) return mcast[name - MCAST_JOIN_GROUP];
  if (level == IPPROTO_IP && name >= IP_MULTICAST_IF && name <= IP_MSFILTER)
    return ip[name - IP_MULTICAST_IF];
  if (level == IPPROTO_IP && name == IP_MULTICAST_ALL) return "IP_MULTICAST_ALL";
  if (level == IPPROTO_IPV6 && name == IPV6_ADD_MEMBERSHIP) return "IPV6_ADD_MEMBERSHIP";
  if (level == IPPROTO_IPV6 && name == IPV6_DROP_MEMBERSHIP) return "IPV6_DROP_MEMBERSHIP";
  if (level == IPPROTO_IPV6 && name == IPV6_MULTICAST_IF) return "IPV6_MULTICAST_IF";
  if (level == IPPROTO_IPV6 && name == IPV6_JOIN_ANYCAST) return "IPV6_JOIN_ANYCAST";
  if (level == IPPROTO_IPV6 && name == IPV6_LEAVE_ANYCAST) return "IPV6_LEAVE_ANYCAST";
  return "IPV6_MULTICAST_ALL";
}

/* Appends to out[cap] at *n, never past its end. */
#define APPEND(...)                                                                           \
  do {                                                                                        \
    *n += amber_fmt(out + *n, (int)(cap - (uint32_t)*n), __VA_ARGS__);                        \
    if ((uint32_t)*n >= cap) *n = (int)cap - 1;                                               \
  } while (0)

static void addr_text(int family, const uint8_t *a, char *out, uint32_t cap, int *n) {
  if (family == AF_INET) APPEND("%d.%d.%d.%d", a[0], a[1], a[2], a[3]);
  for (int i = 0; family == AF_INET6 && i < 16; i += 2)
    APPEND("%s%x", i ? ":" : "", (unsigned)((a[i] << 8) | a[i + 1]));
}

void amber_mcast_describe(const struct amber_mcast_rec *m, char *out, uint32_t cap) {
  struct key k;
  int at = 0, *n = &at;
  APPEND("%s", option_name(m->level, m->name));
  enum op o = op_of(m->level, m->name);
  if (o == SET || o == FILTER || parse(m->level, m->name, m->val, m->len, &k)) return;
  APPEND(" group ");
  addr_text(k.family, k.group, out, cap, n);
  if (k.has_source) {
    APPEND(" source ");
    addr_text(k.family, k.source, out, cap, n);
  }
  if (k.iface_kind == IF_INDEX) APPEND(" on interface %d %s", (int)k.iface, m->ifname);
  const uint8_t *a = (const uint8_t *)&k.iface;
  if (k.iface_kind == IF_ADDR) APPEND(" on the interface of %d.%d.%d.%d", a[0], a[1], a[2], a[3]);
}
