/* amber-restorer <image dir> <tables file> <root vpid> [--lazy]: turns an image back into the
 * application's processes. It first rebuilds the process tree, parents first (each process a
 * fork of its parent's restorer, with its session and process group; an orphan a sibling of
 * the root, as a child of the supervisor), then each process turns its own process file back
 * into a running process, in place of itself.
 *
 * It is linked far from where programs live and runs on a stack inside its own image, so it
 * can unmap everything else: the kernel's stack, and later the rest. It moves the kernel's
 * vDSO and vvar to where the program had them, maps the program's regions back at their
 * addresses (files mapped again, saved pages read in), sets the kernel's view of the memory
 * layout (brk, arguments, auxv), then starts one thread per saved thread, each resuming at the
 * point where it saved its registers inside the agent. The agent takes it from there. */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "../common/image.h"
#include "../common/table.h"
#include "rt.h"

#define MAX_REGIONS 4096
#define MAX_RUNS 65536
#define THREAD_STACK 16384

char restorer_stack[1 << 18] __attribute__((aligned(16)));
char *restorer_stack_top = restorer_stack + sizeof restorer_stack;
extern char __executable_start[], _end[];

static struct amber_proc_header hdr;
static struct amber_thread_rec threads[256];
static struct amber_region_rec regions[MAX_REGIONS];
static struct amber_run_rec runs[MAX_RUNS];
static char thread_stacks[256][THREAD_STACK] __attribute__((aligned(16)));
static char maps_text[1 << 16];
static char image_dir[4096], image_path[4200], tables_path[4096];
static int tables_fd = -1;

/* The process tree, from the headers of every process file. */
#define MAX_PROCS AMBER_CTL_MAX_PROCS
struct proc_node {
  int32_t vpid, ppid, pgid, sid;
};
static struct proc_node procs[MAX_PROCS];
static int nprocs;
static struct amber_table *table; /* the new application's tables, while the tree is built */
static int32_t supervisor_vpid;

void restorer_resume(const struct amber_ctx *ctx) __attribute__((noreturn));
long restorer_spawn_thread(long flags, void *stack, uint64_t tls, const struct amber_ctx *ctx);

/* Failure: the reason goes into the new application's table, for `amber restore` to print. */
static void __attribute__((noreturn)) die(const char *what, long err) {
  char msg[256] = "restorer: ";
  rt_append(msg, sizeof msg, what);
  if (err) {
    rt_append(msg, sizeof msg, " (error ");
    rt_append_num(msg, sizeof msg, -err, 10);
    rt_append(msg, sizeof msg, ")");
  }
  if (tables_fd >= 0) {
    int32_t failed = AMBER_APP_FAILED;
    amber_sys4(SYS_pwrite64, tables_fd, msg, strlen(msg) + 1,
               __builtin_offsetof(struct amber_table, error));
    amber_sys4(SYS_pwrite64, tables_fd, &failed, sizeof failed,
               __builtin_offsetof(struct amber_table, state));
  }
  amber_sys1(SYS_exit_group, 70);
  __builtin_unreachable();
}

static void process_path(char *out, int32_t vpid) {
  rt_copy(out, image_dir, 4200);
  rt_append(out, 4200, "/process-");
  rt_append_num(out, 4200, vpid, 10);
  rt_append(out, 4200, ".img");
}

static void __attribute__((noreturn)) die_about(const char *what, const char *name, long err) {
  char msg[200];
  rt_copy(msg, what, sizeof msg);
  rt_append(msg, sizeof msg, " ");
  rt_append(msg, sizeof msg, name);
  die(msg, err);
}

