/* Copy-on-write snapshots: the process is frozen only while the handler captures what it
 * captures anyway and writes the memory a copy would not hold as it is now (shared memory,
 * MADV_DONTFORK and MADV_WIPEONFORK regions: agent_memory.c's amber_file_region_frozen);
 * then a copy of the process (fork: the kernel shares every private page copy-on-write)
 * writes the rest of the file while the program runs on. The copy holds the memory exactly as
 * it was at the freeze, whatever the program writes meanwhile.
 *
 * The copy must stay out of the program's sight: it is no child of the process (the program's
 * wait would see it) but a grandchild whose parent has exited, so the kernel gives it to the
 * application's supervisor, its subreaper, which reaps it with the rest (it has no row in the
 * tables). The intermediate shares the address space (CLONE_VM | CLONE_VFORK: no copy of the
 * page tables, and the handler waits until it is gone), has exit signal 0 so that no SIGCHLD
 * reaches the program, and is reaped here with __WALL before anything resumes. The copy runs
 * only this code (raw system calls, no locks, no atfork handlers), in a session of its own,
 * with every signal blocked and none of the program's descriptors but the file's.
 *
 * The copy reports WRITTEN (or FAILED, with the reason) in the process's slot; the coordinator
 * watches its pid meanwhile (table->cow_writer): a copy that dies without a word fails the
 * snapshot, which the application survives. An abort (phase ABORT) or a coordinator that is
 * gone makes it give up its file between batches of pages.
 *
 * The handler reads the memory map from /proc/self/maps: /proc/self/smaps, for each region's
 * VmFlags, walks every page table and costs as much as the fork (some 50 ms per GiB). The copy
 * reads its own smaps for them instead, the same but for what a fork does not copy: mlock
 * (so a process with locked memory reads smaps frozen) and MADV_DONTFORK and MADV_WIPEONFORK,
 * which the library sees made (wrap_madvise.c, or a region of the last snapshot's map) and
 * which the copy checks for: one made behind the library's back fails the snapshot, named. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../../common/vm_flags.h"
#include "agent.h"
#include "agent_cow.h"
#include "agent_defer.h"
#include "agent_file.h"
#include "agent_freeze_times.h"
#include "agent_lines.h"
#include "agent_precopy.h"
#include "agent_sink.h"
#include "agent_track.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif


static struct amber_ctl *ctl(void) { return &amber.table->ctl; }

volatile int amber_cow_regions_special;

#define AMBER_VM_SEEN 0x80000000u /* read_vm_flags: listed in smaps */

static int failed(const char *what, long err) {
  amber_fmt_error(amber_ckpt.error, sizeof amber_ckpt.error, what, err);
  return err < 0 ? (int)err : -EIO;
}

/* Each region's VmFlags, from the copy's own /proc/self/smaps: those of the mapping that holds
 * its start (the agent's own mappings since may have merged with a neighbour). */
struct flags_reader {
  int next;             /* regions are listed in address order in both */
  int first, last;      /* the regions that start in the current mapping */
  int err;
};

