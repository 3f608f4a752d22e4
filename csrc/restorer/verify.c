/* Each saved page is checked as it is read in, against its XXH64 in the process file's table of
 * page hashes (whose own integrity the restore checked up front with the rest of the file's
 * metadata, src/image.ts). So an eager restore reads the image once, hashing each piece while it
 * is still in the cache, instead of hashing every file before it starts. The table is mapped
 * from the file, not read: a lazy restore looks only at the entries of the few pages it reads
 * in (its time must not grow with the memory), and checks the others, and the table with them
 * entry by entry, against the pages it maps once the program runs (supervisor/lazy_check.c). */
#include <sys/mman.h>

#include "../common/hash.h"
#include "restorer.h"

uint64_t *page_hashes;    /* hdr.npages, in the order of the runs' pages */
uint64_t *run_first_page; /* hdr.nruns: the index of each run's first page in page_hashes */

/* The address space the table takes, mapped from its file's page on. */
uint64_t page_hashes_span(void) {
  if (!hdr.npages) return 0;
  return ((hdr.hashes_off & (AMBER_PAGE - 1)) + hdr.npages * 8 + AMBER_PAGE - 1) &
         ~(uint64_t)(AMBER_PAGE - 1);
}

/* At `at`, which the restorer keeps with its lists (read_image checked that it is in the file). */
void map_page_hashes(int fd, uint64_t at) {
  uint64_t page = 0;
  for (int32_t i = 0; i < hdr.nruns; i++) run_first_page[i] = page, page += runs[i].npages;
  if (page != hdr.npages) die("the process file's page hashes do not match its runs", 0);
  page_hashes = (uint64_t *)at;
  if (!hdr.npages) return;
  uint64_t skew = hdr.hashes_off & (AMBER_PAGE - 1);
  long addr = amber_sys6(SYS_mmap, at, page_hashes_span(), PROT_READ,
                         MAP_PRIVATE | 0x100000 /* MAP_FIXED_NOREPLACE */, fd, hdr.hashes_off - skew);
  if (addr != (long)at) die("cannot map the process file's page hashes", addr);
  page_hashes = (uint64_t *)(at + skew);
}

/* A damaged page fails the restore with a message src/restore.ts turns into an ImageError. */
void __attribute__((noreturn)) damaged(uint64_t addr, uint32_t depth, int32_t vpid) {
  char msg[128] = "image damaged: page 0x";
  rt_append_num(msg, sizeof msg, (long)addr, 16);
  rt_append(msg, sizeof msg, " of " AMBER_PROC_FILE_PREFIX);
  rt_append_num(msg, sizeof msg, vpid ? vpid : hdr.vpid, 10); /* where it is stored */
  rt_append(msg, sizeof msg, AMBER_PROC_FILE_SUFFIX " at depth ");
  rt_append_num(msg, sizeof msg, depth, 10);
  rt_append(msg, sizeof msg, " does not match its checksum");
  die(msg, 0);
}

/* Reading a page only: a write would break its sharing. */
int same_page(const uint64_t *a, const uint64_t *b) {
  for (int i = 0; i < AMBER_PAGE / 8; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* A chunk at a time, so that each is hashed while it is in the cache. */
#define CHUNK (64 * AMBER_PAGE)

/* Into memory, or (compare) into a buffer, and from there only the pages that differ from
 * memory: a page kept from the parent (inherit.c) stays shared where it is the same. */
static void read_run(int fd, int run_index, int compare) {
  static char buffer[CHUNK];
  const struct amber_run_rec *run = &runs[run_index];
  const uint64_t *want = page_hashes + run_first_page[run_index];
  for (uint64_t done = 0; done < run->npages;) {
    uint64_t n = run->npages - done < CHUNK / AMBER_PAGE ? run->npages - done : CHUNK / AMBER_PAGE;
    uint64_t addr = run->addr + done * AMBER_PAGE;
    char *into = compare ? buffer : (char *)addr;
    long err = rt_pread_all(fd, into, n * AMBER_PAGE, run->data_off + done * AMBER_PAGE);
    if (err) die("cannot read saved pages", err);
    for (uint64_t i = 0; i < n; i++) {
      struct amber_hash h;
      amber_hash_init(&h);
      amber_hash_update(&h, into + i * AMBER_PAGE, AMBER_PAGE);
      if (amber_hash_final(&h) != want[done + i]) damaged(addr + i * AMBER_PAGE, run->depth, run->vpid);
      if (compare && !same_page((const uint64_t *)(addr + i * AMBER_PAGE),
                                (const uint64_t *)(into + i * AMBER_PAGE)))
        memcpy((void *)(addr + i * AMBER_PAGE), into + i * AMBER_PAGE, AMBER_PAGE);
    }
    done += n;
  }
}

void read_checked(int fd, int run_index) { read_run(fd, run_index, 0); }
void read_compared(int fd, int run_index) { read_run(fd, run_index, 1); }
