/* The process tree: read from every process file's header, then forked parents first. */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "restorer.h"

struct proc_node {
  int32_t vpid, ppid, pgid, sid;
  int32_t fs_with_parent; /* cloned with CLONE_FS: one working directory and umask */
};
static struct proc_node procs[MAX_PROCS];
static int nprocs;
static struct amber_table *table; /* the new application's tables, while the tree is built */
static int32_t continued[MAX_PROCS]; /* children whose parent has a continued report of them */
static int ncontinued;
static int32_t supervisor_vpid;

/* The tables go right after the restorer's image, before the process file's lists: the
 * restorer's own, kept while memory is restored before the fork (inherit.c), and gone with it. */
void read_tree(void) {
  long addr = amber_sys6(SYS_mmap, restorer_image_end(), sizeof(struct amber_table),
                         PROT_READ | PROT_WRITE, MAP_SHARED | 0x100000 /* MAP_FIXED_NOREPLACE */,
                         tables_fd, 0);
  if (addr != (long)restorer_image_end()) die("cannot map the tables", addr);
  table = (struct amber_table *)addr;
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID] && i < AMBER_TABLE_ROWS; i++)
    if (table->rows[AMBER_KIND_PID][i].state == AMBER_ROW_LIVE &&
        (table->rows[AMBER_KIND_PID][i].flags & AMBER_PID_SUPERVISOR))
      supervisor_vpid = table->rows[AMBER_KIND_PID][i].vid;
  for (uint32_t i = 0; i < table->ctl.nslots && nprocs < MAX_PROCS; i++) {
    struct proc_node *p = &procs[nprocs++];
    p->vpid = table->ctl.slots[i].vpid;
    process_path(image_path, p->vpid);
    uint64_t size;
    int fd = open_process_file(image_path, &size);
    const char *problem = rt_pread_all(fd, &hdr, sizeof hdr, 0)
                              ? "it is not a complete Amber process file"
                              : amber_image_header_problem(&hdr, size);
    if (problem) die_image(image_path, problem);
    amber_sys1(SYS_close, fd);
    p->ppid = hdr.ppid, p->pgid = hdr.pgid, p->sid = hdr.sid;
    p->fs_with_parent = hdr.fs_with_parent;
    note_image_clocks(&hdr);
    for (int k = 0; k < hdr.ncontinued && k < AMBER_MAX_CONTINUED && ncontinued < MAX_PROCS; k++)
      continued[ncontinued++] = hdr.continued[k];
  }
}

static const struct proc_node *find_proc(int32_t vpid) {
  for (int i = 0; i < nprocs; i++)
    if (procs[i].vpid == vpid) return &procs[i];
  return 0;
}

static int32_t system_pid(int32_t vpid) {
  int64_t slot = (int64_t)vpid - table->vpid_base;
  return slot >= 0 && slot < AMBER_TABLE_ROWS ? table->rows[AMBER_KIND_PID][slot].sid : -1;
}

static void set_system_pid(int32_t vpid, int32_t pid) {
  int64_t slot = (int64_t)vpid - table->vpid_base;
  if (slot >= 0 && slot < AMBER_TABLE_ROWS)
    __atomic_store_n(&table->rows[AMBER_KIND_PID][slot].sid, pid, __ATOMIC_RELEASE);
}

static int session_gone(const struct proc_node *p) {
  return p->sid != p->vpid && !find_proc(p->sid) && p->sid != supervisor_vpid;
}

/* A member of a dead session that comes from the session's stand-in leader. */
static int from_stand_in(const struct proc_node *p, int32_t sid) {
  return p->sid == sid && !find_proc(p->ppid) && session_gone(p) && p->vpid != table->root_vpid;
}

/* In a newly forked process: its session and process group, as they were. A process inherits
 * both from its parent when they were its parent's. A session whose leader has exited comes
 * from a helper that stands in for the leader (fork_through_helper); one whose members cannot
 * come from that helper (their parent is restored) gets a leader of its own, the first member,
 * and so does a group whose leader has exited. The parent makes the same setpgid call, as a
 * shell does, so neither order of the two races. */
