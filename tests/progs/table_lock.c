/* The translation tables' lock is robust: a process killed while it holds the lock does not
 * wedge the others (the next locker recovers it). Runs outside Amber, on a tables file of its
 * own. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../csrc/common/table.c"
#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: table_lock DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/tables", argv[1]);
  struct amber_table *t;
  /* A range other than the first: rows are numbered from the table's own base. */
  const int32_t base = AMBER_VPID_MIN + 7 * AMBER_TABLE_ROWS;
  CHECK(amber_table_create(path, "test", "test", "", base, &t) == 0, "create the tables");
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t holder = fork();
  if (holder == 0) {
    amber_table_lock(t);
    struct amber_row *row = amber_row_alloc(t, AMBER_KIND_PID);
    row->sid = 1234;
    CHECK(write(ready[1], "x", 1) == 1, "tell");
    for (;;) pause(); /* dies holding the lock */
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "wait for the holder");
  kill(holder, SIGKILL);
  waitpid(holder, NULL, 0);
  alarm(10); /* a wedged lock fails the test instead of hanging it */
  amber_table_lock(t);
  struct amber_row *row = amber_row_alloc(t, AMBER_KIND_PID);
  CHECK(row && row->vid == base + 1, "the next row is %d", row ? row->vid : -1);
  amber_table_unlock(t);
  CHECK(amber_s2v(t, AMBER_KIND_PID, 1234) == base, "the dead holder's row is lost");
  printf("PASS\n");
  return 0;
}
