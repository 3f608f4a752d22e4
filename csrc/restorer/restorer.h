/* The restorer's parts and the state they share. One file each: restorer.c (arguments,
 * failure, reading the process file), tree.c (the process tree), memory.c (the address space),
 * resume.c (the kernel's layout, the threads). */
#ifndef AMBER_RESTORER_H
#define AMBER_RESTORER_H

#include "../common/image.h"
#include "../common/image_check.h"
#include "../common/table.h"
#include "rt.h"

#define MAX_REGIONS 4096
#define MAX_RUNS 262144
#define MAX_THREADS 256
#define MAX_PROCS AMBER_CTL_MAX_PROCS

extern char __executable_start[], _end[];

extern struct amber_proc_header hdr;
extern struct amber_thread_rec threads[MAX_THREADS];
extern struct amber_region_rec regions[MAX_REGIONS];
extern struct amber_run_rec runs[MAX_RUNS];
extern char image_dir[4096], image_path[4200], tables_path[4096];
extern int tables_fd;

/* restorer.c */
void __attribute__((noreturn)) die(const char *what, long err);
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

/* memory.c */
void unmap_all_but_self(void);
void move_kernel_mappings(void);
void map_regions(void);
void attach_sysv_segments(void);
void fill_pages(int lazy);

/* resume.c */
void set_mm_layout(void);
void __attribute__((noreturn)) start_threads(void);

#endif