static void join_session_and_group(const struct proc_node *p, int stand_in) {
  const struct proc_node *parent = find_proc(p->ppid);
  int inherits_session = stand_in || (parent && parent->sid == p->sid);
  if (p->sid == p->vpid || (session_gone(p) && !inherits_session)) amber_sys0(SYS_setsid);
  int inherits_group = (stand_in && p->pgid == p->sid) || (parent && parent->pgid == p->pgid);
  int32_t leader = system_pid(p->pgid);
  if (p->pgid == p->vpid || (!find_proc(p->pgid) && !inherits_group)) amber_sys2(SYS_setpgid, 0, 0);
  else if (find_proc(p->pgid) && leader > 0) amber_sys2(SYS_setpgid, 0, leader);
}

static void place_in_group(const struct proc_node *p, int32_t pid);

/* The root's siblings the restorer forks through a helper (below): a dead session's members
 * (sid) through its stand-in leader, the others (sid 0) through a donor of memory. */
static int from_helper(const struct proc_node *p, int32_t sid) {
  if (sid) return from_stand_in(p, sid);
  int sibling = !find_proc(p->ppid) || p->ppid == supervisor_vpid;
  return sibling && p->vpid != table->root_vpid && !from_stand_in(p, p->sid);
}

/* The root's siblings, as the supervisor's children (CLONE_PARENT), from a helper that is the
 * supervisor's child too: it restores the memory of the first of them before it forks them, so
 * that they share what the original processes shared (a common ancestor had forked them, which
 * has exited: docs/cow-sharing.md), and exits. For a session whose leader has exited (sid), the
 * helper also stands in for the leader: it leads a new session and group (setsid), so that the
 * members are in it, and the dead leader's ID names the helper's system pid from then on, which
 * the kernel keeps as the session's ID, unused by any new process, while a member lives.
 * Returns in each process forked, as the vpid it is to become; in the restorer, the helper's
 * system pid. */
static long fork_through_helper(int32_t sid, int32_t *member) {
  *member = 0;
  long helper = amber_sys5(SYS_clone, 17 /* SIGCHLD */ | 0x00008000 /* CLONE_PARENT */, 0, 0, 0, 0);
  if (helper < 0) die("cannot fork a helper that forks the supervisor's children", helper);
  if (helper > 0) return helper;
  if (sid) {
    amber_sys0(SYS_setsid);
    set_system_pid(sid, (int32_t)amber_sys0(SYS_getpid));
  }
  for (int i = 0; i < nprocs; i++)
    if (from_helper(&procs[i], sid)) {
      donate_memory(procs[i].vpid);
      break;
    }
  for (int i = 0; i < nprocs; i++) {
    const struct proc_node *p = &procs[i];
    if (!from_helper(p, sid)) continue;
    long pid = amber_sys5(SYS_clone, 17 | 0x00008000, 0, 0, 0, 0);
    if (pid < 0) die("cannot fork a process of the tree", pid);
    if (pid == 0) {
      join_session_and_group(p, sid != 0);
      set_system_pid(p->vpid, (int32_t)amber_sys0(SYS_getpid));
      tree_forked(p->vpid, 1);
      *member = p->vpid;
      return 0;
    }
    set_system_pid(p->vpid, (int32_t)pid);
    if (!sid) place_in_group(p, (int32_t)pid);
  }
  amber_sys1(SYS_exit_group, 0);
  return 0;
}

/* In the restorer: until the helper has forked every process it forks (their system pids are
 * known), or has exited (a failure it wrote into the tables). */
static void wait_for_helper(long helper, int32_t sid) {
  int pidfd = (int)amber_sys2(434 /* SYS_pidfd_open */, helper, 0);
  for (int i = 0; i < nprocs; i++) {
    if (!from_helper(&procs[i], sid)) continue;
    for (int tries = 0; system_pid(procs[i].vpid) <= 0; tries++) {
      struct { int fd; short events, revents; } poll = {pidfd, 1 /* POLLIN */, 0};
      struct timespec ms = {0, 1000000};
      if (pidfd >= 0 && amber_sys4(SYS_ppoll, &poll, 1, &ms, 0) > 0) break; /* it exited */
      if (pidfd < 0 && (amber_sys2(SYS_nanosleep, &ms, 0), tries > 60000)) break;
    }
  }
  if (pidfd >= 0) amber_sys1(SYS_close, pidfd);
}

