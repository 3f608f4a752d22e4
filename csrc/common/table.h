/* The per-application translation tables: one shared-memory file in the application's runtime
 * directory, mapped by every process of the application, by its supervisor and by the control
 * library. One table per resource kind, indexed both ways:
 *   virtual -> system: the virtual ID is base + slot, so the row is found in O(1);
 *   system -> virtual: a scan of the kind's live rows (these are short in practice).
 * Writers take one robust, process-shared mutex, so a process killed while it holds the lock
 * does not wedge the others. Readers of the virtual -> system direction take no lock. */
#ifndef AMBER_TABLE_H
#define AMBER_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define AMBER_TABLE_MAGIC 0x31424154524d4241ULL /* "AMBRTAB1" */
/* 7: the multicast memberships at the end (amber_mcast_rec). 6: vpid_base, each application's
 * own range of virtual pids. An image's tables of version 6 or 5 (made before) are read without
 * the memberships, which an image's copy never holds, and a version 5 one as one whose range
 * starts at AMBER_VPID_MIN (ctl_files.c, ctl_tables_file.c). */
#define AMBER_TABLE_VERSION 7
#define AMBER_TABLE_VERSION_NO_MCAST 6
#define AMBER_TABLE_VERSION_FIXED_BASE 5
#define AMBER_TABLE_ROWS 4096

/* Virtual ranges are chosen so that no virtual ID can equal a system ID: system pids never
 * exceed PID_MAX_LIMIT (4194304), and SysV IDs are (sequence << 15 | index). Any pid from
 * AMBER_VPID_MIN up is virtual. Each application has its own range of AMBER_TABLE_ROWS pids,
 * from its vpid_base (AMBER_VPID_MIN + k * AMBER_TABLE_ROWS, k below AMBER_VPID_RANGES, picked
 * by `run` among the ranges no other application on the computer holds: src/vpid_range.ts), so
 * that two applications never both have a process 4200001 and write the same pid-named files
 * (/tmp/hsperfdata_USER/PID, pid and lock files). A restore keeps the image's range. The
 * ranges end below 10^8: pids stay at most 8 digits. */
#define AMBER_VPID_MIN 4200000
#define AMBER_VPID_RANGES 23388 /* (10^8 - AMBER_VPID_MIN) / AMBER_TABLE_ROWS */
#define AMBER_VIPC_BASE 1000000

enum amber_kind {
  AMBER_KIND_PID = 0, /* processes and threads, and the supervisor */
  AMBER_KIND_SEM = 1,
  AMBER_KIND_SHM = 2,
  AMBER_KIND_MSG = 3,
  AMBER_KIND_COUNT = 4,
};

enum amber_row_state { AMBER_ROW_FREE = 0, AMBER_ROW_LIVE = 1 };

/* Row flags for AMBER_KIND_PID. */
#define AMBER_PID_PROCESS 0x1    /* a thread-group leader (a process) */
#define AMBER_PID_THREAD 0x2     /* a thread other than the leader */
#define AMBER_PID_SUPERVISOR 0x4 /* the application's supervisor (its init) */
#define AMBER_PID_LEADER 0x8     /* led a session or a process group */
#define AMBER_PID_GONE 0x10      /* a leader that has exited: its ID still names its session or
                                    group, so the row stays, for system -> virtual only */

struct amber_row {
  int32_t state;  /* enum amber_row_state */
  int32_t vid;    /* virtual ID; base + slot */
  int32_t sid;    /* system ID; -1 while a restore has not re-created it */
  int32_t owner;  /* virtual pid of the process that created it (for a thread: its process) */
  int32_t flags;  /* AMBER_PID_* for pids; creation flags (IPC_CREAT...) for IPC */
  int32_t key;    /* IPC key */
  int32_t mode;   /* IPC permission bits */
  int32_t nitems; /* semaphores in a set */
  int64_t size;   /* shared-memory segment size; message-queue bytes limit */
  int32_t parent; /* for a process: virtual pid of its parent at creation */
  /* For a process: 1 + the descriptor of its agent's userfaultfd for dirty-page tracking, which
   * a pre-copy takes with pidfd_getfd (agent_track.c, control/ctl_precopy.c), 0 if none; for a
   * semaphore set: its undo generation (sysv_undo.c). */
  int32_t pad;
  /* For a process: what the library adds to its CPU clock as the kernel reads it, so that the
   * clock goes on from its value at the snapshot (agent_process_cpu_time.c); here because
   * another process of the application may read it (clock_getcpuclockid). 0 until a restore. */
  int64_t cpu_shift;
};

