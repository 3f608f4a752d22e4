/* Shared memory (MAP_SHARED anonymous memory, memfds, deleted files mapped shared). The process
 * that saved an object's pages maps its regions of it on one memfd, named as the object was,
 * that its saved pages are then read into; after the restore the agent hands that memfd to the
 * other processes that map the object (agent_shmem.c), which until then have anonymous shared
 * memory in its place. */
#include <sys/mman.h>

#include "restorer.h"

/* A memfd's own name ("/memfd:NAME (deleted)"), or "amber-shared". */
static void object_name(const struct amber_region_rec *r, char *out, int cap) {
  if (strncmp(r->name, "/memfd:", 7)) {
    rt_copy(out, "amber-shared", cap);
    return;
  }
  rt_copy(out, r->name + 7, cap);
  int n = (int)strlen(out);
  if (n >= 10 && !strcmp(out + n - 10, " (deleted)")) out[n - 10] = 0;
}

static int same_object(const struct amber_region_rec *a, const struct amber_region_rec *b) {
  return b->kind == AMBER_REGION_ANON_SHARED && b->ino == a->ino && b->dev == a->dev;
}

/* The memfd of the object behind regions[i], made at its first region, as large as the
 * furthest any of them reaches. */
static int object_file(int i) {
  const struct amber_region_rec *r = &regions[i];
  for (int k = 0; k < i; k++)
    if (same_object(r, &regions[k])) return region_fds[k];
  char name[250];
  object_name(r, name, sizeof name);
  int fd = (int)amber_sys2(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) die("cannot make a memfd for shared memory", fd);
  uint64_t size = 0;
  for (int k = i; k < hdr.nregions; k++)
    if (same_object(r, &regions[k]) && regions[k].pgoff + (regions[k].end - regions[k].start) > size)
      size = regions[k].pgoff + (regions[k].end - regions[k].start);
  long err = amber_sys2(SYS_ftruncate, fd, size);
  if (err) die("cannot size a memfd for shared memory", err);
  return region_fds[i] = fd;
}

long map_shared_region(int i) {
  const struct amber_region_rec *r = &regions[i];
  uint64_t len = r->end - r->start;
  if (r->owner_vpid != hdr.vpid || !r->ino)
    return amber_sys6(SYS_mmap, r->start, len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  int fd = object_file(i);
  return amber_sys6(SYS_mmap, r->start, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                    r->pgoff);
}
