/* SysV IPC calls made three ways: through libc, through syscall() and with the `syscall`
 * instruction itself (as Go's runtime or assembly make them, which only Amber's seccomp layer
 * sees). Each way gets virtual object IDs, acts on the object named (libc reads what it did), and
 * reads virtual pids (GETPID, the *_STAT records) and IDs (*_STAT_ANY), before a snapshot and
 * after the restore (new system IDs). Objects made before the snapshot each way are used each
 * way after it. Usage: raw_sysv_calls <dir> */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

#define VIRTUAL_IPC_MIN 1000000

enum { LIBC, SYSCALL, RAW, WAYS };
static const char *way_name[WAYS] = {"libc", "syscall()", "raw"};

union semun {
  int val;
  void *buf;
};

static long neg(long r) { return r == -1 ? -errno : r; }

/* The call, made `way`; -errno on failure whichever way. */
static long call(int way, long n, long a, long b, long c, long d, long e) {
  if (way == RAW) return raw_call5(n, a, b, c, d, e);
  if (way == SYSCALL) return neg(syscall(n, a, b, c, d, e));
  switch (n) {
  case SYS_semget: return neg(semget((key_t)a, (int)b, (int)c));
  case SYS_semop: return neg(semop((int)a, (struct sembuf *)b, (size_t)c));
  case SYS_semctl: return neg(semctl((int)a, (int)b, (int)c, (union semun){.buf = (void *)d}));
  case SYS_shmget: return neg(shmget((key_t)a, (size_t)b, (int)c));
  case SYS_shmat: {
    void *p = shmat((int)a, (void *)b, (int)c);
    return p == (void *)-1 ? -errno : (long)p;
  }
  case SYS_shmdt: return neg(shmdt((void *)a));
  case SYS_shmctl: return neg(shmctl((int)a, (int)b, (struct shmid_ds *)c));
  case SYS_msgget: return neg(msgget((key_t)a, (int)b));
  case SYS_msgsnd: return neg(msgsnd((int)a, (void *)b, (size_t)c, (int)d));
  case SYS_msgrcv: return neg(msgrcv((int)a, (void *)b, (size_t)c, d, (int)e));
  case SYS_msgctl: return neg(msgctl((int)a, (int)b, (struct msqid_ds *)c));
  }
  return -ENOSYS;
}

static pid_t self;

/* A child that adds 1 to semaphore 0 of `sem` and sends `msq` a message (libc), then waits to
 * be ended (a reaped process's pid reads 0). */
static pid_t child_touches(int sem, int msq) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t c = fork();
  if (c == 0) {
    struct sembuf op = {0, 1, 0};
    struct {
      long type;
      char text[8];
    } m = {1, "child"};
    char ok = semop(sem, &op, 1) == 0 && msgsnd(msq, &m, sizeof m.text, 0) == 0 ? 'y' : 'n';
    if (write(p[1], &ok, 1) != 1) _exit(1);
    for (;;) pause();
  }
  char ok = 0;
  CHECK(read(p[0], &ok, 1) == 1 && ok == 'y', "the child's semop or msgsnd failed");
  close(p[0]);
  close(p[1]);
  return c;
}

static void end_child(pid_t c) {
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
}

/* The *_STAT_ANY of every kernel index, made `way`: does one answer `id`? */
static int stat_any_finds(int way, long nr, int cmd, int id) {
  char buf[256];
  struct seminfo info; /* *_INFO's answer: the highest index in use */
  int max = nr == SYS_semctl  ? semctl(0, 0, SEM_INFO, (union semun){.buf = &info})
            : nr == SYS_msgctl ? msgctl(0, MSG_INFO, (struct msqid_ds *)buf)
                               : shmctl(0, SHM_INFO, (struct shmid_ds *)buf);
  for (int idx = 0; idx <= max; idx++) {
    long r = nr == SYS_semctl ? call(way, nr, idx, 0, cmd, (long)buf, 0)
                              : call(way, nr, idx, cmd, (long)buf, 0, 0);
    if (r == id) return 1;
    if (r >= 0 && r < VIRTUAL_IPC_MIN) return 0; /* a system ID leaked out */
  }
  return 0;
}