static int smaps_line(void *ctx, const char *line) {
  struct flags_reader *f = ctx;
  if ((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')) {
    const char *p = line;
    uint64_t start = 0, end = 0;
    amber_parse_u64(&p, &start, 16);
    if (*p == '-') p++;
    amber_parse_u64(&p, &end, 16);
    while (f->next < amber_file_regions() && amber_file_region(f->next)->start < start) f->next++;
    f->first = f->next;
    while (f->next < amber_file_regions() && amber_file_region(f->next)->start < end) f->next++;
    f->last = f->next;
  } else if (!strncmp(line, "VmFlags:", 8)) {
    uint32_t flags = amber_vm_flags_parse(line + 8) | AMBER_VM_SEEN;
    for (int i = f->first; i < f->last; i++) {
      struct amber_region_rec *r = amber_file_region(i);
      r->vm_flags = flags;
      if (flags & AMBER_VM_GROWSDOWN) r->flags |= AMBER_REGION_GROWSDOWN;
    }
  }
  return 0;
}

/* The flags; in the copy, with a check that it holds every region as the process did. */
static int read_vm_flags(int in_copy) {
  struct flags_reader f = {0, 0, 0, 0};
  int err = amber_read_lines("/proc/self/smaps", smaps_line, &f);
  if (err) return failed("cannot read /proc/self/smaps", err);
  for (int i = 0; i < amber_file_regions(); i++) {
    struct amber_region_rec *r = amber_file_region(i);
    int seen = (r->vm_flags & AMBER_VM_SEEN) != 0;
    r->vm_flags &= ~AMBER_VM_SEEN;
    int wiped = in_copy && (r->vm_flags & AMBER_VM_WIPEONFORK) && !amber_file_region_frozen(i);
    if (seen && !wiped) continue;
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "its memory at %lx-%lx was made %s with a system call that did not go through the "
              "C library, so a copy-on-write snapshot cannot copy it; take one with --stop",
              (unsigned long)r->start, (unsigned long)r->end,
              seen ? "MADV_WIPEONFORK" : "MADV_DONTFORK");
    return -EINVAL;
  }
  return 0;
}

/* Locked memory, in /proc/self/status (VmLck: N kB): a fork's copy has none. */
static int locked_memory(void) {
  static char status[4096];
  long n = amber_read_file("/proc/thread-self/status", status, sizeof status - 1);
  if (n <= 0) return 1; /* unknown: read smaps frozen */
  status[n] = 0;
  for (const char *p = status; *p; p++)
    if (!strncmp(p, "\nVmLck:", 7)) {
      p += 7;
      while (*p == ' ' || *p == '\t') p++;
      return *p != '0';
    }
  return 0;
}

/* Whether the memory map must be read with its flags while the process is frozen. */
static int flags_frozen(void) {
  if (amber_cow_regions_special || locked_memory()) return 1;
  for (int i = 0; i < amber_file_regions(); i++) /* the last snapshot's, or the image's */
    if (amber_file_region(i)->vm_flags &
        (AMBER_VM_DONTFORK | AMBER_VM_WIPEONFORK | AMBER_VM_LOCKED | AMBER_VM_LOCKONFAULT))
      return 1;
  return 0;
}

/* What the handler saved of the regions a copy would not hold: their runs and hashes, in
 * region order, for the copy (or the helper) to put in place among the others'. */
static int flags_read; /* the map was read with its flags, from smaps */
static struct kept {
  struct amber_run_rec *runs;
  uint64_t *hashes;
  uint64_t runs_cap, hashes_cap;
} kept[1];

/* The rest of the file, in the copy (or in the handler if no copy could be made, or in the
 * helper, from the record: agent_defer.h). */
static int write_rest(void) {
  struct page_writer *w = amber_file_writer();
  uint64_t hash_at = 0;
  int err = 0;
  for (int i = 0; i < amber_file_regions() && !err; i++) {
    struct amber_region_rec *r = amber_file_region(i);
    if (!amber_file_region_frozen(i)) {
      err = amber_file_save_region(i);
      continue;
    }
    const struct amber_run_rec *runs = kept[0].runs + r->first_run;
    uint64_t pages = 0;
    for (uint32_t n = 0; n < r->nruns; n++) pages += runs[n].npages;
    r->first_run = w->nruns;
    err = pages_take_runs(w, runs, (int)r->nruns, kept[0].hashes + hash_at);
    hash_at += pages;
  }
  return amber_file_end(err);
}

/* The library's zero-initialized data, from the linker's marks of its own bss. */
extern char __bss_start[] __attribute__((visibility("hidden")));
extern char _end[] __attribute__((visibility("hidden")));

static uint64_t own_data_bytes(void) { return (uint64_t)(_end - __bss_start); }

/* After a pre-copy, with every region's VmFlags known: are the pages left to write (those
 * written since, and the regions it did not copy) so few that writing them frozen costs less
 * than a copy of the process (fork copies its page tables: some 30 ms per GiB of 4 KiB pages,
 * where writing is some 0.5 ms per MiB)? Then no copy is made. */
