/* One process's file in an image (process-<vpid>.img): what the restorer needs to rebuild the
 * process, and a description for `amber inspect`. Everything else the process needs after a
 * restore (descriptors, signal dispositions, timers...) the agent keeps in the library's own
 * memory, which the image restores with the rest of the memory.
 *
 * Layout: header at 0 | page data, page-aligned, from data_off | tables at the offsets the
 * header gives. The header is written last, so a file without a valid magic is incomplete. */
#ifndef AMBER_IMAGE_H
#define AMBER_IMAGE_H

#include <stdint.h>

#define AMBER_PROC_MAGIC 0x31435250524d4241ULL /* "AMBRPRC1" */
#define AMBER_PROC_VERSION 5
#define AMBER_PAGE 4096

/* A process's file in an image is "<dir>/process-<vpid>.img": its name, in one place. */
#define AMBER_PROC_FILE_PREFIX "process-"
#define AMBER_PROC_FILE_SUFFIX ".img"
#define AMBER_PROC_FILE_FMT "%s/" AMBER_PROC_FILE_PREFIX "%d" AMBER_PROC_FILE_SUFFIX
/* A streamed process file's index, beside it: the same name with this suffix instead. */
#define AMBER_PROC_INDEX_SUFFIX ".index"

/* Signals pending when the snapshot landed, with their siginfo (si_pid made virtual), to be
 * queued again after a restore. */
#define AMBER_MAX_PENDING 8
struct amber_pending {
  int32_t count, pad;
  uint8_t info[AMBER_MAX_PENDING][128]; /* siginfo_t */
};