static void read_image(void) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, image_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open the process file", fd);
  if (rt_pread_all(fd, &hdr, sizeof hdr, 0) || hdr.magic != AMBER_PROC_MAGIC ||
      hdr.version != AMBER_PROC_VERSION || hdr.header_size != sizeof hdr)
    die("the process file is not a complete Amber process file", 0);
  if (hdr.nthreads < 1 || hdr.nthreads > 256 || hdr.nregions > MAX_REGIONS || hdr.nruns > MAX_RUNS)
    die("the process file's counts are out of range", 0);
  if (rt_pread_all(fd, threads, sizeof threads[0] * hdr.nthreads, hdr.threads_off) ||
      rt_pread_all(fd, regions, sizeof regions[0] * hdr.nregions, hdr.regions_off) ||
      rt_pread_all(fd, runs, sizeof runs[0] * hdr.nruns, hdr.runs_off))
    die("the process file is truncated", 0);
  amber_sys1(SYS_close, fd);
}

struct mapping {
  uint64_t start, end;
  char name[32];
};

/* This process's mappings as the kernel lists them. */
static int own_mappings(struct mapping *out, int cap) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
  if (fd < 0) die("cannot read /proc/self/maps", fd);
  long len = 0, n;
  while ((n = amber_sys3(SYS_read, fd, maps_text + len, sizeof maps_text - 1 - len)) > 0) len += n;
  amber_sys1(SYS_close, fd);
  maps_text[len] = 0;
  int count = 0;
  for (const char *p = maps_text; *p && count < cap;) {
    struct mapping *m = &out[count++];
    rt_parse_hex(&p, &m->start);
    p++;
    rt_parse_hex(&p, &m->end);
    m->name[0] = 0;
    const char *eol = p;
    while (*eol && *eol != '\n') eol++;
    const char *name = eol;
    while (name > p && name[-1] != ' ') name--;
    int k = 0;
    while (name + k < eol && k < 31) m->name[k] = name[k], k++;
    m->name[k] = 0;
    p = *eol ? eol + 1 : eol;
  }
  return count;
}

static int is_special(const char *name) {
  return !strcmp(name, "[vdso]") || !strncmp(name, "[vvar", 5);
}

/* Everything but the restorer itself and the kernel's own mappings goes. */
static void unmap_all_but_self(void) {
  static struct mapping maps[256];
  int n = own_mappings(maps, 256);
  uint64_t self_start = (uint64_t)__executable_start & ~4095ULL;
  uint64_t self_end = ((uint64_t)_end + 4095) & ~4095ULL;
  for (int i = 0; i < n; i++) {
    if (maps[i].start >= self_start && maps[i].end <= self_end) continue;
    if (is_special(maps[i].name) || !strcmp(maps[i].name, "[vsyscall]")) continue;
    amber_sys2(SYS_munmap, maps[i].start, maps[i].end - maps[i].start);
  }
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].start < self_end && regions[i].end > self_start)
      die("the program had memory where the restorer lives", 0);
}

/* The kernel's vDSO and vvar move to where the program expects them: its libc keeps pointers
 * into the vDSO. The image was checked to come from the same kernel, so sizes match. */