/* What the processes of an application hold, listed by the coordinator once every process is
 * frozen (control/ctl_share.c), with its own privilege: a process that changed user (a server's
 * workers dropping root) may not read the others' /proc, nor kcmp them. One entry per
 * descriptor (and one per shared mapping, fd -1), in slot order then descriptor order, with the
 * first descriptor of the same open file description (kcmp), which owns it. */
#define AMBER_SHARE_MAX 16384
struct amber_share_fd {
  int32_t vpid, fd;  /* fd -1: a shared mapping of the inode */
  uint64_t dev, ino; /* the file, pipe or socket */
  uint32_t mode;     /* its st_mode */
  int32_t flags;     /* the description's flags (fdinfo): O_ACCMODE tells a pipe's read end */
  int32_t owner_vpid, owner_fd;
  /* 1 + which of the launcher's standard streams (the supervisor's 0, 1, 2) it is; 0: none of
   * them (the program's own open of the same file, say); -1: not known (kcmp not allowed) */
  int32_t std_stream;
  int32_t tty; /* a pseudo-terminal master's number + 1 (fdinfo's tty-index), or 0 */
};
struct amber_share {
  uint32_t ready; /* the coordinator listed everything for the snapshot under way */
  uint32_t n;
  struct amber_share_fd fds[AMBER_SHARE_MAX];
};

/* Snapshot control block: the coordinator writes a request here and signals every process;
 * each process's agent reports through its own slot. */
#define AMBER_CTL_MAX_PROCS 256
#define AMBER_CTL_PATH 512
#define AMBER_CTL_ERROR 256

enum amber_ctl_phase {
  AMBER_PHASE_IDLE = 0,
  AMBER_PHASE_FREEZE = 1, /* agents: stop every thread, check resources, report frozen */
  AMBER_PHASE_WRITE = 2,  /* agents: write this process's part of the image */
  AMBER_PHASE_RESUME = 3, /* agents: let the program go on */
  AMBER_PHASE_ABORT = 4,  /* agents: let the program go on, nothing is kept */
  AMBER_PHASE_PRECOPY = 5, /* the coordinator copies pages before a freeze (ctl_precopy.c) */
};

enum amber_agent_state {
  AMBER_AGENT_NONE = 0,
  AMBER_AGENT_FROZEN = 1,
  AMBER_AGENT_WRITTEN = 2,
  AMBER_AGENT_FAILED = 3,
  AMBER_AGENT_RESUMED = 4,
  AMBER_AGENT_EXITED = 5, /* written by the coordinator: the process exited before it froze, so
                             the image holds it as it is now (a zombie, or nothing) */
  AMBER_AGENT_CAPTURED = 6, /* copy-on-write snapshot: everything taken, the process may run on
                               while its writer (agent_cow.c) writes the file, then WRITTEN */
};

struct amber_agent_slot {
  int32_t vpid;   /* which process this slot is for */
  int32_t state;  /* enum amber_agent_state, written by the agent */
  int32_t threads;
  int32_t stopped; /* the coordinator woke it from a stop (SIGSTOP): its agent stops it again */
  char error[AMBER_CTL_ERROR];
  /* It shares its working directory, root and umask with its parent (clone with CLONE_FS), as
   * the coordinator found (kcmp): its agent says so in its process header, for the restorer. */
  int32_t fs_with_parent;
  /* Its agent is about to stop it again (stopped, above, or stopped in the image it came back
   * from): set before the report that lets the coordinator go on, cleared once the stop signal
   * is sent. A SIGCONT sent before then would be lost, so the coordinator waits for it
   * (ctl_stop_again.c). */
  int32_t stopping;
  /* The signal that stopped it (SIGTSTP...), as its parent's agent saw in the stop report the
   * program had not collected (agent_reports.c): it stops again by the same one. 0: unknown. */
  int32_t stop_signal;
  int32_t pad2;
};

