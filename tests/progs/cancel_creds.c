/* A sendmsg with SCM_CREDENTIALS and more control data than the library's stack copy holds
 * (creds_copy.c maps memory for it), cancelled while it blocks on a full socket, 200 times:
 * the process's address space does not grow by the copies (a page each, before the fix).
 *
 *   cancel_creds */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define RIGHTS 60 /* with the credentials, 288 bytes of control data: more than 256 */

static int sender;

static long vm_size_kib(void) {
  char text[4096];
  FILE *f = fopen("/proc/self/status", "r");
  CHECK(f, "open status");
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  char *p = strstr(text, "VmSize:");
  CHECK(p, "no VmSize");
  return strtol(p + 7, NULL, 10);
}

static void *send_blocked(void *arg) {
  (void)arg;
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(RIGHTS * sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                     .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred creds = {getpid(), getuid(), getgid()};
  memcpy(CMSG_DATA(c), &creds, sizeof creds);
  c = CMSG_NXTHDR(&m, c);
  c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(RIGHTS * sizeof(int));
  for (int i = 0; i < RIGHTS; i++) ((int *)CMSG_DATA(c))[i] = 0;
  sendmsg(sender, &m, 0); /* blocks: the receiver's queue is full */
  return NULL;
}

int main(void) {
  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) == 0, "socketpair");
  sender = pair[0];
  int on = 1;
  CHECK(setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
  while (send(sender, "fill", 4, MSG_DONTWAIT) == 4) {}
  CHECK(errno == EAGAIN, "filling: errno %d", errno);
  long before = 0;
  for (int i = 0; i < 200; i++) {
    if (i == 10) before = vm_size_kib(); /* after the first threads' stacks are cached */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, send_blocked, NULL) == 0, "pthread_create");
    usleep(1000);
    CHECK(pthread_cancel(t) == 0 && pthread_join(t, NULL) == 0, "cancel");
  }
  long grown = vm_size_kib() - before;
  CHECK(grown < 300, "the address space grew by %ld KiB over 190 cancelled sends", grown);
  printf("PASS\n");
  return 0;
}
