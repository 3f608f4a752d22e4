/* A message-queue round trip between two processes of one application, by virtual ID: the
 * parent sends "ping" (type 1), the child answers "pong" (type 2), each blocking in msgrcv
 * until the other has sent. msg_lspid and msg_lrpid read as virtual pids on both sides.
 *
 *   sysv_msg [GO_FILE]
 * prints "ids msg=<msqid>" and "READY" while three messages wait in the queue and a child is
 * blocked in msgrcv, then (with GO_FILE) waits up to 60 s for that file to exist, so that a test
 * can look at the system, snapshot or restore meanwhile. Then it wakes the child (which must not
 * have seen EINTR), checks that the three messages come out in order, removes the queue and
 * prints "PASS". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define VIPC_BASE 1000000
#define VPID_BASE 4200000
#define UNKNOWN_ID 1000999

struct message {
  long type;
  char text[64];
};

static void send_text(int msqid, long type, const char *text) {
  struct message m = {.type = type};
  snprintf(m.text, sizeof m.text, "%s", text);
  CHECK(msgsnd(msqid, &m, strlen(m.text) + 1, 0) == 0, "msgsnd type %ld: errno %d", type, errno);
}

static void receive_text(int msqid, long type, const char *expected) {
  struct message m;
  ssize_t n;
  while ((n = msgrcv(msqid, &m, sizeof m.text, type, 0)) < 0 && errno == EINTR) {}
  CHECK(n > 0, "msgrcv type %ld: errno %d", type, errno);
  CHECK(m.type == type && strcmp(m.text, expected) == 0, "received type %ld '%s', expected '%s'",
        m.type, m.text, expected);
}

/* The next message, whatever its type, without waiting: it must be this one. */
static void receive_now(int msqid, long type, const char *expected) {
  struct message m;
  ssize_t n = msgrcv(msqid, &m, sizeof m.text, 0, IPC_NOWAIT);
  CHECK(n > 0, "msgrcv (expecting type %ld): errno %d", type, errno);
  CHECK(m.type == type && strcmp(m.text, expected) == 0,
        "received type %ld '%s', expected type %ld '%s'", m.type, m.text, type, expected);
}

static int msqid = -1;

/* SysV objects outlive processes: a failed check must not leave them behind. */
static void remove_queue(void) {
  if (msqid >= 0) msgctl(msqid, IPC_RMID, NULL);
}

static void wait_for(const char *path) {
  for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++) usleep(10000);
}

