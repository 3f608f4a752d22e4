/* Connects to the Unix stream socket PATH and says what the listener did with the connection:
 * "closed" (it hung up at once), "open" (it kept it for a second), or "cannot connect: errno N".
 * For the tests that check that a control socket refuses another user: with UID, it opens PATH
 * first (as a process of the application holds what it had), then becomes UID and connects
 * through that descriptor, so that only the listener can refuse it.
 *
 *   unix_probe PATH [UID] */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) return 2;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  if (argc == 3) {
    int path = open(argv[1], O_PATH | O_CLOEXEC);
    uid_t uid = (uid_t)atoi(argv[2]);
    if (path < 0 || setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)) {
      printf("cannot become uid %u: errno %d\n", uid, errno);
      return 1;
    }
    snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d", path);
  }
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr)) {
    printf("cannot connect: errno %d\n", errno);
    return 0;
  }
  struct pollfd p = {s, POLLIN, 0};
  char byte;
  if (poll(&p, 1, 1000) == 1 && recv(s, &byte, 1, MSG_DONTWAIT) == 0) printf("closed\n");
  else printf("open\n");
  return 0;
}