static void place_in_group(const struct proc_node *p, int32_t pid) {
  /* A session leader's own setsid makes it its group's leader; a setpgid first would make
   * that setsid fail (EPERM: it already leads a group). */
  if (p->sid == p->vpid) return;
  if (p->pgid == p->vpid) amber_sys2(SYS_setpgid, pid, pid);
  else if (find_proc(p->pgid) && system_pid(p->pgid) > 0)
    amber_sys2(SYS_setpgid, pid, system_pid(p->pgid));
}

/* A child its parent had seen continued (SIGCONT) without collecting that report: it stops
 * itself as it starts (at a known point, so that no call of its own is interrupted), and its
 * parent continues it, while it is still the restorer, whose SIGCONT is not a handler: the
 * restored parent finds the report, and the child's own handler does not run again. */
static int continued_child(int32_t vpid) {
  for (int i = 0; i < ncontinued; i++)
    if (continued[i] == vpid) return 1;
  return 0;
}

static void report_continued(int32_t vpid, long pid) {
  if (!continued_child(vpid)) return;
  struct { int32_t signo, err, code, pid; uint8_t rest[112]; } info;
  long r = amber_sys5(SYS_waitid, 1 /* P_PID */, pid, &info, 2 /* WSTOPPED */ | 0x40000000 /* __WALL */, 0);
  if (r < 0) die("cannot stop a child to give its parent its continued report", r);
  amber_sys2(SYS_kill, pid, 18 /* SIGCONT */);
}

/* Forks the children of `self` (and, for the root, the orphans, as its siblings), each of which
 * does the same for its own; returns the vpid this process is to become. */
/* The children of `self` that had exited unreaped: each is forked and ends at once with the
 * same status, so the restored parent reaps it as it would have. */
static void make_zombies(int32_t self) {
  for (uint32_t i = 0; i < table->ctl.nzombies; i++) {
    const struct amber_zombie *z = &table->ctl.zombies[i];
    if (z->ppid != self) continue;
    long pid = amber_sys5(SYS_clone, 17 /* SIGCHLD */, 0, 0, 0, 0);
    if (pid < 0) die("cannot fork a zombie of the tree", pid);
    if (pid == 0) {
      int sig = z->status & 0x7f;
      if (sig) {
        uint64_t none = 0;
        amber_sys4(SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, &none, 0, 8);
        amber_sys2(SYS_kill, amber_sys0(SYS_getpid), sig);
      }
      amber_sys1(SYS_exit_group, (z->status >> 8) & 0xff);
    }
    set_system_pid(z->vpid, (int32_t)pid);
  }
}

int32_t build_tree(int32_t self) {
  for (int i = 0; i < nprocs; i++) {
    const struct proc_node *p = &procs[i];
    if (p->vpid == self) continue;
    int orphan = !find_proc(p->ppid);
    int child = p->ppid == self;
    int sibling = self == table->root_vpid && (orphan || p->ppid == supervisor_vpid);
    if (!child && !sibling) continue;
    if (sibling) {
      /* The first of the helper's here brings them all back. */
      int32_t sid = from_stand_in(p, p->sid) ? p->sid : 0, member;
      int first = 1;
      for (int k = 0; k < i; k++) first &= !from_helper(&procs[k], sid);
      if (!first) continue;
      long helper = fork_through_helper(sid, &member);
      if (member) return build_tree(member);
      wait_for_helper(helper, sid);
      continue;
    }
    long flags = 17 /* SIGCHLD */ | (p->fs_with_parent ? 0x00000200 /* CLONE_FS */ : 0);
    long pid = amber_sys5(SYS_clone, flags, 0, 0, 0, 0);
    if (pid < 0) die("cannot fork a process of the tree", pid);
    if (pid == 0) {
      if (continued_child(p->vpid)) amber_sys2(SYS_kill, amber_sys0(SYS_getpid), 19);
      join_session_and_group(p, 0);
      set_system_pid(p->vpid, (int32_t)amber_sys0(SYS_getpid));
      tree_forked(p->vpid, 1);
      return build_tree(p->vpid);
    }
    set_system_pid(p->vpid, (int32_t)pid);
    place_in_group(p, (int32_t)pid);
    report_continued(p->vpid, pid);
  }
  make_zombies(self);
  return self;
}

int tree_size(void) { return nprocs; }

int tree_holds(int32_t vpid) { return find_proc(vpid) != 0; }
