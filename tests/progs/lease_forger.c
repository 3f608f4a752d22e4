/* A process of an application that tries to keep its application from being fenced
 * (tests/lease_test.ts): every 200 ms it writes the renewals file the agent once wrote in the
 * application's directory (argv[1]), and sends a renewal on its supervisor's lease channel
 * (common/lease_channel.h), which must refuse it. It prints "forger: taken" for a renewal the
 * supervisor took (the test then fails) and "forger: ready" once it began. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../csrc/common/lease_channel.h"

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Sends one forged renewal on the channel of the supervisor named in `dir`; 1 if it took it. */
static int forge_channel(const char *dir) {
  char path[4200], text[64] = "";
  snprintf(path, sizeof path, "%s/supervisor", dir);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  int n = (int)read(fd, text, sizeof text - 1);
  close(fd);
  int pid;
  long long start;
  if (n <= 0 || sscanf(text, "%d %lld", &pid, &start) != 2) return 0;
  struct sockaddr_un a;
  socklen_t len = amber_lease_address(&a, pid, start);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  char line[64], answer[4] = "";
  n = snprintf(line, sizeof line, "%llu 5000\n", now_ns());
  int taken = s >= 0 && connect(s, (struct sockaddr *)&a, len) == 0 && write(s, line, n) == n &&
              read(s, answer, 3) == 3 && memcmp(answer, "ok", 2) == 0;
  if (s >= 0) close(s);
  return taken;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char path[4200], tmp[4200];
  snprintf(path, sizeof path, "%s/lease", argv[1]);
  snprintf(tmp, sizeof tmp, "%s/lease.forged", argv[1]);
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("forger: ready\n");
  for (;;) {
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%llu 5000\n", now_ns());
      fclose(f);
      rename(tmp, path);
    }
    if (forge_channel(argv[1])) printf("forger: taken\n");
    usleep(200 * 1000);
  }
}
