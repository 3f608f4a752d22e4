/* A region's kernel flags (the two-letter VmFlags of /proc/<pid>/smaps) that a restore puts
 * back: madvise state, and how it was mapped. The agent reads them, the restorer (and, for
 * shared memory mapped again, the agent) applies them. */
#ifndef AMBER_VM_FLAGS_H
#define AMBER_VM_FLAGS_H

#include <stdint.h>

#include "sys.h"

#define AMBER_VM_DONTFORK 0x1    /* dc: MADV_DONTFORK */
#define AMBER_VM_WIPEONFORK 0x2  /* wf: MADV_WIPEONFORK */
#define AMBER_VM_HUGEPAGE 0x4    /* hg: MADV_HUGEPAGE */
#define AMBER_VM_NOHUGEPAGE 0x8  /* nh: MADV_NOHUGEPAGE */
#define AMBER_VM_DONTDUMP 0x10   /* dd: MADV_DONTDUMP */
#define AMBER_VM_MERGEABLE 0x20  /* mg: MADV_MERGEABLE */
#define AMBER_VM_GROWSDOWN 0x40  /* gd: MAP_GROWSDOWN */
#define AMBER_VM_NORESERVE 0x80  /* nr: MAP_NORESERVE */
#define AMBER_VM_MAYWRITE 0x100  /* mw: may be made writable (a shared file opened for writing) */
#define AMBER_VM_LOCKED 0x200    /* lo: mlock */
#define AMBER_VM_LOCKONFAULT 0x400 /* lf: mlock2 MLOCK_ONFAULT */
#define AMBER_VM_SEALED 0x800    /* sl: mseal (Linux 6.10), put back last */
#define AMBER_VM_UFFD 0x1000     /* um, uw, ui: a userfaultfd serves it (not put back) */

static const struct amber_vm_flag {
  char code[3];
  uint32_t bit;
  int advice; /* the madvise that sets it, or 0 */
} amber_vm_flag_table[] = {
    {"dc", AMBER_VM_DONTFORK, 10},  {"wf", AMBER_VM_WIPEONFORK, 18},
    {"hg", AMBER_VM_HUGEPAGE, 14},  {"nh", AMBER_VM_NOHUGEPAGE, 15},
    {"dd", AMBER_VM_DONTDUMP, 16},  {"mg", AMBER_VM_MERGEABLE, 12},
    {"gd", AMBER_VM_GROWSDOWN, 0},  {"nr", AMBER_VM_NORESERVE, 0},
    {"mw", AMBER_VM_MAYWRITE, 0},   {"lo", AMBER_VM_LOCKED, 0},
    {"lf", AMBER_VM_LOCKONFAULT, 0}, {"sl", AMBER_VM_SEALED, 0},
    {"um", AMBER_VM_UFFD, 0},       {"uw", AMBER_VM_UFFD, 0},
    {"ui", AMBER_VM_UFFD, 0},
};
#define AMBER_VM_FLAG_COUNT (sizeof amber_vm_flag_table / sizeof amber_vm_flag_table[0])

/* The flags named in a VmFlags line's value ("rd wr mr mw me ac dc ..."). */
static inline uint32_t amber_vm_flags_parse(const char *p) {
  uint32_t flags = 0;
  for (; *p; p++) {
    if (p[0] == ' ' || !p[1]) continue;
    for (unsigned i = 0; i < AMBER_VM_FLAG_COUNT; i++)
      if (p[0] == amber_vm_flag_table[i].code[0] && p[1] == amber_vm_flag_table[i].code[1] &&
          (p[2] == ' ' || !p[2] || p[2] == '\n'))
        flags |= amber_vm_flag_table[i].bit;
    while (p[1] && p[1] != ' ') p++;
  }
  return flags;
}

/* The madvise state, mlock and mseal back on [start, start + len); 0, or the first -errno. */
static inline long amber_vm_flags_apply(uint64_t start, uint64_t len, uint32_t flags) {
  long err = 0;
  for (unsigned i = 0; i < AMBER_VM_FLAG_COUNT; i++) {
    if (!(flags & amber_vm_flag_table[i].bit) || !amber_vm_flag_table[i].advice) continue;
    long e = amber_sys3(SYS_madvise, start, len, amber_vm_flag_table[i].advice);
    if (e < 0 && !err) err = e;
  }
  if (flags & AMBER_VM_LOCKED) {
    long e = amber_sys3(SYS_mlock2, start, len, flags & AMBER_VM_LOCKONFAULT ? 1 : 0);
    if (e < 0 && !err) err = e;
  }
  if (flags & AMBER_VM_SEALED) {
    long e = amber_sys3(462 /* mseal */, start, len, 0);
    if (e < 0 && !err) err = e;
  }
  return err;
}

#endif