static int few_left(void) {
  if (!amber_file_precopied() || !amber_file_flags_known()) return 0;
  uint64_t left = amber_track_written_pages() * AMBER_PAGE;
  for (int i = 0; i < amber_file_regions(); i++) {
    const struct pm_page_region *runs;
    uint64_t n;
    struct amber_region_rec *r = amber_file_region(i);
    if (amber_file_region_frozen(i) || amber_track_runs(i, &runs, &n)) continue;
    if (r->kind == AMBER_REGION_ANON || r->kind == AMBER_REGION_FILE) left += r->end - r->start;
  }
  uint64_t copied = amber_precopy_pages() * AMBER_PAGE, limit = copied / 32;
  /* the library's own data (its bss, some 7 MiB) is never tracked: left above that */
  uint64_t floor = own_data_bytes() + (4u << 20);
  return left <= (limit > floor ? limit : floor);
}

static int writer_cancelled(void) {
  if (__atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE) == AMBER_PHASE_ABORT) return 1;
  int32_t coordinator = ctl()->coordinator;
  return coordinator > 0 && amber_sys2(SYS_kill, coordinator, 0) == -ESRCH;
}

/* The copy: writes the file from its memory, reports, and ends. */
static __attribute__((noreturn)) void writer(void) {
  amber_sys0(SYS_setsid); /* a session of its own (the intermediate's is gone with it) */
  struct page_writer *w = amber_file_writer();
  struct amber_sink *s = amber_file_sink();
  /* None of the program's descriptors: a pipe's reader would wait for this one's end too. */
  if (s->fd > 0) amber_sys3(SYS_close_range, 0, s->fd - 1, 0);
  amber_sys3(SYS_close_range, s->fd + 1, ~0U, 0);
  /* Its own pagemap: the copy's pages, not the running program's. */
  w->pagemap_fd = (int)amber_sys3(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  s->cancelled = writer_cancelled;
  int err = w->pagemap_fd < 0 ? failed("cannot open /proc/self/pagemap", w->pagemap_fd) : 0;
  if (!err && !flags_read) err = read_vm_flags(1);
  err = err ? amber_file_end(err) : write_rest();
  struct amber_agent_slot *slot = amber_agent_my_slot();
  if (slot && err) {
    amber_fmt(slot->error, sizeof slot->error, "process %d: %s (written after it resumed)",
              amber.vpid, err == -ECANCELED ? "the snapshot was abandoned" : amber_ckpt.error);
    amber_agent_report(slot, AMBER_AGENT_FAILED);
  } else if (slot) {
    amber_agent_report(slot, AMBER_AGENT_WRITTEN);
  }
  amber_sys1(SYS_exit_group, err ? 1 : 0);
  __builtin_unreachable();
}

static void keep_runs(struct page_writer *w, struct kept *k) {
  *k = (struct kept){w->runs, w->hashes, w->max_runs, w->max_pages};
  w->runs = 0, w->hashes = 0;
  w->nruns = 0, w->npages = 0, w->max_runs = 0, w->max_pages = 0;
  w->parent_cursor = 0;
}

static void drop_frozen_runs(void) {
  for (int i = 0; i < 1; i++) {
    if (kept[i].runs) amber_sys2(SYS_munmap, kept[i].runs, kept[i].runs_cap * sizeof *kept[i].runs);
    if (kept[i].hashes) amber_sys2(SYS_munmap, kept[i].hashes, kept[i].hashes_cap * 8);
  }
  memset(kept, 0, sizeof kept);
}

/* The helper of a deferred write: a process of its own (as the copy is) that shares this
 * process's memory, so that it costs no copy of the page tables. It writes the file from the
 * record and from the library's and the handler's memory, which the program does not touch,
 * then unmaps what it used (the handler left it mapped) and its own stack, and ends. */
#define HELPER_STACK (256 * 1024)
static char *helper_stack;
/* The stack the running helper unmaps as it ends: its own variable, since the helper shares
 * this memory and helper_stack is cleared as soon as it is spawned. No other helper is made
 * before it ends (no snapshot begins while it writes). */
static char *helper_own_stack;

static __attribute__((noreturn)) void helper_exit(int code) {
  register long rdi __asm__("rdi") = (long)helper_own_stack;
  register long rsi __asm__("rsi") = HELPER_STACK;
  register long rdx __asm__("rdx") = code;
  /* No stack after the unmap: the exit follows in registers. */
  __asm__ volatile("syscall\n\t"
                   "mov %%rdx, %%rdi\n\t"
                   "mov %[exit], %%eax\n\t"
                   "syscall\n\t"
                   "ud2"
                   :
                   : "a"((long)SYS_munmap), "r"(rdi), "r"(rsi), "r"(rdx), [exit] "i"(SYS_exit)
                   : "rcx", "r11", "memory");
  __builtin_unreachable();
}

/* The control block's generation when the helper was made (phase WRITE). Its snapshot is over
 * when the phase went past RESUME: abandoned (the process was killed before it said CAPTURED,
 * and the snapshot is taken again without it), or another begun. The helper then says
 * nothing, and leaves no file. */
static uint32_t helper_gen;

static int attempt_over(void) {
  uint32_t gen = __atomic_load_n(&ctl()->generation, __ATOMIC_ACQUIRE);
  uint32_t phase = __atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE);
  return gen - helper_gen > 1 || (phase != AMBER_PHASE_WRITE && phase != AMBER_PHASE_RESUME);
}

