/* Each thread's stack for its translated calls (rewrite_entry.S): given at the thread's first
 * trap at a site that may be rewritten, unmapped when the thread ends (a pthread key's
 * destructor). docs/seccomp.md, "Rewritten sites", says why the calls need one. */
#include <pthread.h>
#include <sys/mman.h>

#include "../../common/sys.h"
#include "rewrite.h"

extern __thread struct amber_rw_thread amber_rw_tls;

/* The library's code may need more than a goroutine's stack has, and a signal that comes
 * meanwhile needs room for its frame and handler (the checkpoint's). A guard page below it ends
 * a thread that overruns it instead of letting it write on. */
#define RW_STACK (1L << 20)

static pthread_key_t key;
static int key_made;

/* At the thread's end (pthread_exit or its start routine's return). A thread that ends from a
 * handler that interrupted one of its translated calls runs on this stack: it is left. */
static void stack_gone(void *base) {
  if (amber_rw_tls.busy) return;
  amber_rw_tls.stack_top = 0;
  amber_sys2(SYS_munmap, base, RW_STACK);
}

/* glibc keeps the values of the first 32 keys in the thread itself: setting one in the SIGSYS
 * handler allocates nothing. With a later key (a program that made 32 before the library
 * started), stacks are left when their threads end. */
void amber_rw_stack_init(void) {
  key_made = pthread_key_create(&key, stack_gone) == 0;
  if (key_made && key >= 32) {
    pthread_key_delete(key);
    key_made = 0;
  }
}

void amber_rw_give_stack(void) {
  long m = amber_sys6(SYS_mmap, 0, RW_STACK, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m < 0 && m > -4096) return;
  amber_sys3(SYS_mprotect, m, 4096, PROT_NONE);
  amber_rw_tls.stack_top = (uint64_t)m + RW_STACK;
  if (key_made) pthread_setspecific(key, (void *)m);
}