/* Keep established TCP connections (TCP_REPAIR) rather than letting them come back reset. */
#define AMBER_SNAPSHOT_TCP_ESTABLISHED 1u
/* Copy-on-write: the application runs on while a copy of each process writes its pages
 * (agent_cow.c); not with --stop, a hold or a stream. */
#define AMBER_SNAPSHOT_COW 2u
/* The application ends after this snapshot (--stop): no write protection is armed for a next
 * one (agent_track.c), which would only lengthen the freeze. */
#define AMBER_SNAPSHOT_ENDING 4u
/* The coordinator pre-copied pages before this freeze (common/precopy.h) and holds the control
 * block from then (phase PRECOPY). */
#define AMBER_SNAPSHOT_PRECOPIED 8u

struct amber_ctl {
  uint32_t generation; /* futex word: bumped on every phase change */
  uint32_t phase;      /* enum amber_ctl_phase */
  uint32_t reports;    /* futex word: bumped by agents on every report */
  uint32_t nslots;
  int32_t coordinator; /* system pid of the coordinator: agents give up if it dies */
  uint32_t flags;      /* AMBER_SNAPSHOT_* for the snapshot under way */
  char image_dir[AMBER_CTL_PATH];  /* where agents write their process files */
  char parent_dir[AMBER_CTL_PATH]; /* an image to refer to for unchanged pages, or empty */
  struct amber_agent_slot slots[AMBER_CTL_MAX_PROCS];
  /* Children that had exited and were not reaped yet: a restore makes them again as zombies
   * with the same status, for their parent to reap. */
  uint32_t nzombies;
  struct amber_zombie {
    int32_t vpid, ppid, status, pad;
  } zombies[AMBER_CTL_MAX_PROCS];
  /* Per slot: a thread that keeps the checkpoint signal blocked (a Go runtime thread), which
   * the agent asks the coordinator to let the signal through to with ptrace (ctl_unblock.c,
   * agent_unblock.c). */
  struct amber_unblock {
    int32_t tid;   /* system tid, in the slot's process */
    int32_t state; /* futex: enum amber_unblock_state */
    int32_t err;   /* AMBER_UNBLOCK_FAILED: the errno of the ptrace call that failed */
    int32_t mode;  /* enum amber_unblock_mode, set by the agent with its request */
    /* LET_IN, DONE: the thread's own signal mask, to be put back. SEIZE, asked: where in the
     * process the coordinator writes the seized thread's state (struct amber_seized). */
    uint64_t mask;
  } unblock[AMBER_CTL_MAX_PROCS];
};

enum amber_unblock_state {
  AMBER_UNBLOCK_NONE = 0,
  AMBER_UNBLOCK_ASKED = 1,  /* by the agent's leader */
  AMBER_UNBLOCK_DONE = 2,   /* by the coordinator: the thread's mask lets the signal in */
  AMBER_UNBLOCK_FAILED = 3, /* by the coordinator */
};

/* What the agent asks for a thread that holds the signal off: let the signal in (the thread
 * then runs the handler), or seize it and keep it stopped for the snapshot (seized.h). */
enum amber_unblock_mode {
  AMBER_UNBLOCK_LET_IN = 0,
  AMBER_UNBLOCK_SEIZE = 1,
};

/* One address an application bound in its VNE: (proto, virtual port) -> real port. */
#define AMBER_VNE_BINDS 256
struct amber_vne_bind {
  int32_t state;  /* enum amber_row_state */
  uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP */
  uint8_t any;    /* bound to INADDR_ANY rather than the virtual IP */
  uint16_t vport; /* network byte order */
  uint16_t rport; /* network byte order */
  uint8_t client; /* bound by Amber before a connect or sendto, not by the program */
  uint8_t pad;
};

