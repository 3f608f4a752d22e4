/* Prints its pid as libc gives it and as a raw `syscall` instruction gives it, then exits: the
 * two agree only when Amber's seccomp layer is on. */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  long raw;
  __asm__ volatile("syscall" : "=a"(raw) : "a"(SYS_getpid) : "rcx", "r11", "memory");
  printf("libc %d raw %ld\n", getpid(), raw);
  return 0;
}
