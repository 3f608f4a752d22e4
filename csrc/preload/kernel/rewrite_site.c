/* Rewritten syscall sites, the half that patches: after a site's first trap (rewrite.c), the one
 * instruction before its syscall, if it is one of a few that may run elsewhere as they are,
 * becomes a jmp to a trampoline (a copy of that instruction, then the entry). The syscall
 * instruction itself stays where it was: a thread that is on it (stopped just before it, or in
 * the kernel and coming back after it) goes on as before, and the entry passes anything it
 * does not translate back to it. docs/seccomp.md, "Rewritten sites", says why. */
#include <linux/membarrier.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/sys.h"
#include "rewrite.h"

void amber_rw_entry(void);
int amber_seccomp_from_libc(uintptr_t ip); /* seccomp.c */

#define SLOT 32 /* one trampoline */
#define PAGE 4096L
#define MAX_REGIONS 256
#define MAX_SITES 1024
#define PUN 0x050f0000L /* a jmp whose displacement ends in the syscall's own bytes, 0f 05 */

static struct {
  uintptr_t base;
  int used;
} regions[MAX_REGIONS]; /* pages of trampolines, near the program's code */
static int nregions;
static uintptr_t sites[MAX_SITES]; /* looked at once each, patched or not */
static int nsites, patching;

/* x86-64 register numbers to their places in a signal frame. */
static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                REG_R12, REG_R13, REG_R14, REG_R15};

/* Register i at the syscall: the frame's RAX is the kernel's (-ENOSYS), the number is nr. */
static uint64_t reg(const greg_t *g, int i, long nr) {
  return i == 0 ? (uint64_t)nr : (uint64_t)g[greg_of[i]];
}

/* The instruction that ends at the syscall s, if it is one this recognises fully and that runs
 * the same anywhere (no RIP-relative operand, no branch): its length, else 0. Read backwards, so
 * each is also checked against what it did: the number it set is the call's, the registers it
 * copied hold the same value in the trap's frame. */
static int before(const uint8_t *s, long nr, const greg_t *g) {
  uint32_t imm;
  memcpy(&imm, s - 4, 4);
  uint8_t op = s[-5];
  if (op >= 0xb8 && op <= 0xbf) { /* mov $imm32, r32: eax is Go's stubs' and glibc's number */
    int r = op - 0xb8;
    if (s[-6] >= 0x40 && s[-6] <= 0x4f) return 0; /* a REX prefix (r8d...) or not: cannot tell */
    if (r == 1 || r == 4) return 0;
    return reg(g, r, nr) == imm ? 5 : 0; /* zero-extended */
  }
  if (s[-7] == 0x48 && s[-6] == 0xc7 && s[-5] == 0xc0 && imm == (uint32_t)nr)
    return 7; /* mov $nr, %rax */
  uint8_t rex = s[-3], modrm = s[-1];
  if ((rex & 0xf2) == 0x40 && s[-2] == 0x89 && (modrm & 0xc0) == 0xc0) { /* mov reg, reg */
    int src = (rex & 4 ? 8 : 0) | ((modrm >> 3) & 7), dst = (rex & 1 ? 8 : 0) | (modrm & 7);
    if (src == 1 || dst == 1 || src == 11 || dst == 11 || src == 4 || dst == 4)
      return 0; /* rcx and r11 hold what the syscall put there; not rsp */
    uint64_t vs = reg(g, src, nr), vd = reg(g, dst, nr);
    if (!(rex & 8)) vs = (uint32_t)vs;
    return vd == vs ? 3 : 0; /* Go's Syscall6: mov %rbx, %rdi; syscall */
  }
  rex = s[-5], modrm = s[-3];
  if ((rex & 0xf3) == 0x40 && s[-4] == 0x8b && (modrm & 0xc7) == 0x44 && s[-2] == 0x24 &&
      s[-1] < 0x80) {
    /* mov disp8(%rsp), reg, above rsp (Go's rawSyscallNoError: mov 8(%rsp), %rax; syscall) */
    int dst = (rex & 4 ? 8 : 0) | ((modrm >> 3) & 7);
    if (dst == 1 || dst == 11 || dst == 4) return 0;
    uint64_t v;
    memcpy(&v, (const uint8_t *)g[REG_RSP] + s[-1], 8);
    if (!(rex & 8)) v = (uint32_t)v;
    return reg(g, dst, nr) == v ? 5 : 0;
  }
  return 0;
}

struct segment {
  uintptr_t at, lo, hi;
  int prot;
};

/* The loaded object's segment that holds the site: code that is not writable (not a JIT's). */
static int find_segment(struct dl_phdr_info *info, size_t size, void *data) {
  struct segment *seg = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type != PT_LOAD || seg->at < lo || seg->at >= hi) continue;
    if ((ph->p_flags & (PF_X | PF_W)) != PF_X) return 1;
    seg->lo = lo;
    seg->hi = hi;
    seg->prot = PROT_EXEC | (ph->p_flags & PF_R ? PROT_READ : 0);
    return 1;
  }
  return 0;
}

/* A free trampoline slot at an address in [lo, hi]: in a page of trampolines there is, or in
 * a new one mapped at one of the candidate pages (from `from`, `step` apart, both ways when
 * `both`). 0 when there is none. */