static void check_stat_by_index(void) {
  struct msginfo info;
  int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
  CHECK(max >= 0, "msgctl MSG_INFO: errno %d", errno);
  int found = 0;
  for (int i = 0; i <= max; i++) {
    struct msqid_ds ds;
    int id = msgctl(i, MSG_STAT, &ds);
    if (id < 0) {
      CHECK(errno == EINVAL || errno == EACCES, "MSG_STAT %d: errno %d", i, errno);
      continue;
    }
    CHECK(id >= VIPC_BASE, "MSG_STAT %d returned %d, not a virtual ID", i, id);
    if (id == msqid) {
      found = 1;
      CHECK(ds.msg_lspid == 0 || ds.msg_lspid >= VPID_BASE, "MSG_STAT: msg_lspid %d",
            (int)ds.msg_lspid);
    }
  }
  CHECK(found, "MSG_STAT over indexes 0..%d never returned msqid %d", max, msqid);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  atexit(remove_queue);
  msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  CHECK(msqid >= 0, "msgget: errno %d", errno);
  printf("ids msg=%d\n", msqid);
  CHECK(msqid >= VIPC_BASE, "msqid %d is not a virtual ID", msqid);

  pid_t parent = getpid();
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    receive_text(msqid, 1, "ping");
    struct msqid_ds ds;
    CHECK(msgctl(msqid, IPC_STAT, &ds) == 0, "child: IPC_STAT: errno %d", errno);
    CHECK(ds.msg_lspid == parent, "child: msg_lspid %d, expected the parent's virtual pid %d",
          (int)ds.msg_lspid, (int)parent);
    CHECK(ds.msg_lrpid == getpid(), "child: msg_lrpid %d, expected its virtual pid %d",
          (int)ds.msg_lrpid, (int)getpid());
    send_text(msqid, 2, "pong");
    _exit(0);
  }
  CHECK(child >= VPID_BASE, "fork returned %d, not a virtual pid", (int)child);
  send_text(msqid, 1, "ping");
  receive_text(msqid, 2, "pong");

  /* Before the child is reaped: its pid is still the application's. */
  struct msqid_ds ds;
  CHECK(msgctl(msqid, IPC_STAT, &ds) == 0, "IPC_STAT: errno %d", errno);
  printf("parent=%d child=%d lspid=%d lrpid=%d\n", (int)parent, (int)child, (int)ds.msg_lspid,
         (int)ds.msg_lrpid);
  CHECK(ds.msg_lspid == child, "msg_lspid %d, expected the child's virtual pid %d",
        (int)ds.msg_lspid, (int)child);
  CHECK(ds.msg_lrpid == parent, "msg_lrpid %d, expected the parent's virtual pid %d",
        (int)ds.msg_lrpid, (int)parent);
  CHECK(ds.msg_qnum == 0, "%lu messages left", (unsigned long)ds.msg_qnum);

  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %#x)", status);

  check_stat_by_index();
  struct message m = {.type = 1};
  errno = 0;
  CHECK(msgsnd(UNKNOWN_ID, &m, 1, IPC_NOWAIT) == -1 && errno == EINVAL, "msgsnd on %d: errno %d",
        UNKNOWN_ID, errno);
  errno = 0;
  CHECK(msgrcv(UNKNOWN_ID, &m, 1, 0, IPC_NOWAIT) == -1 && errno == EINVAL,
        "msgrcv on %d: errno %d", UNKNOWN_ID, errno);
  errno = 0;
  CHECK(msgctl(UNKNOWN_ID, IPC_STAT, &ds) == -1 && errno == EINVAL, "msgctl on %d: errno %d",
        UNKNOWN_ID, errno);

  /* Across whatever the test does meanwhile (a snapshot, a restore): three messages stay in
   * the queue, and a child is blocked in msgrcv for a type that only comes after GO. */
  send_text(msqid, 5, "five");
  send_text(msqid, 7, "seven");
  send_text(msqid, 6, "six");
  pid_t blocked = fork();
  CHECK(blocked >= 0, "fork: errno %d", errno);
  if (blocked == 0) {
    send_text(msqid, 8, "waiting");
    struct message in;
    ssize_t n = msgrcv(msqid, &in, sizeof in.text, 9, 0);
    CHECK(n > 0, "the blocked msgrcv returned %zd, errno %d", n, errno);
    CHECK(in.type == 9 && strcmp(in.text, "go") == 0, "the blocked child got type %ld '%s'",
          in.type, in.text);
    _exit(0);
  }
  receive_text(msqid, 8, "waiting");
  usleep(100000); /* time to get into msgrcv */

  printf("READY\n");
  if (argc > 1) wait_for(argv[1]);

  send_text(msqid, 9, "go");
  CHECK(waitpid(blocked, &status, 0) == blocked, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the blocked child failed (status %#x)",
        status);
  receive_now(msqid, 5, "five");
  receive_now(msqid, 7, "seven");
  receive_now(msqid, 6, "six");
  CHECK(msgctl(msqid, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0, "%lu messages left",
        (unsigned long)ds.msg_qnum);

  CHECK(msgctl(msqid, IPC_RMID, NULL) == 0, "IPC_RMID: errno %d", errno);
  errno = 0;
  CHECK(msgctl(msqid, IPC_STAT, &ds) == -1 && errno == EINVAL, "msqid after IPC_RMID: errno %d",
        errno);
  printf("PASS\n");
  return 0;
}
