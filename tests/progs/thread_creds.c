/* Credentials a thread changed for itself alone: a raw setresuid/setresgid (glibc's change
 * every thread; Samba's per-thread impersonation calls the kernel directly) and setfsuid
 * (per thread in glibc too). The kernel keeps credentials per thread.
 *
 *   thread_creds DIR   as root: one thread takes euid/egid 65534 (its effective capabilities
 *                      gone), another fsuid 1000; says "ready", waits for DIR/go, each thread
 *                      checks its own and the main thread still root; prints PASS. */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static const char *dir;
static pthread_barrier_t set_up;

static void *impersonate(void *arg) {
  (void)arg;
  CHECK(syscall(SYS_setresgid, -1, 65534, -1) == 0, "setresgid: errno %d", errno);
  CHECK(syscall(SYS_setresuid, -1, 65534, -1) == 0, "setresuid: errno %d", errno);
  pthread_barrier_wait(&set_up);
  wait_go(dir);
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  CHECK(r == 0 && e == 65534 && s == 0, "the impersonating thread's uids are %d %d %d, not 0 65534 0",
        (int)r, (int)e, (int)s);
  CHECK(gr == 0 && ge == 65534 && gs == 0, "its gids are %d %d %d, not 0 65534 0", (int)gr,
        (int)ge, (int)gs);
  CHECK(setfsuid(-1) == 65534, "its fsuid is %d, not 65534", setfsuid(-1));
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2];
  CHECK(syscall(SYS_capget, &head, caps) == 0, "capget");
  CHECK(!caps[0].effective && !caps[1].effective && caps[0].permitted,
        "its effective capabilities are %x (none as euid 65534), permitted %x",
        caps[0].effective, caps[0].permitted);
  return NULL;
}

static void *file_user(void *arg) {
  (void)arg;
  setfsuid(1000);
  CHECK(setfsuid(-1) == 1000, "setfsuid");
  pthread_barrier_wait(&set_up);
  wait_go(dir);
  CHECK(setfsuid(-1) == 1000, "the file thread's fsuid is %d, not 1000", setfsuid(-1));
  CHECK(geteuid() == 0, "the file thread's euid is %d, not 0", (int)geteuid());
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: thread_creds DIR");
  CHECK(getuid() == 0, "runs as root");
  dir = argv[1];
  pthread_barrier_init(&set_up, NULL, 3);
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, impersonate, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&b, NULL, file_user, NULL) == 0, "pthread_create");
  pthread_barrier_wait(&set_up);
  CHECK(geteuid() == 0 && getegid() == 0 && setfsuid(-1) == 0, "the main thread changed too");
  say_ready();
  wait_go(dir);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK(geteuid() == 0 && getegid() == 0 && setfsuid(-1) == 0, "the main thread is no longer root");
  printf("PASS\n");
  return 0;
}