/* A multicast membership change the kernel accepted on an IP socket (preload/wrappers/
 * mcast_note.c), by the socket's SO_COOKIE: the kernel lists no memberships per socket, so the
 * library notes them as any process of the application makes them (on a socket it may share),
 * the socket's owner saves them at a snapshot and a restore makes the same calls again
 * (preload/fds/mcast_keep.c). `val` is the option's value as the program gave it; ifname the
 * interface an index in it named (found again by name after a migration), at ifindex_off, -1
 * when none. unkept: a change Amber cannot make again (enum amber_mcast_unkept), which the
 * snapshot refuses naming it. */
#define AMBER_MCAST_MAX 256
#define AMBER_MCAST_VAL 264 /* sizeof(struct group_source_req), the largest */
enum amber_mcast_unkept {
  AMBER_MCAST_KEPT = 0,
  AMBER_MCAST_FILTER = 1,    /* a whole source filter (IP_MSFILTER, MCAST_MSFILTER) */
  AMBER_MCAST_UNMATCHED = 2, /* a drop Amber could not tell which noted change it undid */
  AMBER_MCAST_UNREAD = 3,    /* a value the kernel took that Amber does not read */
};
struct amber_mcast_rec {
  uint64_t cookie; /* 0: a free entry */
  uint64_t ino;    /* the socket's inode, to tell whether a process still holds it */
  int32_t level, name;
  uint32_t len;
  int32_t unkept;
  int32_t ifindex_off;
  char ifname[16];
  int32_t pad;
  uint8_t val[AMBER_MCAST_VAL];
};

#define AMBER_SHM_NAMES 64
#define AMBER_SHM_NAME 256 /* NAME_MAX and its NUL */

struct amber_table {
  uint64_t magic;
  uint32_t version;
  uint32_t size; /* sizeof(struct amber_table), to catch a mismatched build */
  char app_id[40];
  char name[64];
  char hostname[65]; /* virtual hostname; empty: the real one */
  char pad0[3];
  /* The application's first virtual pid (its supervisor's): its pids are vpid_base + slot.
   * Where version 5 had padding, so that a version 5 image's tables read in place. */
  int32_t vpid_base;
  int32_t state;     /* enum amber_app_state, written by the supervisor */
  int32_t root_vpid; /* the process the supervisor started (or restored) first */
  char error[256];   /* why the supervisor could not start the program */
  int32_t std_dev[3]; /* identity of the launcher's standard streams, to reattach them */
  int64_t std_ino[3];
  pthread_mutex_t lock;
  uint32_t next_slot[AMBER_KIND_COUNT];
  uint32_t high[AMBER_KIND_COUNT]; /* one past the highest slot ever used: bounds the scans */
  struct amber_ctl ctl;
  struct amber_row rows[AMBER_KIND_COUNT][AMBER_TABLE_ROWS];
  /* Virtual network (common/vne.h): the application's VNE ("" for none), its virtual IPv4
   * address and this computer's VNE table file; then every address the application has bound
   * in its VNE, so that a restore registers them again wherever it runs. */
  char vne[64];
  uint32_t vne_ip; /* network byte order */
  uint32_t vne_nbinds; /* one past the highest bind slot ever used */
  char vne_table[512];
  struct amber_vne_bind vne_binds[AMBER_VNE_BINDS];
  struct amber_share share;
  /* While a snapshot writes: the abstract Unix socket (without its leading NUL) where the
   * coordinator hands a process that cannot reach the image directory its own process file
   * (control/ctl_handover.c); empty otherwise. */
  char handover[64];
  /* POSIX shared memory objects the application made (shm_open with O_CREAT) and has not
   * unlinked, by name without the leading '/' (preload/wrappers/wrap_shm_open.c): a snapshot saves the
   * ones no process maps into the image, and a restore makes them again (ctl_shm_files.c,
   * restorer/shm_files.c). shm_names_full: one more could not be noted (the snapshot refuses). */
  uint32_t nshm_names, shm_names_full;
  char shm_names[AMBER_SHM_NAMES][AMBER_SHM_NAME];
  /* Futex word: while set, restored processes wait in their agent before the program goes on
   * (a migration's target holds its copy until the source commits: docs/migration.md). */
  uint32_t held;
  /* Per slot: the system pid of the process writing its file after it resumed (a copy-on-write
   * snapshot, agent_cow.c), 0 if none; a snapshot begins only once the last one's are gone. */
  int32_t cow_writer[AMBER_CTL_MAX_PROCS];
  /* By the slot of a process's pid row, beside its cpu_shift (kept out of the row, which every
   * kind has): the shifts of times() (utime, stime, clock ticks) and of getrusage(RUSAGE_SELF)
   * (ru_utime, ru_stime, µs), then the same four of the children it reaped (cutime, cstime;
   * RUSAGE_CHILDREN), so that they survive an exec as the clock's does
   * (agent_process_cpu_time.c). Cleared when the row is given out; 0 until a restore. */
  int64_t cpu_times_shift[AMBER_TABLE_ROWS][8];
  /* By the slot of a process's pid row: the arming of dirty-page tracking whose state the
   * process's write-protect bits still hold (its agent's epoch, agent_track.c), 0 if none. A
   * pre-copy that protects pages again sets it to 0 first (control/ctl_precopy_incr.c): from
   * then on the bits no longer say what changed since that arming. */
  uint64_t dirty_epoch[AMBER_TABLE_ROWS];
  /* Multicast memberships (struct amber_mcast_rec), nmcast entries in use (a free one has
   * cookie 0); mcast_full: one more could not be noted (a snapshot with any IP datagram socket
   * then refuses). Not carried over by a restore: each socket's owner notes its own again. */
  uint32_t nmcast, mcast_full;
  struct amber_mcast_rec mcast[AMBER_MCAST_MAX];
};

