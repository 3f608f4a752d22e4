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

#include "../common/errno_name.h"
#include "restorer.h"

char restorer_stack[1 << 18] __attribute__((aligned(16)));
char *restorer_stack_top = restorer_stack + sizeof restorer_stack;

struct amber_proc_header hdr;
struct amber_thread_rec threads[MAX_THREADS];
struct amber_region_rec *regions;
struct amber_run_rec *runs;
int32_t *region_fds;
uint64_t restorer_end;
char image_dir[4096], image_path[4200], tables_path[4096];
int tables_fd = -1;

/* Failure: the reason goes into the new application's table, for `amber restore` to print. */
void __attribute__((noreturn)) die(const char *what, long err) {
  char msg[256] = "restorer: ";
  rt_append(msg, sizeof msg, what);
  if (err) {
    rt_append(msg, sizeof msg, " (");
    rt_append(msg, sizeof msg, amber_errno_name(err));
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

void process_path(char *out, int32_t vpid) {
  rt_copy(out, image_dir, 4200);
  rt_append(out, 4200, "/" AMBER_PROC_FILE_PREFIX);
  rt_append_num(out, 4200, vpid, 10);
  rt_append(out, 4200, AMBER_PROC_FILE_SUFFIX);
}

void __attribute__((noreturn)) die_about(const char *what, const char *name, long err) {
  char msg[200];
  rt_copy(msg, what, sizeof msg);
  rt_append(msg, sizeof msg, " ");
  rt_append(msg, sizeof msg, name);
  die(msg, err);
}

/* "process-N.img: what is wrong": the file's own name, so that a long path leaves room. */
void __attribute__((noreturn)) die_image(const char *path, const char *problem) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (*p == '/') base = p + 1;
  char msg[200];
  rt_copy(msg, base, sizeof msg);
  rt_append(msg, sizeof msg, ": ");
  rt_append(msg, sizeof msg, problem);
  die(msg, 0);
}

/* The process file at path, opened without following a link, and its size. */
int open_process_file(const char *path, uint64_t *size) {
  int fd = (int)open_image_file(path); /* with the image owner's permissions (identity.c) */
  if (fd < 0) die_about("cannot open the process file", path, fd);
  struct stat st;
  long err = amber_sys2(SYS_fstat, fd, &st);
  if (err || !S_ISREG(st.st_mode)) die_image(path, "not a regular file");
  *size = (uint64_t)st.st_size;
  return fd;
}

/* Every count, table and run of pages is checked against the file first (image_check.h). */
void read_image(void) {
  uint64_t size;
  int fd = open_process_file(image_path, &size);
  const char *problem = 0;
  if (rt_pread_all(fd, &hdr, sizeof hdr, 0)) problem = "it is not a complete Amber process file";
  if (!problem) problem = amber_image_header_problem(&hdr, size);
  if (!problem && (hdr.nthreads < 1 || hdr.nthreads > MAX_THREADS || hdr.nregions > (1 << 26) ||
                   hdr.nruns > (1 << 28)))
    problem = "its counts are out of range";
  if (problem) die_image(image_path, problem);
  /* The lists go right after the restorer's image, so that they stay when everything else is
   * unmapped, and go with the restorer. */
  if (hdr.npages > (1ULL << 40)) die("the process file's counts are out of range", 0);
  uint64_t firsts = (uint64_t)hdr.nruns * 8; /* verify.c's run_first_page */
  uint64_t lists = (uint64_t)hdr.nregions * sizeof *regions + (uint64_t)hdr.nruns * sizeof *runs +
                   (uint64_t)hdr.npacked * sizeof *packed +
                   (uint64_t)hdr.nregions * sizeof *region_fds + 8 + firsts;
  uint64_t at = restorer_lists_start();
  if (restorer_end > at) amber_sys2(SYS_munmap, at, restorer_end - at); /* a parent's (inherit.c) */
  uint64_t lists_end = at + ((lists + 4095) & ~4095ULL);
  restorer_end = lists_end + page_hashes_span(); /* the table of page hashes, mapped after them */
  if (lists) {
    long addr = amber_sys6(SYS_mmap, at, lists_end - at, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0);
    if (addr != (long)at) die("no memory for the lists of the process file", addr);
  }
  regions = (struct amber_region_rec *)at;
  runs = (struct amber_run_rec *)(at + (uint64_t)hdr.nregions * sizeof *regions);
  run_first_page = (uint64_t *)(at + ((lists - firsts) & ~7ULL)); /* 8-aligned, after region_fds */
  packed = (struct amber_packed_rec *)(runs + hdr.nruns);
  region_fds = (int32_t *)(packed + hdr.npacked);
  for (int i = 0; i < hdr.nregions; i++) region_fds[i] = -1;
  if (rt_pread_all(fd, threads, sizeof threads[0] * hdr.nthreads, hdr.threads_off) ||
      rt_pread_all(fd, regions, sizeof regions[0] * hdr.nregions, hdr.regions_off) ||
      rt_pread_all(fd, runs, sizeof runs[0] * hdr.nruns, hdr.runs_off))
    problem = "it is truncated";
  for (int i = 0; i < hdr.nregions && !problem; i++) {
    problem = amber_image_region_problem(&regions[i], &hdr);
    for (uint32_t k = 0; k < regions[i].nruns && !problem; k++)
      problem = amber_image_run_problem(&runs[regions[i].first_run + k], &regions[i], size);
  }
  if (problem) die_image(image_path, problem);
  read_packed(fd);
  map_page_hashes(fd, lists_end);
  amber_sys1(SYS_close, fd);
}

static int lazy, memory_restored;

/* The process's memory: its regions mapped and filled from its process file. `inherited`: a
 * parent's restorer forked this one once its own memory was back, which stays shared where the
 * child's is the same (inherit.c). */
static void restore_memory(int32_t vpid, int inherited) {
  process_path(image_path, vpid);
  choose_identity(vpid);
  read_image();
  mark_inherited(inherited);
  unmap_all_but_self();
  move_kernel_mappings();
  map_regions();
  attach_sysv_segments();
  fill_pages(lazy);
  memory_restored = 1;
}

/* In each process build_tree forks: a child of a restorer whose memory is back (its parent's, or
 * a helper's that donated it: tree.c) restores its own at once, before it forks its own
 * children. In a lazy restore every process restores its memory once the tree is whole. */
void tree_forked(int32_t vpid, int as_child) {
  int parent_restored = memory_restored;
  memory_restored = 0;
  if (as_child && parent_restored) restore_memory(vpid, 1);
}

/* In a helper that forks processes of the tree (tree.c): the memory of the first of them, so
 * that each it forks keeps what it shares with that one. A lazy restore maps memory only once
 * the tree is whole. */
void donate_memory(int32_t vpid) {
  if (!lazy) restore_memory(vpid, memory_restored);
}

void restorer_main(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc < 4) amber_sys1(SYS_exit_group, 2);
  for (long i = 4; i < argc; i++) {
    if (!strcmp(argv[i], "--lazy")) lazy = 1;
    else if (!strcmp(argv[i], "--as") && i + 1 < argc && !parse_ceiling(argv[i + 1])) i++;
    else amber_sys1(SYS_exit_group, 2);
  }
  rt_copy(image_dir, argv[1], sizeof image_dir);
  rt_copy(tables_path, argv[2], sizeof tables_path);
  tables_fd = (int)amber_sys3(SYS_openat, AT_FDCWD, tables_path, O_RDWR | O_CLOEXEC);
  if (tables_fd < 0) amber_sys1(SYS_exit_group, 3);
  const char *p = argv[3];
  int32_t root = 0;
  while (*p >= '0' && *p <= '9') root = root * 10 + (*p++ - '0');
  read_tree();
  keep_clocks(); /* before any fork: every process is born in its time namespace */
  make_shm_files(); /* before any process could open one */
  /* Memory before the fork, so that children share their parent's pages (a lazy restore maps
   * them from the image instead). */
  if (!lazy && tree_holds(root)) restore_memory(root, 0);
  int32_t self = build_tree(root);
  /* A root that had exited before the snapshot only forked the others: its work is done. */
  if (!tree_holds(self)) amber_sys1(SYS_exit_group, 0);
  if (!memory_restored) restore_memory(self, 0);
  set_mm_layout();
  connect_broker();
  restore_seccomp(); /* while the restorer may still (CAP_SYS_ADMIN) */
  take_identity();
  start_threads(); /* the tables' descriptor goes to the library (table_fd.c) */
}
