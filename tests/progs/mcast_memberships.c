/* Multicast group memberships through a restore (the kernel lists none per socket: the library
 * notes them, preload/wrappers/mcast_note.c). Usage: mcast_memberships DIR keep|churn|mismatch|filter.
 * keep: one UDP socket joins 239.7.7.7 on lo by index (libc), joins 239.7.7.8 by address and
 * drops it again, joins 239.7.7.9 from source 127.0.0.1 only, joins 239.7.7.10 and blocks
 * 127.0.0.1 (MCAST_ group_req forms), joins 239.7.7.11 by a raw system call (the seccomp trap),
 * and a forked child joins 239.7.7.12 on the inherited socket and exits; an IPv6 socket joins ff15::7
 * on lo, joins then leaves ff15::8, and joins ff15::9 on lo and leaves it naming no interface.
 * After the restore (DIR/go): datagrams sent from 127.0.0.1 to 7, 9, 11 and 12 arrive, to 8
 * (dropped) and 10 (blocked source) do not, a second join of 10 and of ff15::7 finds them
 * joined (EADDRINUSE) and one of ff15::8 and ff15::9 does not. Every membership is on lo: a
 * join naming no interface would take the route's, a real network's.
 * churn: first 300 sockets each join a group and are closed (more than the tables hold: the
 * entries of closed sockets must make room), then as keep.
 * mismatch: a group joined by interface address and left by interface index (the kernel
 * takes it, the library cannot tell which join it undid): its snapshot must be refused.
 * filter: a socket whose source filter was set whole (setsourcefilter: MCAST_MSFILTER), which
 * Amber cannot make again: its snapshot must be refused; the program ticks until DIR/go. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static unsigned lo;
static int port, sender;

static struct in_addr a4(const char *s) {
  struct in_addr a;
  inet_pton(AF_INET, s, &a);
  return a;
}

static struct sockaddr_storage group4(const char *s) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  sin->sin_family = AF_INET, sin->sin_addr = a4(s);
  return ss;
}

/* Whether a datagram sent from 127.0.0.1 to group:port reaches r. */
static int arrives(int r, const char *group) {
  char buf[64];
  while (recv(r, buf, sizeof buf, MSG_DONTWAIT) >= 0) {} /* nothing left from before */
  /* Nothing leaves the machine: the sender's interface is lo and its TTL 0 (a restore that lost
   * them fails here, before a datagram could go out on the route's interface). */
  struct in_addr via;
  int ttl = -1;
  socklen_t len = sizeof via, tlen = sizeof ttl;
  CHECK(!getsockopt(sender, IPPROTO_IP, IP_MULTICAST_IF, &via, &len) &&
            via.s_addr == htonl(INADDR_LOOPBACK),
        "the sender's multicast interface is not 127.0.0.1 any more");
  CHECK(!getsockopt(sender, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, &tlen) && ttl == 0,
        "the sender's multicast TTL is %d, not 0", ttl);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a4(group)};
  CHECK(sendto(sender, group, strlen(group), 0, (struct sockaddr *)&to, sizeof to) > 0,
        "send to %s: %s", group, strerror(errno));
  struct pollfd p = {.fd = r, .events = POLLIN};
  for (;;) {
    if (poll(&p, 1, 300) <= 0) return 0;
    ssize_t n = recv(r, buf, sizeof buf - 1, 0);
    if (n < 0) return 0;
    buf[n] = 0;
    if (!strcmp(buf, group)) return 1;
  }
}

static void expect(int r, const char *group, int yes, const char *when) {
  CHECK(arrives(r, group) == yes, "%s: a datagram to %s %s", when, group,
        yes ? "did not arrive" : "arrived");
}

static int join6(int s, const char *group) {
  struct ipv6_mreq m = {.ipv6mr_interface = lo};
  inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
  return setsockopt(s, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m) ? errno : 0;
}

static void checks(int r, const char *when) {
  expect(r, "239.7.7.7", 1, when);
  expect(r, "239.7.7.8", 0, when);
  expect(r, "239.7.7.9", 1, when);
  expect(r, "239.7.7.10", 0, when);
  expect(r, "239.7.7.11", 1, when);
  expect(r, "239.7.7.12", 1, when);
}