/* The size of a version 6 (or 5) table: version 7's, up to the multicast memberships. */
#define AMBER_TABLE_SIZE_NO_MCAST offsetof(struct amber_table, nmcast)

enum amber_app_state {
  AMBER_APP_STARTING = 0,
  AMBER_APP_RUNNING = 1,
  AMBER_APP_FAILED = 2,
  AMBER_APP_EXITED = 3,
};

/* The first virtual ID of a kind: the application's vpid_base for pids. */
int32_t amber_kind_base(const struct amber_table *t, int kind);

/* Is `base` a range of virtual pids a table may have (AMBER_VPID_MIN + k * AMBER_TABLE_ROWS,
 * k below AMBER_VPID_RANGES)? */
int amber_vpid_base_valid(int64_t base);

/* Creating and opening; the file is created mode 0600, its pids from `vpid_base` (which must
 * be valid: -EINVAL). All return 0 or -errno. */
int amber_table_create(const char *path, const char *app_id, const char *name,
                       const char *hostname, int32_t vpid_base, struct amber_table **out);
int amber_table_open(const char *path, struct amber_table **out);
void amber_table_close(struct amber_table *t);
/* Maps the tables open on `fd` (which stays open): for a process that may no longer open them
 * by path (it switched user) but inherited a descriptor. 0 or -errno. */
int amber_table_map_fd(int fd, struct amber_table **out);

void amber_table_lock(struct amber_table *t);
void amber_table_unlock(struct amber_table *t);

/* Lookups: return the row or NULL. Callers that modify rows hold the lock. */
struct amber_row *amber_row_by_vid(struct amber_table *t, int kind, int32_t vid);
struct amber_row *amber_row_by_sid(struct amber_table *t, int kind, int32_t sid);

/* Allocates a live row with the next free virtual ID; NULL when the table is full. */
struct amber_row *amber_row_alloc(struct amber_table *t, int kind);
void amber_row_free(struct amber_row *row);

/* Processes: the row of the process with this system pid, created if it has none yet (a
 * parent and its new child may both get there first). Takes the lock. NULL when full. */
struct amber_row *amber_pid_row_adopt(struct amber_table *t, int32_t sys_pid, int32_t sys_parent,
                                      int flags);
/* Frees a process's row and its threads' rows; the caller holds the lock. */
void amber_pid_row_release(struct amber_table *t, struct amber_row *row);

/* Translation without the lock: -1 when unknown. */
int32_t amber_v2s(struct amber_table *t, int kind, int32_t vid);
int32_t amber_s2v(struct amber_table *t, int kind, int32_t sid);

#endif