static int helper_cancelled(void) { return writer_cancelled() || attempt_over(); }

/* The helper writes once the process is let go (the phase moved past WRITE: RESUME, or the
 * attempt is over). Made, it would otherwise take a CPU while the process is frozen: from the
 * intermediate whose exit the frozen handler waits for (1-8 ms of the freeze on a 2-core
 * machine), then from the coordinator that lets the process go. */
static void helper_wait_resume(void) {
  for (;;) {
    uint32_t gen = __atomic_load_n(&ctl()->generation, __ATOMIC_ACQUIRE);
    if (gen != helper_gen || __atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE) != AMBER_PHASE_WRITE) {
      amber_sys0(SYS_sched_yield); /* woken on the CPU of the handler that leaves: after it */
      return;
    }
    int32_t coordinator = ctl()->coordinator; /* gone: nothing lets it go */
    if (coordinator > 0 && amber_sys2(SYS_kill, coordinator, 0) == -ESRCH) return;
    amber_futex_wait(&ctl()->generation, gen, 1, 20);
  }
}

static __attribute__((noreturn, used)) void helper(void) {
  struct amber_agent_slot *slot = amber_agent_my_slot();
  /* Watched from here (the process may die before it says so): no snapshot begins meanwhile. */
  if (slot) amber.table->cow_writer[slot - ctl()->slots] = (int32_t)amber_sys_getpid();
  amber_sys0(SYS_setsid);
  uint64_t all = ~0ULL;
  amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  helper_wait_resume();
  struct amber_sink *s = amber_file_sink();
  if (s->fd > 0) amber_sys3(SYS_close_range, 0, s->fd - 1, 0);
  amber_sys3(SYS_close_range, s->fd + 1, ~0U, 0);
  amber_file_writer()->pagemap_fd = -1; /* the scans are the record's */
  s->cancelled = helper_cancelled;
  amber_defer_mode = AMBER_DEFER_REPLAY;
  amber_defer_test_delay();
  int err = write_rest();
  drop_frozen_runs();
  amber_defer_release();
  if (attempt_over()) { /* its file is no image's */
    char path[AMBER_CTL_PATH + 32];
    amber_fmt(path, sizeof path, AMBER_PROC_FILE_FMT, ctl()->image_dir, amber.vpid);
    if (!err) amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
    amber_defer_done();
    helper_exit(1);
  }
  if (slot && err) {
    amber_fmt(slot->error, sizeof slot->error, "process %d: %s (written after it resumed)",
              amber.vpid, err == -ECANCELED ? "the snapshot was abandoned" : amber_ckpt.error);
  }
  amber_defer_done();
  if (slot) amber_agent_report(slot, err ? AMBER_AGENT_FAILED : AMBER_AGENT_WRITTEN);
  helper_exit(err ? 1 : 0);
}