/* Fresh objects, made, used and removed `way`. */
static void fresh(int way, const char *phase) {
  const char *w = way_name[way];
  long sem = call(way, SYS_semget, IPC_PRIVATE, 1, 0600, 0, 0);
  CHECK(sem >= VIRTUAL_IPC_MIN, "%s %s: semget %ld is no virtual ID", phase, w, sem);
  struct sembuf op = {0, 3, 0};
  CHECK(call(way, SYS_semop, sem, (long)&op, 1, 0, 0) == 0, "%s %s: semop", phase, w);
  CHECK(semctl((int)sem, 0, GETVAL) == 3, "%s %s: semop acted on another set", phase, w);
  CHECK(call(way, SYS_semctl, sem, 0, GETPID, 0, 0) == self, "%s %s: GETPID %ld, not %d", phase,
        w, call(way, SYS_semctl, sem, 0, GETPID, 0, 0), self);
  long msq = call(way, SYS_msgget, IPC_PRIVATE, 0600, 0, 0, 0);
  CHECK(msq >= VIRTUAL_IPC_MIN, "%s %s: msgget %ld", phase, w, msq);
  pid_t c = child_touches((int)sem, (int)msq);
  CHECK(call(way, SYS_semctl, sem, 0, GETVAL, 0, 0) == 4, "%s %s: GETVAL", phase, w);
  CHECK(call(way, SYS_semctl, sem, 0, GETPID, 0, 0) == c, "%s %s: GETPID %ld, not the child %d",
        phase, w, call(way, SYS_semctl, sem, 0, GETPID, 0, 0), c);
  struct semid_ds sds;
  CHECK(call(way, SYS_semctl, sem, 0, IPC_STAT, (long)&sds, 0) == 0 && sds.sem_nsems == 1,
        "%s %s: IPC_STAT of the set", phase, w);
  CHECK(stat_any_finds(way, SYS_semctl, SEM_STAT_ANY, (int)sem), "%s %s: SEM_STAT_ANY", phase, w);

  struct {
    long type;
    char text[8];
  } m;
  CHECK(call(way, SYS_msgrcv, msq, (long)&m, sizeof m.text, 0, 0) == sizeof m.text &&
            !strcmp(m.text, "child"),
        "%s %s: msgrcv", phase, w);
  struct msqid_ds mds;
  CHECK(call(way, SYS_msgctl, msq, IPC_STAT, (long)&mds, 0, 0) == 0, "%s %s: msgctl", phase, w);
  CHECK(mds.msg_lspid == c && mds.msg_lrpid == self, "%s %s: msg_lspid %d msg_lrpid %d, not %d %d",
        phase, w, mds.msg_lspid, mds.msg_lrpid, c, self);
  CHECK(stat_any_finds(way, SYS_msgctl, MSG_STAT_ANY, (int)msq), "%s %s: MSG_STAT_ANY", phase, w);
  end_child(c);

  long shm = call(way, SYS_shmget, IPC_PRIVATE, 4096, 0600, 0, 0);
  CHECK(shm >= VIRTUAL_IPC_MIN, "%s %s: shmget %ld", phase, w, shm);
  char *at = (char *)call(way, SYS_shmat, shm, 0, 0, 0, 0);
  CHECK((long)at > 0, "%s %s: shmat %ld", phase, w, (long)at);
  char *seen = shmat((int)shm, NULL, SHM_RDONLY);
  CHECK(seen != (void *)-1, "%s %s: libc shmat", phase, w);
  strcpy(at, "shared");
  CHECK(!strcmp(seen, "shared"), "%s %s: shmat attached another segment", phase, w);
  struct shmid_ds hds;
  CHECK(call(way, SYS_shmctl, shm, IPC_STAT, (long)&hds, 0, 0) == 0, "%s %s: shmctl", phase, w);
  CHECK(hds.shm_cpid == self && hds.shm_lpid == self && hds.shm_nattch == 2,
        "%s %s: shm_cpid %d shm_lpid %d nattch %ld", phase, w, hds.shm_cpid, hds.shm_lpid,
        (long)hds.shm_nattch);
  CHECK(stat_any_finds(way, SYS_shmctl, SHM_STAT_ANY, (int)shm), "%s %s: SHM_STAT_ANY", phase, w);
  CHECK(call(way, SYS_shmdt, (long)at, 0, 0, 0, 0) == 0 && shmdt(seen) == 0, "%s %s: shmdt",
        phase, w);

  CHECK(call(way, SYS_semctl, sem + 7777, 0, GETVAL, 0, 0) == -EINVAL,
        "%s %s: an unknown virtual ID", phase, w);
  CHECK(call(way, SYS_semctl, sem, 0, IPC_RMID, 0, 0) == 0 && semctl((int)sem, 0, GETVAL) == -1,
        "%s %s: IPC_RMID of the set", phase, w);
  CHECK(call(way, SYS_msgctl, msq, IPC_RMID, 0, 0, 0) == 0, "%s %s: IPC_RMID of the queue", phase,
        w);
  CHECK(call(way, SYS_shmctl, shm, IPC_RMID, 0, 0, 0) == 0, "%s %s: IPC_RMID of the segment",
        phase, w);
}