static void move_kernel_mappings(void) {
  static struct mapping maps[256];
  int n = own_mappings(maps, 256);
  const uint64_t scratch = 0x200000000000ULL;
  uint64_t parked[8] = {0};
  int moved = 0;
  /* Out of every target's way first, then into place. */
  for (int i = 0; i < n && moved < 8; i++) {
    if (!is_special(maps[i].name)) continue;
    uint64_t len = maps[i].end - maps[i].start;
    uint64_t to = scratch + (uint64_t)moved * 0x100000;
    long r = amber_sys5(SYS_mremap, maps[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    if (r < 0) die("cannot move the vDSO", r);
    parked[moved++] = to;
    maps[i].start = to, maps[i].end = to + len;
  }
  for (int i = 0; i < n; i++) {
    if (!is_special(maps[i].name)) continue;
    uint64_t len = maps[i].end - maps[i].start;
    const struct amber_region_rec *target = 0;
    for (int k = 0; k < hdr.nregions; k++)
      if (regions[k].kind == AMBER_REGION_SPECIAL && !strcmp(regions[k].name, maps[i].name))
        target = &regions[k];
    if (!target) {
      amber_sys2(SYS_munmap, maps[i].start, len);
      continue;
    }
    if (target->end - target->start != len) die("the kernel's vDSO differs from the image's", 0);
    long r = amber_sys5(SYS_mremap, maps[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
                        target->start);
    if (r < 0) die("cannot move the vDSO into place", r);
  }
  (void)parked;
}

static void map_region(const struct amber_region_rec *r) {
  uint64_t len = r->end - r->start;
  long addr;
  int fd;
  switch (r->kind) {
  case AMBER_REGION_ANON:
    addr = amber_sys6(SYS_mmap, r->start, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
                          (r->flags & AMBER_REGION_GROWSDOWN ? MAP_GROWSDOWN : 0),
                      -1, 0);
    break;
  case AMBER_REGION_ANON_SHARED:
    addr = amber_sys6(SYS_mmap, r->start, len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    break;
  case AMBER_REGION_FILE:
  case AMBER_REGION_FILE_SHARED: {
    int shared = r->kind == AMBER_REGION_FILE_SHARED;
    int rw = shared && (r->prot & PROT_WRITE);
    fd = (int)amber_sys3(SYS_openat, AT_FDCWD, r->name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) die_about("cannot open a file the program had mapped:", r->name, fd);
    if (!shared) {
      struct stat st;
      long e = amber_sys2(SYS_fstat, fd, &st);
      if (e < 0 || st.st_size != r->file_size ||
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != r->file_mtime_ns)
        die_about("a file the program had mapped changed since the snapshot:", r->name, 0);
    }
    addr = amber_sys6(SYS_mmap, r->start, len, shared ? r->prot : PROT_READ | PROT_WRITE,
                      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, r->pgoff);
    amber_sys1(SYS_close, fd);
    break;
  }
  case AMBER_REGION_TABLES:
    addr = amber_sys6(SYS_mmap, r->start, len, r->prot, MAP_SHARED | MAP_FIXED, tables_fd, 0);
    break;
  default:
    return;
  }
  if (addr < 0 && addr > -4096) die("cannot map a memory region back", addr);
}

static void attach_sysv_segments(void) {
  const struct amber_table *t = 0;
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind == AMBER_REGION_TABLES) t = (const struct amber_table *)regions[i].start;
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    if (r->kind != AMBER_REGION_SYSV_SHM) continue;
    int64_t slot = (int64_t)r->shmid - AMBER_VIPC_BASE;
    if (!t || slot < 0 || slot >= AMBER_TABLE_ROWS || t->rows[AMBER_KIND_SHM][slot].state != AMBER_ROW_LIVE ||
        t->rows[AMBER_KIND_SHM][slot].sid < 0)
      die("a SysV segment of the image was not re-created", 0);
    long addr = amber_sys3(SYS_shmat, t->rows[AMBER_KIND_SHM][slot].sid, r->start,
                           SHM_REMAP | (r->prot & PROT_WRITE ? 0 : SHM_RDONLY));
    if (addr < 0 && addr > -4096) die("cannot attach a SysV segment", addr);
  }
}

/* Saved pages are read in; or, lazily, the private anonymous ones are mapped straight from the
 * image (its pages are page-aligned for that), and come in from the page cache or the disk
 * when the program first touches them. */
static void fill_pages(int lazy) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, image_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open the process file", fd);
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    int map = lazy && r->kind == AMBER_REGION_ANON && !(r->flags & AMBER_REGION_GROWSDOWN);
    for (uint32_t k = 0; k < r->nruns; k++) {
      const struct amber_run_rec *run = &runs[r->first_run + k];
      uint64_t len = run->npages * AMBER_PAGE;
      if (map) {
        long addr = amber_sys6(SYS_mmap, run->addr, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_FIXED, fd, run->data_off);
        if (addr < 0 && addr > -4096) die("cannot map saved pages from the image", addr);
      } else {
        long err = rt_pread_all(fd, (void *)run->addr, len, run->data_off);
        if (err) die("cannot read saved pages", err);
      }
    }
  }
  amber_sys1(SYS_close, fd);
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    if (r->kind == AMBER_REGION_ANON || r->kind == AMBER_REGION_ANON_SHARED ||
        r->kind == AMBER_REGION_FILE)
      amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot);
  }
}

