/* The restorer's parts and the state they share. One file each: restorer.c (arguments,
 * failure, reading the process file), tree.c (the process tree), memory.c (the address space),
 * resume.c (the kernel's layout, the threads). */
#ifndef AMBER_RESTORER_H
#define AMBER_RESTORER_H

#include "../common/image.h"
#include "../common/image_check.h"
#include "../common/table.h"
#include "rt.h"

#define MAX_THREADS 256
#define MAX_PROCS AMBER_CTL_MAX_PROCS

extern char __executable_start[], _end[];

extern struct amber_proc_header hdr;
extern struct amber_thread_rec threads[MAX_THREADS];
extern struct amber_region_rec *regions; /* as many as the process file has, mapped */
extern struct amber_run_rec *runs;        /* right after the restorer's image */
extern int32_t *region_fds; /* the file a region is mapped on, while regions are mapped */
extern uint64_t restorer_end; /* the end of the restorer and of those lists: all of it goes */
/* The end of the restorer's image and of the tables the tree is read from (tree.c), where the
 * lists begin. */
static inline uint64_t restorer_image_end(void) { return ((uint64_t)_end + 4095) & ~4095ULL; }
static inline uint64_t restorer_lists_start(void) {
  return restorer_image_end() + ((sizeof(struct amber_table) + 4095) & ~4095ULL);
}
extern char image_dir[4096], image_path[4200], tables_path[4096];
extern int tables_fd;

/* restorer.c */
void __attribute__((noreturn)) die(const char *what, long err);
void restore_seccomp(void); /* seccomp.c */
void __attribute__((noreturn)) die_about(const char *what, const char *name, long err);
void process_path(char *out, int32_t vpid);
void read_image(void);
int open_process_file(const char *path, uint64_t *size); /* dies if it is not a regular file */
void __attribute__((noreturn)) die_image(const char *path, const char *problem);

/* tree.c: forks the tree from the root; returns the vpid this process is to become */
void read_tree(void);
int32_t build_tree(int32_t self);
int tree_size(void); /* how many processes are restored together */
int tree_holds(int32_t vpid); /* is it one of them (the root may have exited before the snapshot) */
void tree_forked(int32_t vpid, int as_child); /* restorer.c: in each process the tree forks */
void donate_memory(int32_t vpid); /* restorer.c: a helper's memory, the first of its processes' */

/* memory.c */
struct mapping {
  uint64_t start, end;
  char name[32];
  int anon_private; /* private, and of no file */
};
void for_each_mapping(void (*each)(const struct mapping *m, void *ctx), void *ctx);
int run_fd(const struct amber_run_rec *run); /* the file of a run's pages, checked to hold them */
void unmap_all_but_self(void);
void move_kernel_mappings(void);
void map_regions(void);
void attach_sysv_segments(void);
void fill_pages(int lazy);

/* inherit.c: copy-on-write sharing with the parent. A process its parent's restorer forked
 * once that had restored its own memory keeps each private region an inherited private mapping
 * holds whole, writing only the pages that differ. */
void mark_inherited(int inherited); /* after read_image: which regions are kept, if any */
int region_kept(const struct amber_region_rec *r);
int unmap_but_kept(const struct mapping *m); /* unmaps what of m is not kept: how many pieces */
int fill_kept(int region); /* its pages; 0 if it must be filled as a fresh one after all */

/* identity.c: the credentials each process comes back with */
int parse_ceiling(const char *spec);
void choose_identity(int32_t vpid);
void take_identity(void);
long open_as_process(const char *path, int flags);
long open_image_file(const char *path);
int ceiling_ids(uint32_t *uid, uint32_t *gid);

/* clocks.c: the monotonic and boot clocks go on from the image's (a time namespace) */
void note_image_clocks(const struct amber_proc_header *h); /* for each process, read_tree */
void keep_clocks(void);                                     /* the root, before the tree */

/* shm_files.c: the named shared memory files no process mapped, made again in /dev/shm */
void make_shm_files(void);

/* broker.c: the descriptor broker, reached before the process takes its credentials */
extern int broker_fd;
void connect_broker(void);

/* shared.c: shared memory this process saved, mapped on a memfd it makes (the agent hands it
 * to the other processes); that of the others, for now, on anonymous shared memory */
long map_shared_region(int i);

/* verify.c: each saved page checked against its hash as it is read in */
extern uint64_t *page_hashes, *run_first_page; /* in the lists after the restorer's image */
uint64_t page_hashes_span(void);
void map_page_hashes(int fd, uint64_t at);
void read_checked(int fd, int run_index);
void read_compared(int fd, int run_index); /* the same, writing only the pages that differ */
void __attribute__((noreturn)) damaged(uint64_t addr, uint32_t depth, int32_t vpid);
int same_page(const uint64_t *a, const uint64_t *b);

/* packed.c: pages saved packed, written whole with their region */
extern struct amber_packed_rec *packed; /* hdr.npacked, in the lists after the restorer's image */
void read_packed(int fd);                /* the records, checked */
void fill_packed(int region, int fd, int compare); /* compare: only the pages that differ */
void packed_all_filled(void);            /* dies if one lies past every region */
void drop_but_packed(uint64_t from, uint64_t to);

/* resume.c */
void set_mm_layout(void);
void __attribute__((noreturn)) start_threads(void);

#endif
