/* Files made with O_TMPFILE: one still nameless at the snapshot, which the program gives a name
 * with linkat only after the restore (the way to publish a file whole: write it unnamed, then
 * link it), and one already linked before. Both come back with their bytes; the nameless one
 * can still be linked, by descriptor (AT_EMPTY_PATH) and through /proc. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

static void check_content(const char *path, const char *want) {
  char buf[64] = {0};
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "open %s", path);
  CHECK(read(fd, buf, sizeof buf - 1) == (ssize_t)strlen(want) && !strcmp(buf, want),
        "%s holds '%s', not '%s'", path, buf, want);
  close(fd);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: tmpfile_link DIR");
  const char *dir = argv[1];
  int nameless = open(dir, O_TMPFILE | O_RDWR, 0640);
  CHECK(nameless >= 0, "O_TMPFILE in %s", dir);
  CHECK(write(nameless, "unnamed bytes", 13) == 13, "write");
  int named = open(dir, O_TMPFILE | O_RDWR, 0600);
  CHECK(named >= 0 && write(named, "named early", 11) == 11, "second O_TMPFILE");
  char early[4096], late[4096], late2[4096], self[64];
  snprintf(early, sizeof early, "%s/linked-before", dir);
  CHECK(linkat(named, "", AT_FDCWD, early, AT_EMPTY_PATH) == 0, "link before the snapshot");
  say_ready();
  wait_go(dir);

  struct stat st;
  CHECK(fstat(nameless, &st) == 0 && st.st_nlink == 0, "the nameless file has %ld links",
        (long)st.st_nlink);
  CHECK((st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
  CHECK(lseek(nameless, 0, SEEK_CUR) == 13, "its offset");
  snprintf(late, sizeof late, "%s/linked-after", dir);
  CHECK(linkat(nameless, "", AT_FDCWD, late, AT_EMPTY_PATH) == 0,
        "linkat(AT_EMPTY_PATH) of the nameless file after the restore: %s", strerror(errno));
  check_content(late, "unnamed bytes");
  snprintf(late2, sizeof late2, "%s/linked-through-proc", dir);
  snprintf(self, sizeof self, "/proc/self/fd/%d", nameless);
  CHECK(linkat(AT_FDCWD, self, AT_FDCWD, late2, AT_SYMLINK_FOLLOW) == 0,
        "linkat through /proc after the restore: %s", strerror(errno));
  CHECK(fstat(nameless, &st) == 0 && st.st_nlink == 2, "now %ld links", (long)st.st_nlink);
  check_content(early, "named early");
  CHECK(write(named, " and on", 7) == 7, "write to the linked one");
  check_content(early, "named early and on");
  printf("PASS\n");
  return 0;
}