/* The kernel's record of the layout: brk for malloc, arguments and environment for /proc. */
static void set_mm_layout(void) {
  struct prctl_mm_map map = {
      .start_code = hdr.start_code, .end_code = hdr.end_code,
      .start_data = hdr.start_data, .end_data = hdr.end_data,
      .start_brk = hdr.start_brk, .brk = hdr.brk,
      .start_stack = hdr.start_stack,
      .arg_start = hdr.arg_start, .arg_end = hdr.arg_end,
      .env_start = hdr.env_start, .env_end = hdr.env_end,
      .auxv = (__u64 *)hdr.auxv, .auxv_size = hdr.auxv_words * 8,
      .exe_fd = (uint32_t)-1,
  };
  long r = amber_sys5(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
  if (r < 0) die("the kernel refused the memory layout (prctl PR_SET_MM_MAP)", r);
  amber_sys2(SYS_prctl, PR_SET_NAME, hdr.comm);
}

static void start_threads(void) {
  struct amber_restore_args *args = (struct amber_restore_args *)hdr.restore_args_addr;
  args->restored++;
  args->restorer_start = (uint64_t)__executable_start & ~4095ULL;
  args->restorer_end = ((uint64_t)_end + 4095) & ~4095ULL;
  rt_copy(args->app_dir, tables_path, sizeof args->app_dir);
  for (int i = (int)strlen(args->app_dir) - 1; i > 0 && args->app_dir[i] != '/'; i--)
    args->app_dir[i] = 0;
  if (strlen(args->app_dir) > 1) args->app_dir[strlen(args->app_dir) - 1] = 0;
  args->nprocesses = nprocs;
  uint64_t all = ~0ULL;
  amber_sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, &all, 0, 8);
  const long flags = 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 | 0x00010000 |
                     0x00040000 | 0x00080000; /* VM FS FILES SIGHAND THREAD SYSVSEM SETTLS */
  const struct amber_thread_rec *leader = &threads[0];
  for (int i = 0; i < hdr.nthreads; i++) {
    if (threads[i].leader) {
      leader = &threads[i];
      continue;
    }
    long r = restorer_spawn_thread(flags, thread_stacks[i] + THREAD_STACK, threads[i].fs_base,
                                   &threads[i].ctx);
    if (r < 0) die("cannot start a thread", r);
  }
  amber_sys2(SYS_arch_prctl, ARCH_SET_FS, leader->fs_base);
  restorer_resume(&leader->ctx);
}

static void read_tree(void) {
  long addr = amber_sys6(SYS_mmap, 0, sizeof(struct amber_table), PROT_READ | PROT_WRITE,
                         MAP_SHARED, tables_fd, 0);
  if (addr < 0 && addr > -4096) die("cannot map the tables", addr);
  table = (struct amber_table *)addr;
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID]; i++)
    if (table->rows[AMBER_KIND_PID][i].state == AMBER_ROW_LIVE &&
        (table->rows[AMBER_KIND_PID][i].flags & AMBER_PID_SUPERVISOR))
      supervisor_vpid = table->rows[AMBER_KIND_PID][i].vid;
  for (uint32_t i = 0; i < table->ctl.nslots && nprocs < MAX_PROCS; i++) {
    struct proc_node *p = &procs[nprocs++];
    p->vpid = table->ctl.slots[i].vpid;
    process_path(image_path, p->vpid);
    int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, image_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open a process file", fd);
    if (rt_pread_all(fd, &hdr, sizeof hdr, 0) || hdr.magic != AMBER_PROC_MAGIC ||
        hdr.header_size != sizeof hdr)
      die("a process file is not complete", 0);
    amber_sys1(SYS_close, fd);
    p->ppid = hdr.ppid, p->pgid = hdr.pgid, p->sid = hdr.sid;
  }
}

static const struct proc_node *find_proc(int32_t vpid) {
  for (int i = 0; i < nprocs; i++)
    if (procs[i].vpid == vpid) return &procs[i];
  return 0;
}

