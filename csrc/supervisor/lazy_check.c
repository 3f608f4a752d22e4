/* The pages a lazy restore maps from the image go unread until the program touches them, so the
 * restore could not check them (src/restore.ts checks the metadata, page hashes included). This
 * thread checks them once the program runs, at the lowest priority: each page of each process
 * file's runs against its XXH64, in this image or up its chain of parents. A damaged page ends
 * the application (SIGKILL to every process: it may be using the page already) with an error
 * that names the page and the file, in the tables while it ends and in its exit record. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/image.h"
#include "../common/image_check.h"
#include "supervisor.h"

static struct amber_table *table;
static char image_dir[4096];
static char damage[256]; /* what was found damaged, once */

static int read_at(int fd, void *buf, uint64_t len, uint64_t off) {
  for (char *p = buf; len;) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n, len -= (uint64_t)n, off += (uint64_t)n;
  }
  return 0;
}

/* The process file of vpid `depth` images up from dir, its header in *h; -1 if it cannot be
 * opened (the restore itself would have failed then). */
static int open_at_depth(const char *dir, int32_t vpid, uint32_t depth,
                         struct amber_proc_header *h) {
  char path[4200];
  snprintf(path, sizeof path, "%s/process-%d.img", dir, vpid);
  for (uint32_t d = 0;; d++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0) return -1;
    if (fstat(fd, &st) || read_at(fd, h, sizeof *h, 0) ||
        amber_image_header_problem(h, (uint64_t)st.st_size)) {
      close(fd);
      return -1;
    }
    if (d == depth) return fd;
    close(fd);
    if (!h->parent_dir[0] || !amber_image_ends(h->parent_dir, sizeof h->parent_dir)) return -1;
    snprintf(path, sizeof path, "%s/process-%d.img", h->parent_dir, vpid);
  }
}

/* 1 if a page of the process file `name` is damaged (described in `damage`), else 0. */
static int check_file(const char *name) {
  static struct amber_proc_header h, up;
  int32_t vpid;
  char tail[8] = "";
  if (sscanf(name, "process-%d%7s", &vpid, tail) != 2 || strcmp(tail, ".img")) return 0;
  int fd = open_at_depth(image_dir, vpid, 0, &h);
  if (fd < 0) return 0;
  struct amber_run_rec *runs = malloc((uint64_t)h.nruns * sizeof *runs + 1);
  uint64_t *hashes = malloc(h.npages * 8 + 1);
  enum { CHUNK = 64 };
  char *chunk = malloc(CHUNK * AMBER_PAGE);
  int fds[AMBER_MAX_DEPTH];
  for (int d = 0; d < AMBER_MAX_DEPTH; d++) fds[d] = d ? -1 : fd;
  int bad = 0;
  if (runs && hashes && chunk && !read_at(fd, runs, (uint64_t)h.nruns * sizeof *runs, h.runs_off) &&
      !read_at(fd, hashes, h.npages * 8, h.hashes_off)) {
    uint64_t page = 0;
    for (int32_t i = 0; i < h.nruns && !bad; i++) {
      const struct amber_run_rec *run = &runs[i];
      if (run->depth >= AMBER_MAX_DEPTH || page + run->npages > h.npages) break;
      /* A page stored once, in another process's file (its parent's: ctl_share_pages.c). */
      int32_t in = run->vpid > 0 ? run->vpid : vpid;
      int other = in != vpid ? open_at_depth(image_dir, in, run->depth, &up) : -1;
      if (in == vpid && fds[run->depth] < 0)
        fds[run->depth] = open_at_depth(image_dir, vpid, run->depth, &up);
      int from = in != vpid ? other : fds[run->depth];
      for (uint64_t done = 0; done < run->npages && from >= 0 && !bad;) {
        uint64_t n = run->npages - done < CHUNK ? run->npages - done : CHUNK;
        uint64_t off = run->data_off + done * AMBER_PAGE;
        if (read_at(from, chunk, n * AMBER_PAGE, off)) break;
        for (uint64_t k = 0; k < n && !bad; k++) {
          struct amber_hash x;
          amber_hash_init(&x);
          amber_hash_update(&x, chunk + k * AMBER_PAGE, AMBER_PAGE);
          if (amber_hash_final(&x) == hashes[page + done + k]) continue;
          snprintf(damage, sizeof damage,
                   "image damaged: page 0x%llx of process-%d.img at depth %u does not match its "
                   "checksum (found after a lazy restore; the application was ended)",
                   (unsigned long long)(run->addr + (done + k) * AMBER_PAGE), in, run->depth);
          bad = 1;
        }
        done += n;
      }
      if (other >= 0) close(other);
      page += run->npages;
    }
  }
  for (int d = 0; d < AMBER_MAX_DEPTH; d++)
    if (fds[d] >= 0) close(fds[d]);
  free(runs);
  free(hashes);
  free(chunk);
  return bad;
}

/* Every process of the application, SIGKILLed: the supervisor then reaps them and exits. */
static void end_application(void) {
  snprintf(table->error, sizeof table->error, "%s", damage);
  __atomic_store_n(&table->state, AMBER_APP_FAILED, __ATOMIC_RELEASE);
  amber_table_lock(table);
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &table->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_PROCESS) && r->sid > 0)
      kill(r->sid, SIGKILL);
  }
  amber_table_unlock(table);
}

/* The check starts once every process runs again (30 s at most, a restore's own limit): it must
 * not slow the restore down. */
static void wait_resumed(void) {
  for (int tries = 0; tries < 3000; tries++) {
    uint32_t n = __atomic_load_n(&table->ctl.nslots, __ATOMIC_ACQUIRE), resumed = 0;
    for (uint32_t i = 0; i < n && i < AMBER_CTL_MAX_PROCS; i++) {
      int32_t state = __atomic_load_n(&table->ctl.slots[i].state, __ATOMIC_ACQUIRE);
      resumed += state == AMBER_AGENT_RESUMED;
    }
    if (n && resumed == n) return;
    usleep(10 * 1000);
  }
}

static void *check_all(void *arg) {
  (void)arg;
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  wait_resumed();
  DIR *d = opendir(image_dir);
  if (!d) return NULL;
  struct dirent *e;
  int bad = 0;
  while (!bad && (e = readdir(d))) bad = check_file(e->d_name);
  closedir(d);
  if (bad) end_application();
  return NULL;
}

void sup_lazy_check_start(struct amber_table *t, const char *dir) {
  table = t;
  snprintf(image_dir, sizeof image_dir, "%s", dir);
  sup_thread_start(check_all);
}

const char *sup_lazy_damage(void) {
  return damage[0] ? damage : NULL;
}