/* The callee-saved registers, stack and resume point of a thread inside the agent. */
struct amber_ctx {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

struct amber_thread_rec {
  struct amber_ctx ctx;
  uint64_t fs_base;
  int32_t vtid;     /* virtual TID, 0 if the thread never asked for one */
  int32_t leader;   /* the thread that ran the checkpoint for its process */
  uint64_t tid_addr; /* glibc's cached TID (struct pthread's tid): clear_child_tid target */
  uint64_t robust_head, robust_len;
  uint64_t rseq_addr;
  uint32_t rseq_len, rseq_sig;
  uint64_t altstack_sp, altstack_size;
  int32_t altstack_flags;
  int32_t pad;
  char comm[16];
  /* A system call the kernel will restart when the handler returns, with a pid among its
   * arguments (wait4, waitid): which register, and the virtual pid, so the restart after a
   * restore waits for the same process under its new system pid. */
  uint64_t uc;          /* the thread's ucontext_t inside its signal frame */
  int32_t restart_reg;  /* REG_RDI or REG_RSI, or -1 */
  int32_t restart_vpid; /* negative for a process group */
  struct amber_pending pending; /* signals pending for this thread alone */
  int32_t old_tid, tid; /* the system TID at the snapshot, and after a restore */
};

enum amber_region_kind {
  AMBER_REGION_ANON = 1,        /* private anonymous: heap, stacks, malloc arenas */
  AMBER_REGION_ANON_SHARED = 2, /* MAP_SHARED | MAP_ANONYMOUS */
  AMBER_REGION_FILE = 3,        /* private file mapping: the file, then the changed pages */
  AMBER_REGION_FILE_SHARED = 4, /* shared file mapping: the file holds the data */
  AMBER_REGION_SPECIAL = 5,     /* [vdso], [vvar], [vvar_vclock]: moved, not copied */
  AMBER_REGION_TABLES = 6,      /* Amber's translation tables: the new application's */
  AMBER_REGION_SYSV_SHM = 7,    /* a SysV segment: attached again by its virtual shmid */
};

#define AMBER_REGION_GROWSDOWN 0x1 /* the main thread's [stack] */
#define AMBER_REGION_HEAP 0x2      /* [heap] */
#define AMBER_REGION_FROM_IMAGE 0x4 /* mapped from an image by a lazy restore */
/* AMBER_REGION_ANON_SHARED that is a /dev/shm file (shm_open): saved whole, made again at its
 * path by the restore. */
#define AMBER_REGION_SHM_FILE 0x8

struct amber_region_rec {
  uint64_t start, end;
  uint64_t pgoff; /* file offset of start, for file mappings */
  uint32_t prot;  /* PROT_* */
  uint32_t kind;  /* enum amber_region_kind */
  uint32_t flags; /* AMBER_REGION_* */
  int32_t shmid;  /* virtual shmid for AMBER_REGION_SYSV_SHM; AMBER_REGION_SHM_FILE: its uid */
  uint32_t first_run, nruns;
  uint64_t dev, ino; /* file identity, checked before a file is mapped again */
  int32_t owner_vpid; /* shared anonymous memory: the process that saves and re-creates it */
  uint32_t file_mode; /* AMBER_REGION_SHM_FILE: the file's permission bits */
  /* A private file mapping's file, as it must be found again; AMBER_REGION_SHM_FILE's, as the
   * restore makes it again. */
  int64_t file_size, file_mtime_ns;
  char name[256];    /* file path, or [vdso] and the like */
  uint32_t vm_flags; /* AMBER_VM_* (common/vm_flags.h): what the kernel's VmFlags said */
  uint32_t file_gid; /* AMBER_REGION_SHM_FILE: its group */
};

/* A run of saved pages: npages pages at addr, stored at data_off in this file (depth 0) or in
 * the process file of the same process in the image `depth` parents up (an incremental image
 * refers to its parent's pages that did not change). With `vpid` (0: this process) the pages
 * are in that process's file instead, in the same image or `depth` up: a forked child's pages
 * still the same as its parent's are stored once, in the parent's file (ctl_share_pages.c). */
struct amber_run_rec {
  uint64_t addr, npages, data_off;
  uint32_t depth;
  int32_t vpid;
};

#define AMBER_MAX_DEPTH 16 /* the longest chain of parents an image may have */

/* The kernel's struct sigaction for rt_sigaction. */
struct amber_ksigaction {
  uint64_t handler, flags, restorer, mask;
};

#define AMBER_MAX_CONTINUED 32

struct amber_proc_header {
  uint64_t magic;
  uint32_t version, header_size;
  int32_t vpid, nthreads, nregions, nruns, nfds, pad;
  uint64_t threads_off, regions_off, runs_off, fds_off;
  uint64_t data_off, data_len, file_size;
  /* for prctl(PR_SET_MM_MAP) */
  uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
  uint64_t arg_start, arg_end, env_start, env_end;
  uint64_t auxv[64];
  uint32_t auxv_words;
  /* CLOCK_MONOTONIC as the process read it at the freeze, in whole seconds rounded up (0: not
   * recorded, an image of an older Amber): a restore where it reads less puts the processes in
   * a time namespace that goes on from there (restorer/clocks.c). BOOTTIME's is boottime_s. */
  uint32_t monotonic_s;
  uint64_t restore_args_addr; /* struct amber_restore_args in the library */
  uint64_t xcr0;
  char comm[16];
  char exe[512];
  /* the process tree, in virtual pids */
  int32_t ppid, pgid, sid, nchildren;
  /* the page hashes (XXH64 of each page, in the order of the runs' pages) and the parent image
   * whose pages the runs of depth 1 and more refer to */
  uint64_t hashes_off, npages;
  char parent_dir[512];
  /* the file locks it held (struct amber_lock_rec), after the hashes */
  uint64_t locks_off;
  int32_t nlocks;
  /* The main thread had called pthread_exit (a zombie thread while the others run on): the
   * restored process's main thread starts every saved thread and exits the same way. */
  int32_t main_thread_gone;
  /* Children with a "continued" report (WCONTINUED) this process had not collected, by vpid:
   * the restorer makes each report again (tree.c). */
  int32_t ncontinued;
  int32_t continued[AMBER_MAX_CONTINUED];
  /* It shared its working directory, root and umask with its parent (CLONE_FS): the restorer
   * forks it so again. */
  int32_t fs_with_parent;
  int32_t pad3;
  /* AMBER_SECCOMP_*: Amber's seccomp filter and no_new_privs, set again by the restorer. */
  int32_t seccomp;
  /* Regions saved from the pages dirty-page tracking found written (agent_track.c), for stats. */
  int32_t dirty_tracked;
  /* Which arming of dirty-page tracking this image's memory is the state of (agent_track.c):
   * a child image with this parent may take the pages not written since from it; 0 if none. */
  uint64_t dirty_epoch;
  /* Pages that hold mostly zeros, stored packed (common/packed_page.h) instead of in the runs
   * and the table of page hashes: npacked records (struct amber_packed_rec, in rising address
   * order) at packed_off, then their bytes, packed_len bytes in all (ctl_share_pages.c packs
   * them once the image is written; 0 if none). */
  uint64_t packed_off, packed_len;
  int32_t npacked;
  uint32_t boottime_s; /* as monotonic_s, for CLOCK_BOOTTIME */
};

/* A packed page: its address, its XXH64 (of the whole page), and where its packed bytes are,
 * from the start of the packed section. Only private memory (AMBER_REGION_ANON and
 * AMBER_REGION_FILE) has packed pages; a restore writes each whole, eagerly, lazy or not. */
struct amber_packed_rec {
  uint64_t addr, hash;
  uint32_t off, len;
};

#define AMBER_SECCOMP_FILTER 1
#define AMBER_SECCOMP_NO_NEW_PRIVS 2
#define AMBER_SECCOMP_CREDS 4 /* Amber's second filter on top (seccomp_creds.h) */

/* Written by the restorer into the restored library before it resumes the threads. */
struct amber_restore_args {
  uint64_t restored; /* how many times this memory was restored */
  uint64_t restorer_start, restorer_end; /* the restorer's own mapping, to unmap */
  char app_dir[512];                     /* the new application's runtime directory */
  int32_t nprocesses;                    /* processes restored together (1: no broker) */
  int32_t pad;
  /* Opened by the restorer before the process takes its own credentials, which may not reach
   * the application's private directory: the tables (table_fd.c), the broker; -1 if none. */
  int32_t tables_fd, broker_fd;
  /* With main_thread_gone: the restorer's main thread's TID until it has exited (the kernel
   * clears it, a futex word), so that the restorer is unmapped only then. */
  int32_t main_tid;
  int32_t pad2;
};

/* A file descriptor as the agent saved it (kept in the library's memory for the restore, and
 * copied into the process file for `amber inspect`). */
enum amber_fd_kind {
  AMBER_FD_STDIO = 1,  /* one of the launcher's standard streams: reattached to the restorer's */
  AMBER_FD_FILE = 2,   /* a path reopened with its flags and offset */
  AMBER_FD_PIPE = 3,   /* one end of a pipe; the read end carries the unread bytes */
  AMBER_FD_SOCKET = 4, /* see socket_kind */
  AMBER_FD_EPOLL = 5,
  AMBER_FD_EVENTFD = 6,
  AMBER_FD_TIMERFD = 7,
  AMBER_FD_SIGNALFD = 8,
  AMBER_FD_MEMFD = 9,   /* a memfd: name, size, seals and bytes (fd_pathless.c) */
  AMBER_FD_DELETED = 10, /* a deleted file: path, size, mode and bytes (fd_pathless.c) */
  AMBER_FD_PTY = 11,     /* an end of a pseudo-terminal made in the application (fd_pty.c) */
  AMBER_FD_FIFO = 12,    /* a named FIFO: its path opened again, unread bytes refilled (fd_fifo.c) */
};

enum amber_socket_kind {
  AMBER_SOCK_LISTEN = 1, /* a listening TCP or Unix socket: bound and listening again */
  AMBER_SOCK_RESET = 2,  /* connected to a peer: comes back reset, as after a server restart */
  AMBER_SOCK_UNBOUND = 3,
  AMBER_SOCK_BOUND = 4,  /* bound (and for UDP perhaps connected), neither listening nor a stream */
  AMBER_SOCK_PAIR = 5,   /* a connected Unix socket: an end of a socket pair (fd_socketpair.c) */
  AMBER_SOCK_ESTABLISHED = 6, /* a TCP connection kept with TCP_REPAIR (fd_tcp.c) */
};

/* Where the far end of a connected Unix socket was at the snapshot. */
enum amber_peer_where {
  AMBER_PEER_CLOSED = 1,  /* no socket any more (closed, or a connection never accepted) */
  AMBER_PEER_INSIDE = 2,  /* held by a process of the application: the pair comes back whole */
  AMBER_PEER_OUTSIDE = 3, /* held outside the application: comes back reset */
  AMBER_PEER_LISTENER = 4, /* waiting in the accept queue of a listener of the application
                              (peer_ino): connected again (preload/fds/unix_backlog.c) */
};

struct amber_fd_rec {
  int32_t fd, kind;
  int32_t flags;   /* F_GETFL */
  int32_t fdflags; /* F_GETFD */
  int64_t offset;
  uint64_t ino;    /* pipe or socket inode: pairs the two ends of a pipe */
  int32_t domain, type, protocol, socket_kind;
  int32_t backlog, reuseaddr;
  int32_t pipe_size, write_end; /* for pipes */
  uint64_t data, data_len;      /* unread bytes (pipe, socket pair end): an address in the
                                   agent's buffer */
  uint64_t u[6];                /* kind-specific: eventfd count; timerfd clock, flags, times;
                                   signalfd mask */
  uint32_t addr_len, pad;
  uint8_t addr[112]; /* socket address */
  char path[256];
  /* Sharing with other processes of the application (agent_share.c): the description's owner
   * is the first process, in slot order, that holds it; only the owner re-creates it. */
  int32_t owner_vpid, owner_fd;
  /* The process and descriptor that re-create the object behind the description: for a pipe
   * end, the pipe (the first holder of a read end; 0 when no process of the application can
   * read it); for a memfd or deleted file, the file (its first holder: other descriptions open
   * it again). */
  int32_t creator_vpid, creator_fd;
  /* For a connected Unix socket (AMBER_SOCK_PAIR), saved while every process is frozen: the
   * peer's inode, where the peer is (enum amber_peer_where), both ends' shutdown bits
   * (RCV_SHUTDOWN 1, SEND_SHUTDOWN 2), both ends' SO_SNDBUF, this end's SO_PEEK_OFF and
   * SO_PASSCRED, and how many messages `data` holds: a datagram or seqpacket end keeps its
   * messages as a 4-byte length then the bytes, one after another; a stream end, the bytes.
   * one_way: a datagram socket connected to one that is not connected back, whose peer never
   * comes with it (it comes back as if the peer were outside). */
  uint64_t peer_ino;
  int32_t peer_where;
  uint8_t shutdown, peer_shutdown, passcred, one_way;
  int32_t sndbuf, peer_sndbuf;
  int32_t peek_off;
  uint32_t nmsgs;
  /* A file reopened by path (fd_file.c): the one it must find again (common/reopen.h). */
  uint64_t file_dev;
  int64_t file_size, file_mtime_ns;
  uint32_t file_mode, file_pad;
  int64_t file_btime_ns; /* 0 where the file system keeps no birth time */
  /* Who gets the description's SIGIO and SIGURG (F_GETOWN_EX: its type, and the process,
   * thread or group by virtual ID; 0 for none), and which signal (F_GETSIG) (fd_owner.c). */
  int32_t sigio_owner_type, sigio_owner_vid, sigio_signal, sigio_pad;
  /* The name of the kind's table of operations (fd_<kind>.c), for `amber inspect` of a kind
   * whose number image.h does not list. */
  char kind_name[16];
  /* A descriptor in flight (unix_rights.c): a file sent over a Unix socket and not received
   * yet, saved through a duplicate the agent peeked at. flight_sock: the receiving socket's
   * descriptor + 1 (0: an ordinary descriptor of the program); flight_at: the message it came
   * with (datagram, seqpacket), or, for a stream, where the bytes it came with begin, and
   * flight_end where they end; flight_held: the agent holds the duplicate open now. */
  int32_t flight_sock, flight_held;
  uint64_t flight_at, flight_end;
  /* An IP socket's options a new socket would not have (socket_options.c): each value at its
   * place in that file's table, bit i of sockopts_saved when it was read; the congestion
   * control's name. */
  int32_t sockopt[24];
  char congestion[16];
  uint32_t sockopts_saved, sockopts_pad;
};

/* Where a socket record's addr[112] holds more than the local address: the peer's address
 * (for a TCP connection, always: `amber inspect` names it), and a kept TCP connection's windows
 * (struct tcp_repair_window). */
#define AMBER_SOCK_PEER_OFF 56 /* both addresses fit for AF_INET and AF_INET6 */
#define AMBER_SOCK_WINDOW_OFF 84
/* A TCP listener's u[] slot: connections waiting to be accepted at the snapshot (not kept). */
#define AMBER_SOCK_WAITING 3

#define AMBER_EPOLL_MAX 8192 /* per process, all its epolls: a server registers each client */
struct amber_epoll_rec {
  int32_t epfd, tfd;
  uint32_t events, pad; /* pad: 1 + the descriptor that holds the file, if not tfd any more */
  uint64_t data;
};

/* A file lock held at the snapshot (fd_locks.c), taken again after a restore before the program
 * runs: a flock or OFD lock by the process that re-creates its open file description, a POSIX
 * lock by the process that held it, each through the descriptor it was seen on. */
enum amber_lock_kind {
  AMBER_LOCK_FLOCK = 1, /* flock(2): the open file description's */
  AMBER_LOCK_POSIX = 2, /* fcntl F_SETLK: the process's */
  AMBER_LOCK_OFD = 3,   /* fcntl F_OFD_SETLK: the open file description's */
};

struct amber_lock_rec {
  int32_t fd, kind;
  int32_t type, pad; /* F_RDLCK or F_WRLCK */
  int64_t start, end; /* bytes start to end, inclusive; end -1: to the end of the file */
};

/* Whether h is the header of a process file this build writes and reads (magic, version, size):
 * the one spelling of that check; image_check.h checks the rest of an untrusted header. */
static inline int amber_proc_header_ok(const struct amber_proc_header *h) {
  return h->magic == AMBER_PROC_MAGIC && h->version == AMBER_PROC_VERSION &&
         h->header_size == sizeof *h;
}

#endif /* AMBER_IMAGE_H */