static int32_t system_pid(int32_t vpid) {
  int64_t slot = (int64_t)vpid - AMBER_VPID_BASE;
  return slot >= 0 && slot < AMBER_TABLE_ROWS ? table->rows[AMBER_KIND_PID][slot].sid : -1;
}

static void set_system_pid(int32_t vpid, int32_t pid) {
  int64_t slot = (int64_t)vpid - AMBER_VPID_BASE;
  if (slot >= 0 && slot < AMBER_TABLE_ROWS)
    __atomic_store_n(&table->rows[AMBER_KIND_PID][slot].sid, pid, __ATOMIC_RELEASE);
}

/* In a newly forked process: its session and process group, as they were. A session or group
 * whose leader has exited cannot be made again with that leader; the process then leads one
 * of its own (the first of its members to be restored does). The parent makes the same
 * setpgid call, as a shell does, so neither order of the two races. */
static void join_session_and_group(const struct proc_node *p) {
  int session_gone = p->sid != p->vpid && !find_proc(p->sid) && p->sid != supervisor_vpid;
  if (p->sid == p->vpid || session_gone) amber_sys0(SYS_setsid);
  int32_t leader = system_pid(p->pgid);
  if (p->pgid == p->vpid || !find_proc(p->pgid)) amber_sys2(SYS_setpgid, 0, 0);
  else if (leader > 0) amber_sys2(SYS_setpgid, 0, leader);
}

static void place_in_group(const struct proc_node *p, int32_t pid) {
  if (p->pgid == p->vpid) amber_sys2(SYS_setpgid, pid, pid);
  else if (find_proc(p->pgid) && system_pid(p->pgid) > 0)
    amber_sys2(SYS_setpgid, pid, system_pid(p->pgid));
}

/* Forks the children of `self` (and, for the root, the orphans, as its siblings), each of which
 * does the same for its own; returns the vpid this process is to become. */
static int32_t build_tree(int32_t self) {
  for (int i = 0; i < nprocs; i++) {
    const struct proc_node *p = &procs[i];
    if (p->vpid == self) continue;
    int orphan = !find_proc(p->ppid);
    int child = p->ppid == self;
    int sibling = self == table->root_vpid && (orphan || p->ppid == supervisor_vpid);
    if (!child && !sibling) continue;
    long flags = 17 /* SIGCHLD */ | (sibling ? 0x00008000 /* CLONE_PARENT */ : 0);
    long pid = amber_sys5(SYS_clone, flags, 0, 0, 0, 0);
    if (pid < 0) die("cannot fork a process of the tree", pid);
    if (pid == 0) {
      join_session_and_group(p);
      set_system_pid(p->vpid, (int32_t)amber_sys0(SYS_getpid));
      return build_tree(p->vpid);
    }
    set_system_pid(p->vpid, (int32_t)pid);
    place_in_group(p, (int32_t)pid);
  }
  return self;
}

void restorer_main(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc != 4 && argc != 5) amber_sys1(SYS_exit_group, 2);
  int lazy = argc == 5 && !strcmp(argv[4], "--lazy");
  rt_copy(image_dir, argv[1], sizeof image_dir);
  rt_copy(tables_path, argv[2], sizeof tables_path);
  tables_fd = (int)amber_sys3(SYS_openat, AT_FDCWD, tables_path, O_RDWR | O_CLOEXEC);
  if (tables_fd < 0) amber_sys1(SYS_exit_group, 3);
  const char *p = argv[3];
  int32_t root = 0;
  while (*p >= '0' && *p <= '9') root = root * 10 + (*p++ - '0');
  read_tree();
  int32_t self = build_tree(root);
  process_path(image_path, self);
  read_image();
  unmap_all_but_self();
  move_kernel_mappings();
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind == AMBER_REGION_TABLES) map_region(&regions[i]);
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind != AMBER_REGION_TABLES) map_region(&regions[i]);
  attach_sysv_segments();
  fill_pages(lazy);
  set_mm_layout();
  amber_sys1(SYS_close, tables_fd);
  start_threads();
}
