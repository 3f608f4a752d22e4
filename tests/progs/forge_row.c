/* A process that dropped its privileges and writes the application's tables, as any process of
 * the application can: it adds a process row whose system pid is VICTIM, a process outside the
 * application (root's `amber kill` or snapshot must not signal it).
 *   forge_row DIR VICTIM */
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../csrc/common/table.h"
#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 3, "usage: forge_row DIR VICTIM");
  if (getuid() == 0) {
    gid_t groups[] = {65534};
    CHECK(setgroups(1, groups) == 0 && setresgid(65534, 65534, 65534) == 0 &&
              setresuid(65534, 65534, 65534) == 0,
          "switch to nobody");
  }
  int fd = -1; /* Amber's descriptor on the tables, found as any program could */
  for (int i = 3; i < 1024 && fd < 0; i++) {
    char link[64], target[4096] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", i);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 7 && !strcmp(target + n - 7, "/tables")) fd = i;
  }
  CHECK(fd >= 0, "no descriptor on the tables");
  struct amber_table *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(t != MAP_FAILED, "mmap the tables");
  uint32_t slot = AMBER_TABLE_ROWS - 1;
  struct amber_row *row = &t->rows[AMBER_KIND_PID][slot];
  row->vid = t->vpid_base + (int32_t)slot;
  row->sid = atoi(argv[2]);
  row->flags = AMBER_PID_PROCESS;
  row->owner = row->vid;
  row->state = AMBER_ROW_LIVE;
  t->high[AMBER_KIND_PID] = AMBER_TABLE_ROWS;
  say_ready();
  wait_go(argv[1]);
  printf("PASS\n");
  return 0;
}