/* The intermediate runs on this stack, in the process's address space. */
static char spawn_stack[16384] __attribute__((aligned(64)));
static volatile long writer_pid;

/* clone(flags) with the child on `stack`, calling fn (which never returns); the pid, or
 * -errno. */
static long clone_on(long flags, char *stack, void (*fn)(void)) {
  register long r10 __asm__("r10") = 0;
  register long r8 __asm__("r8") = 0;
  register long r12 __asm__("r12") = (long)fn;
  long ret;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "call *%%r12\n\t" /* on the new stack, in the child; never returns */
                   "ud2\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long)SYS_clone), "D"(flags), "S"(stack), "d"(0L), "r"(r10), "r"(r8),
                     "r"(r12)
                   : "rcx", "r11", "memory");
  return ret;
}

static __attribute__((noreturn, used)) void intermediate(void) {
  /* Out of the program's session first: the exit of a member of its process group could
   * orphan the group, and the kernel would send the group SIGHUP and SIGCONT (which would
   * continue a stopped process, or end one that does not catch SIGHUP). */
  amber_sys0(SYS_setsid);
  long pid = helper_stack ? clone_on(CLONE_VM | SIGCHLD, helper_stack + HELPER_STACK, helper)
                          : amber_sys5(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* a fork: the copy */
  if (pid == 0) writer();
  writer_pid = pid;
  amber_sys1(SYS_exit, 0);
  __builtin_unreachable();
}

/* Makes the copy (or, with helper_stack, the helper); its pid, or -errno. The handler's
 * thread sleeps until the intermediate is gone (CLONE_VFORK), and reaps it. */
static long spawn_writer(void) {
  writer_pid = -ECHILD;
  long ret = clone_on(CLONE_VM | CLONE_VFORK, spawn_stack + sizeof spawn_stack, intermediate);
  if (ret < 0) return ret;
  int status;
  while (amber_sys4(SYS_wait4, ret, &status, __WALL, 0) == -EINTR) {}
  return writer_pid;
}

/* A copy-on-write snapshot was asked for, and a copy would go to the supervisor: not if the
 * process is a subreaper itself (it would get it). */
static int cow_wanted(void) {
  if (!(ctl()->flags & AMBER_SNAPSHOT_COW)) return 0;
  int subreaper = 0;
  return amber_sys2(SYS_prctl, 37 /* PR_GET_CHILD_SUBREAPER */, &subreaper) == 0 && !subreaper;
}

/* The copy (or helper) `pid` writes on: the coordinator watches it, and the slot says
 * CAPTURED unless it has written and said so already. */
static void writes_on(struct amber_agent_slot *slot, long pid) {
  amber.table->cow_writer[slot - ctl()->slots] = (int32_t)pid;
  int32_t expected = AMBER_AGENT_FROZEN;
  if (__atomic_compare_exchange_n(&slot->state, &expected, AMBER_AGENT_CAPTURED, 0,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    __atomic_add_fetch(&ctl()->reports, 1, __ATOMIC_ACQ_REL);
    amber_futex_wake(&ctl()->reports, 1);
  }
}

/* A fork of the program while a helper wrote gave this process its parent's state of that
 * write: the memory it names is the helper's to unmap, so it is forgotten, not unmapped. */
static void forget_inherited(void) {
  if (!amber_defer_inherited()) return;
  memset(kept, 0, sizeof kept);
  amber_track_forget_buffers();
  amber_precopy_forget();
  amber_file_forget_sections();
}

/* Pre-copied, with few pages left to write: what the write of the regions left reads of the
 * live process is recorded (their scans, and a copy of each page it reads: those written since
 * the pre-copy, the regions not tracked), nothing is written (a write now would wait for the
 * disk: the pre-copy left the page cache full of pages to write back), and a helper that
 * shares this process's memory writes the file after the thaw: the pre-copy's index of hashes
 * read and rewritten, the pages and the sections written. The helper's pid; or 0: the rest is
 * to be written now (a record or a helper that could not be had). */
static long defer_write(void) {
  int err = 0;
  amber_defer_begin();
  for (int i = 0; i < amber_file_regions() && !err; i++)
    if (!amber_file_region_frozen(i)) err = amber_file_save_region(i);
  amber_defer_mode = AMBER_DEFER_LIVE;
  amber_freeze_mark("recorded");
  if (!err) err = amber_file_keep_sections();
  long stack = err ? -ENOMEM
                   : amber_sys6(SYS_mmap, 0, HELPER_STACK, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long pid = stack < 0 && stack > -4096 ? stack : 0;
  if (!pid) {
    helper_stack = helper_own_stack = (char *)stack;
    helper_gen = __atomic_load_n(&ctl()->generation, __ATOMIC_ACQUIRE);
    amber_defer_started();
    pid = spawn_writer();
    helper_stack = 0; /* the helper has it; the next spawn is a copy unless said otherwise */
  }
  if (pid > 0) return pid;
  amber_defer_done();
  if (stack > 0 || stack < -4095) amber_sys2(SYS_munmap, stack, HELPER_STACK);
  amber_defer_release();
  amber_ckpt.error[0] = 0; /* what a record could not keep is written now instead */
  return 0;
}

int amber_cow_write(const char *dir, struct amber_agent_slot *slot) {
  forget_inherited();
  amber_defer_mode = AMBER_DEFER_LIVE; /* a restored image's library data was saved recording */
  if (!cow_wanted()) return amber_write_process_file(dir) ? -1 : 0;
  flags_read = flags_frozen();
  int err = amber_file_begin(dir, flags_read);
  struct page_writer *w = amber_file_writer();
  struct amber_sink *s = amber_file_sink();
  if (!err && s->stream) /* the coordinator asks for none with a FIFO, read in order */
    err = failed("a copy-on-write snapshot cannot stream its file", -EINVAL);
  for (int i = 0; i < amber_file_regions() && !err; i++)
    if (amber_file_region_frozen(i)) err = amber_file_save_region(i);
  if (!err) err = pages_write_batch(w); /* before the program changes what they point at */
  if (err) return amber_file_end(err) ? -1 : 0;
  amber_freeze_mark("frozen regions");
  keep_runs(w, &kept[0]);
  amber_file_track(); /* the last thing before the copy: what it finds written, the copy writes */
  amber_freeze_mark("tracked");
  if (few_left()) { /* pre-copied: what is left is cheaper to write now than a copy to make */
    int pagemap_fd = w->pagemap_fd, fd = s->fd; /* the helper changes them in its memory */
    long pid = defer_write();
    if (pid > 0) { /* the helper writes on; this process lets go of the file, nothing else */
      if (pagemap_fd >= 0) amber_sys1(SYS_close, pagemap_fd);
      amber_sys1(SYS_close, fd);
      writes_on(slot, pid);
      amber_freeze_mark("helper");
      return 1;
    }
    err = write_rest();
    drop_frozen_runs();
    return err ? -1 : 0;
  }
  helper_stack = 0;
  long pid = spawn_writer();
  amber_freeze_mark("forked");
  if (pid < 0) { /* no copy (no memory for one?): the rest now, as without copy-on-write */
    amber_log("cannot make a copy of the process to write its image (%ld): written frozen", pid);
    err = flags_read ? 0 : read_vm_flags(0);
    err = err ? amber_file_end(err) : write_rest();
    drop_frozen_runs();
    return err ? -1 : 0;
  }
  /* The copy has its own; this process lets go of its share of the file. */
  drop_frozen_runs();
  pages_release(w);
  amber_track_release();
  /* The pre-copy's index too: left mapped, the next snapshot would list it among the program's
   * regions and then unmap it, and its copy would not hold a region the image names. */
  amber_precopy_release();
  if (w->pagemap_fd >= 0) amber_sys1(SYS_close, w->pagemap_fd);
  amber_sys1(SYS_close, s->fd);
  s->fd = -1;
  writes_on(slot, pid);
  return 1;
}