static int keep(const char *dir) {
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in any = {.sin_family = AF_INET};
  socklen_t len = sizeof any;
  CHECK(bind(r, (struct sockaddr *)&any, sizeof any) == 0 &&
            getsockname(r, (struct sockaddr *)&any, &len) == 0,
        "bind: %s", strerror(errno));
  port = ntohs(any.sin_port);

  struct ip_mreqn byindex = {.imr_multiaddr = a4("239.7.7.7"), .imr_ifindex = (int)lo};
  CHECK(!setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &byindex, sizeof byindex), "join 7: %s", strerror(errno));
  struct ip_mreq byaddr = {.imr_multiaddr = a4("239.7.7.8"), .imr_interface = a4("127.0.0.1")};
  CHECK(!setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &byaddr, sizeof byaddr), "join 8: %s", strerror(errno));
  CHECK(!setsockopt(r, IPPROTO_IP, IP_DROP_MEMBERSHIP, &byaddr, sizeof byaddr), "drop 8: %s", strerror(errno));
  struct ip_mreq_source src = {.imr_multiaddr = a4("239.7.7.9"), .imr_interface = a4("127.0.0.1"),
                               .imr_sourceaddr = a4("127.0.0.1")};
  CHECK(!setsockopt(r, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &src, sizeof src), "join 9: %s", strerror(errno));
  struct group_source_req block = {.gsr_interface = lo, .gsr_group = group4("239.7.7.10"),
                                   .gsr_source = group4("127.0.0.1")};
  struct group_req ten = {.gr_interface = lo, .gr_group = group4("239.7.7.10")};
  CHECK(!setsockopt(r, IPPROTO_IP, MCAST_JOIN_GROUP, &ten, sizeof ten), "join 10: %s", strerror(errno));
  CHECK(!setsockopt(r, IPPROTO_IP, MCAST_BLOCK_SOURCE, &block, sizeof block), "block: %s", strerror(errno));
  struct ip_mreqn raw = {.imr_multiaddr = a4("239.7.7.11"), .imr_ifindex = (int)lo};
  CHECK(!syscall(SYS_setsockopt, r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &raw, sizeof raw), "raw join 11: %s", strerror(errno));
  pid_t child = fork();
  if (child == 0) {
    struct ip_mreqn twelve = {.imr_multiaddr = a4("239.7.7.12"), .imr_ifindex = (int)lo};
    _exit(setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &twelve, sizeof twelve) ? 1 : 0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status), "child's join");

  int r6 = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK(r6 >= 0, "IPv6 socket: %s", strerror(errno));
  CHECK(join6(r6, "ff15::7") == 0, "join ff15::7");
  struct group_req eight = {.gr_interface = lo};
  struct sockaddr_in6 *g6 = (struct sockaddr_in6 *)&eight.gr_group;
  g6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff15::8", &g6->sin6_addr);
  CHECK(!setsockopt(r6, IPPROTO_IPV6, MCAST_JOIN_GROUP, &eight, sizeof eight), "join ff15::8: %s", strerror(errno));
  CHECK(!setsockopt(r6, IPPROTO_IPV6, MCAST_LEAVE_GROUP, &eight, sizeof eight), "leave ff15::8: %s", strerror(errno));
  CHECK(join6(r6, "ff15::9") == 0, "join ff15::9");
  struct ipv6_mreq nine = {.ipv6mr_interface = 0}; /* left naming no interface */
  inet_pton(AF_INET6, "ff15::9", &nine.ipv6mr_multiaddr);
  CHECK(!setsockopt(r6, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, &nine, sizeof nine), "leave ff15::9: %s", strerror(errno));

  checks(r, "before the snapshot");
  say_ready();
  wait_go(dir);
  checks(r, "after the restore");
  CHECK(setsockopt(r, IPPROTO_IP, MCAST_JOIN_GROUP, &ten, sizeof ten) && errno == EADDRINUSE,
        "239.7.7.10 is not joined any more");
  CHECK(join6(r6, "ff15::7") == EADDRINUSE, "ff15::7 is not joined any more");
  CHECK(join6(r6, "ff15::8") == 0, "ff15::8, dropped, is joined again");
  CHECK(join6(r6, "ff15::9") == 0, "ff15::9, dropped, is joined again");
  printf("PASS\n");
  return 0;
}

static int filter(const char *dir) {
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_storage g = group4("239.7.7.13"), s = group4("127.0.0.1");
  struct group_req j = {.gr_interface = lo, .gr_group = g};
  CHECK(!setsockopt(r, IPPROTO_IP, MCAST_JOIN_GROUP, &j, sizeof j), "join 13: %s", strerror(errno));
  CHECK(!setsourcefilter(r, lo, (struct sockaddr *)&g, sizeof(struct sockaddr_in), MCAST_INCLUDE, 1, &s),
        "setsourcefilter: %s", strerror(errno));
  tick_until_go(dir);
  printf("PASS\n");
  return 0;
}

static void churn(void) {
  for (int i = 0; i < 300; i++) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct ip_mreqn m = {.imr_multiaddr = a4("239.7.7.14"), .imr_ifindex = (int)lo};
    CHECK(s >= 0 && !bind(s, (struct sockaddr *)&any, sizeof any) &&
              !setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m),
          "churn %d: %s", i, strerror(errno));
    close(s);
  }
}

static int mismatch(const char *dir) {
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct ip_mreq byaddr = {.imr_multiaddr = a4("239.7.7.16"), .imr_interface = a4("127.0.0.1")};
  CHECK(!setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &byaddr, sizeof byaddr), "join 16: %s", strerror(errno));
  struct group_req byindex = {.gr_interface = lo, .gr_group = group4("239.7.7.16")};
  CHECK(!setsockopt(r, IPPROTO_IP, MCAST_LEAVE_GROUP, &byindex, sizeof byindex), "leave 16: %s", strerror(errno));
  tick_until_go(dir);
  printf("PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 3, "usage: mcast_memberships DIR keep|churn|mismatch|filter");
  lo = if_nametoindex("lo");
  sender = socket(AF_INET, SOCK_DGRAM, 0);
  struct in_addr local = a4("127.0.0.1");
  CHECK(!setsockopt(sender, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof local), "IP_MULTICAST_IF: %s", strerror(errno));
  int zero = 0; /* delivered on this machine only */
  CHECK(!setsockopt(sender, IPPROTO_IP, IP_MULTICAST_TTL, &zero, sizeof zero), "IP_MULTICAST_TTL: %s", strerror(errno));
  if (!strcmp(argv[2], "filter")) return filter(argv[1]);
  if (!strcmp(argv[2], "mismatch")) return mismatch(argv[1]);
  if (!strcmp(argv[2], "churn")) churn();
  return keep(argv[1]);
}