/* Objects made before the snapshot, one set of them each way, used after it. */
static long kept_sem[WAYS], kept_msq[WAYS], kept_shm[WAYS];
static char *kept_at[WAYS];

static void keep(int way) {
  kept_sem[way] = call(way, SYS_semget, IPC_PRIVATE, 1, 0600, 0, 0);
  struct sembuf op = {0, (short)(10 + way), 0};
  CHECK(kept_sem[way] >= VIRTUAL_IPC_MIN && call(way, SYS_semop, kept_sem[way], (long)&op, 1, 0,
                                                 0) == 0,
        "keep %s: a set", way_name[way]);
  kept_msq[way] = call(way, SYS_msgget, IPC_PRIVATE, 0600, 0, 0, 0);
  struct {
    long type;
    char text[8];
  } m = {1, "kept"};
  m.text[5] = (char)('0' + way);
  CHECK(call(way, SYS_msgsnd, kept_msq[way], (long)&m, sizeof m.text, 0, 0) == 0,
        "keep %s: a message", way_name[way]);
  long shm = kept_shm[way] = call(way, SYS_shmget, IPC_PRIVATE, 4096, 0600, 0, 0);
  kept_at[way] = (char *)call(way, SYS_shmat, shm, 0, 0, 0, 0);
  CHECK((long)kept_at[way] > 0, "keep %s: a segment", way_name[way]);
  strcpy(kept_at[way], "segment");
  kept_at[way][8] = (char)('0' + way);
}

static void use_kept(int way) {
  const char *w = way_name[way];
  for (int k = 0; k < WAYS; k++) {
    CHECK(call(way, SYS_semctl, kept_sem[k], 0, GETVAL, 0, 0) == 10 + k,
          "after %s: the set kept %s", w, way_name[k]);
    struct {
      long type;
      char text[8];
    } m;
    CHECK(call(way, SYS_msgrcv, kept_msq[k], (long)&m, sizeof m.text, 0, IPC_NOWAIT) ==
                  sizeof m.text &&
              !strncmp(m.text, "kept", 4) && m.text[5] == '0' + k,
          "after %s: the message kept %s", w, way_name[k]);
    CHECK(call(way, SYS_msgsnd, kept_msq[k], (long)&m, sizeof m.text, 0, 0) == 0,
          "after %s: put back", w);
  }
  CHECK(!strcmp(kept_at[way], "segment") && kept_at[way][8] == '0' + way,
        "after %s: the segment's content", w);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  self = getpid();
  for (int way = 0; way < WAYS; way++) fresh(way, "before");
  for (int way = 0; way < WAYS; way++) keep(way);
  say_ready();
  wait_go(argv[1]);
  CHECK(getpid() == self, "the virtual pid changed");
  for (int way = 0; way < WAYS; way++) fresh(way, "after");
  for (int way = 0; way < WAYS; way++) use_kept(way);
  for (int way = 0; way < WAYS; way++) {
    CHECK(call(way, SYS_semctl, kept_sem[way], 0, IPC_RMID, 0, 0) == 0, "remove a set");
    CHECK(call(way, SYS_msgctl, kept_msq[way], IPC_RMID, 0, 0, 0) == 0, "remove a queue");
    CHECK(call(way, SYS_shmdt, (long)kept_at[way], 0, 0, 0, 0) == 0 &&
              call(way, SYS_shmctl, kept_shm[way], IPC_RMID, 0, 0, 0) == 0,
          "remove a segment");
  }
  printf("PASS\n");
  return 0;
}
