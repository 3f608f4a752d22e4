/* Prints what the process sees of itself: pid, parent and hostname (for the tests of
 * registration, of programs outside Amber, and of the virtual hostname). */
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void) {
  char host[256] = "";
  gethostname(host, sizeof host);
  struct utsname u;
  uname(&u);
  printf("report pid %d ppid %d host %s node %s\n", getpid(), getppid(), host, u.nodename);
  return 0;
}