static uintptr_t slot(uintptr_t lo, uintptr_t hi, uintptr_t from, long step, int both) {
  for (int i = 0; i < nregions; i++) {
    uintptr_t t = regions[i].base + (uintptr_t)regions[i].used * SLOT;
    if (regions[i].used < PAGE / SLOT && t >= lo && t <= hi) {
      regions[i].used++;
      return t;
    }
  }
  if (nregions == MAX_REGIONS) return 0;
  for (long k = 0; k < 64; k++) {
    long off = both ? (k / 2 + 1) * step * (k % 2 ? 1 : -1) : k * step;
    uintptr_t p = (from + (uintptr_t)off) & ~(uintptr_t)(PAGE - 1);
    if (p < lo || p > hi || p < 0x10000 || p >= AMBER_SECCOMP_LIBS_FROM) continue;
    long m = amber_sys6(SYS_mmap, (long)p, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m < 0 && m > -4096) continue;
    if ((uintptr_t)m != p) { /* a kernel without MAP_FIXED_NOREPLACE */
      amber_sys2(SYS_munmap, m, PAGE);
      return 0;
    }
    amber_sys3(SYS_mprotect, p, PAGE, PROT_READ | PROT_EXEC);
    regions[nregions].base = p;
    regions[nregions++].used = 1;
    return p;
  }
  return 0;
}

/* The trampoline at t: the displaced instruction, rcx = the site's end, jmp to the entry. */
static int write_trampoline(uintptr_t t, const uint8_t *s, int len) {
  uint8_t code[SLOT];
  int n = len;
  memcpy(code, s - len, (size_t)len);
  int32_t rel = (int32_t)((intptr_t)(s + 2) - (intptr_t)(t + (uintptr_t)n + 7));
  code[n++] = 0x48, code[n++] = 0x8d, code[n++] = 0x0d; /* lea rel(%rip), %rcx */
  memcpy(code + n, &rel, 4);
  n += 4;
  code[n++] = 0xff, code[n++] = 0x25; /* jmp *0(%rip) */
  memset(code + n, 0, 4);
  n += 4;
  uint64_t entry = (uint64_t)(uintptr_t)amber_rw_entry;
  memcpy(code + n, &entry, 8);
  n += 8;
  uintptr_t page = t & ~(uintptr_t)(PAGE - 1);
  if (amber_sys3(SYS_mprotect, page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return 0;
  memcpy((void *)t, code, (size_t)n);
  amber_sys3(SYS_mprotect, page, PAGE, PROT_READ | PROT_EXEC); /* never without exec: others run */
  return 1;
}

/* n bytes at `at` written at once, by one locked compare-exchange of 8 bytes around them inside
 * one cache line (an access the CPU makes atomically, aligned or not: Intel SDM 8.1.1), so
 * that another thread fetches either the old instruction or the new one. */
static int fits(uintptr_t at, int n) { return (at & 63) + (uintptr_t)n <= 64; }

static int write_at_once(uintptr_t at, const uint8_t *bytes, int n) {
  uintptr_t w = (at & 63) <= 56 ? at : (at & ~(uintptr_t)63) + 56;
  uint64_t old, now;
  memcpy(&old, (const void *)w, 8);
  now = old;
  memcpy((uint8_t *)&now + (at - w), bytes, (size_t)n);
  char ok;
  __asm__ volatile("lock cmpxchgq %3, %1\n\tsete %0"
                   : "=q"(ok), "+m"(*(volatile uint64_t *)w), "+a"(old)
                   : "r"(now)
                   : "memory", "cc");
  return ok;
}

static void patch(uintptr_t site, long nr, const greg_t *g) {
  struct segment seg = {site, 0, 0, 0};
  dl_iterate_phdr(find_segment, &seg);
  if (!seg.prot || site < seg.lo + 7 || site + 2 > seg.hi || amber_seccomp_from_libc(site)) return;
  const uint8_t *s = (const uint8_t *)site;
  if (s[0] != 0x0f || s[1] != 0x05) return;
  int len = before(s, nr, g);
  uintptr_t at = site - (uintptr_t)len, t;
  uint8_t jmp[5] = {0xe9};
  int n = len >= 5 ? 5 : 3;
  if (!len || !fits(at, n)) return;
  if (len >= 5) { /* anywhere within a rel32's reach */
    uintptr_t end = at + 5, lo = end > (1UL << 31) ? end - (1UL << 31) + PAGE : 0;
    t = slot(lo, end + (1UL << 31) - PAGE, end, 64L << 20, 1);
  } else { /* e9 r0 r1 0f 05: the displacement's top bytes are the syscall's */
    uintptr_t lo = site + 2 + PUN;
    t = slot(lo, lo + 0xffff - SLOT, lo, PAGE, 0);
  }
  if (!t || !write_trampoline(t, s, len)) return;
  int32_t rel = (int32_t)((intptr_t)t - (intptr_t)(at + 5));
  memcpy(jmp + 1, &rel, 4);
  uintptr_t page = at & ~(uintptr_t)(PAGE - 1);
  /* made at start-up (rewrite.c); again here for a restored process, whose memory is new */
  amber_sys2(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0);
  if (amber_sys3(SYS_mprotect, page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return;
  write_at_once(at, jmp, n);
  amber_sys3(SYS_mprotect, page, PAGE, seg.prot);
  amber_sys2(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0);
}

/* One thread patches at a time; a trap that finds another patching (or its own handler
 * interrupted) leaves its site for a later trap. */
void amber_rw_site_learn(long nr, const greg_t *g) {
  uintptr_t site = (uintptr_t)g[REG_RIP] - 2;
  if (site < 0x10000 || site >= AMBER_SECCOMP_LIBS_FROM) return;
  if (__atomic_exchange_n(&patching, 1, __ATOMIC_ACQUIRE)) return;
  int seen = 0;
  for (int i = 0; i < nsites && !seen; i++) seen = sites[i] == site;
  if (!seen && nsites < MAX_SITES) {
    sites[nsites++] = site;
    patch(site, nr, g);
  }
  __atomic_store_n(&patching, 0, __ATOMIC_RELEASE);
}
