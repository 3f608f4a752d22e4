/* Shared memory (MAP_SHARED anonymous memory, memfds, deleted files mapped shared) is one
 * object, whoever maps it and whoever wrote its pages: its owner (agent_share.c) saves every
 * page the object holds in the ranges it maps, found in the object itself (mincore, which for
 * such a mapping reports the object's pages, or SEEK_DATA on a descriptor of it), never in one
 * process's page table, so pages written by processes that exited are kept. */
#ifndef AMBER_AGENT_SHMEM_H
#define AMBER_AGENT_SHMEM_H

#include "agent.h"

/* Calls fn(ctx, from, to) for each range of addresses of the shared region r whose pages hold
 * data, in rising order; stops at the first error fn returns. 0, or -errno with
 * amber_ckpt.error set. */
typedef int (*amber_range_fn)(void *ctx, uint64_t from, uint64_t to);
int amber_shmem_data_ranges(const struct amber_region_rec *r, amber_range_fn fn, void *ctx);

/* The owner of the object behind regions[i] checks that no other process of the application
 * maps a part of it that the owner does not (it would not be saved): 0, or -EINVAL with
 * amber_ckpt.error naming that process and the range. */
int amber_shmem_check_cover(const struct amber_region_rec *regions, int n, int i);

/* After a restore, regions[i] (shared) is mapped again on one file per object, with its madvise
 * state: the memfd the restorer made in the owner and read the saved pages into (or a copy of
 * it, where the kernel will not let us open it), which the broker hands to the others. The
 * owner first (for each of its regions), then the others. 0, or -errno. */
int amber_shmem_share_again(const struct amber_region_rec *regions, int n, int i);

/* A /dev/shm file made again (shm_file.c): a new file under a temporary name beside r's path
 * (its name into tmp), for the caller to fill; then sized, given its mode and owner and renamed
 * over the path. A descriptor, or 0 / -errno (with amber_ckpt.error naming the file). */
int amber_shm_file_create(const struct amber_region_rec *r, char *tmp, int cap);
int amber_shm_file_publish(int fd, const struct amber_region_rec *r, const char *tmp);
/* A shared mapping of a /dev/shm file shown deleted whose file is still linked under another
 * name there (sem_open's temporary name): r->name becomes that name and 1, else 0
 * (shm_names.c). */
int amber_shm_linked_name(struct amber_region_rec *r);

#endif
