/* Descriptors in flight (SCM_RIGHTS sent, not received) across a snapshot. The parent sends,
 * over a stream, a datagram and a seqpacket socket pair, messages with and without
 * descriptors: a pipe's write end (it keeps the read end), a regular file at an offset (it
 * keeps it open too: one open file, one offset), and a socket pair's end with bytes waiting
 * in it (it keeps the other end). A child holds the receiving ends and receives nothing before DIR/go. After the restore the
 * child receives every message in order, each descriptor with its own message, and checks each
 * works: it writes into the pipe, reads the file on from its offset, reads the bytes waiting
 * in the socket and answers through it; the parent reads what the child wrote.
 *
 *   fds_in_flight DIR   prints "ready", after DIR/go "child: ok" and "PASS" */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#define KINDS 3
static const int types[KINDS] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
static const char *names[KINDS] = {"stream", "datagram", "seqpacket"};

struct sent {
  int rx, pipe_r, peer, file; /* the receiving end (the child's); what the parent keeps */
};

static void send_fds(int s, const char *text, const int *fds, int n) {
  char control[CMSG_SPACE(4 * sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void *)text, strlen(text)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  }
  CHECK(sendmsg(s, &msg, 0) == (ssize_t)strlen(text), "sendmsg %s: errno %d", text, errno);
}

static int file_at(const char *dir, int k, off_t offset) {
  char path[4096];
  snprintf(path, sizeof path, "%s/file-%d", dir, k);
  int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(f >= 0 && write(f, "0123456789", 10) == 10, "file: errno %d", errno);
  CHECK(lseek(f, offset, SEEK_SET) == offset, "lseek: errno %d", errno);
  return f;
}

/* The parent's side of one kind: sets everything in flight toward sv[1]. */
static struct sent set_up(const char *dir, int k) {
  int sv[2], p[2], pair[2];
  CHECK(socketpair(AF_UNIX, types[k], 0, sv) == 0, "socketpair: errno %d", errno);
  CHECK(pipe(p) == 0, "pipe: errno %d", errno);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair: errno %d", errno);
  CHECK(write(pair[0], "over", 4) == 4, "write: errno %d", errno); /* waits at pair[1] */
  int f = file_at(dir, k, 4);
  send_fds(sv[0], "s0:", 0, 0);
  if (types[k] == SOCK_STREAM) {
    send_fds(sv[0], "pipe", &p[1], 1);
    send_fds(sv[0], "file", &f, 1);
  } else {
    int both[2] = {p[1], f};
    send_fds(sv[0], "pipe+file", both, 2);
  }
  send_fds(sv[0], "sock", &pair[1], 1);
  send_fds(sv[0], "tail", 0, 0);
  close(p[1]);
  close(pair[1]);
  close(sv[0]);
  return (struct sent){sv[1], p[0], pair[0], f}; /* the file stays open here too */
}

/* One recvmsg: its bytes (NUL-terminated) and descriptors. */
static int receive(int s, char *buf, int cap, int *fds, int *n) {
  char control[CMSG_SPACE(8 * sizeof(int))];
  struct iovec iov = {buf, (size_t)cap - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  ssize_t r = recvmsg(s, &msg, MSG_DONTWAIT);
  CHECK(r >= 0, "recvmsg: errno %d", errno);
  CHECK(!(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)), "recvmsg: truncated");
  buf[r] = 0;
  *n = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int m = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      memcpy(fds + *n, CMSG_DATA(c), m * sizeof(int));
      *n += m;
    }
  return (int)r;
}

static void check_pipe(int w, int k) {
  struct stat st;
  CHECK(fstat(w, &st) == 0 && S_ISFIFO(st.st_mode), "%s: the pipe is not a pipe", names[k]);
  char text[16];
  snprintf(text, sizeof text, "piped-%d", k);
  CHECK(write(w, text, strlen(text)) == (ssize_t)strlen(text), "write the pipe: errno %d", errno);
  close(w);
}

static void check_file(int f, int k) {
  char buf[16] = {0};
  CHECK(lseek(f, 0, SEEK_CUR) == 4, "%s: the file's offset is %ld, not 4", names[k],
        (long)lseek(f, 0, SEEK_CUR));
  CHECK(read(f, buf, sizeof buf) == 6 && !strcmp(buf, "456789"), "%s: the file reads '%s'",
        names[k], buf);
  close(f);
}

static void check_socket(int s, int k) {
  char buf[16] = {0};
  CHECK(read(s, buf, sizeof buf) == 4 && !strcmp(buf, "over"), "%s: the socket holds '%s'",
        names[k], buf);
  CHECK(write(s, "back", 4) == 4, "%s: answer: errno %d", names[k], errno);
  close(s);
}

/* The child's side of one kind: every message in order, each descriptor with its own. */
static void take(int rx, int k) {
  char buf[64], all[128] = "";
  int fds[8], n, got = 0;
  const char *expect = types[k] == SOCK_STREAM ? "s0:pipefilesocktail" : "s0:pipe+filesocktail";
  while (strlen(all) < strlen(expect)) {
    int r = receive(rx, buf, sizeof buf, fds, &n);
    CHECK(r > 0, "%s: nothing more after '%s'", names[k], all);
    strcat(all, buf);
    if (!n) continue;
    /* Each descriptor comes with the read that ends with its own message. */
    int len = (int)strlen(all);
    if (len >= 4 && !strcmp(all + len - 4, "pipe")) {
      CHECK(n == 1 && got == 0, "%s: %d descriptors with 'pipe'", names[k], n);
      check_pipe(fds[0], k);
    } else if (len >= 4 && !strcmp(all + len - 4, "file")) {
      int pipe_too = types[k] != SOCK_STREAM;
      CHECK(n == 1 + pipe_too && got == !pipe_too, "%s: %d descriptors with 'file'", names[k], n);
      if (pipe_too) check_pipe(fds[0], k);
      check_file(fds[pipe_too], k);
    } else if (len >= 4 && !strcmp(all + len - 4, "sock")) {
      CHECK(n == 1 && got == 2, "%s: %d descriptors with 'sock'", names[k], n);
      check_socket(fds[0], k);
    } else {
      CHECK(0, "%s: %d descriptors came with '%s'", names[k], n, all);
    }
    got += n;
  }
  CHECK(!strcmp(all, expect), "%s: read '%s', not '%s'", names[k], all, expect);
  CHECK(got == 3, "%s: %d descriptors came, not 3", names[k], got);
  /* The messages kept their boundaries, and the sender's end is closed as it was: end of
   * file (nothing more, for datagrams). */
  int dummy;
  ssize_t r = recv(rx, &dummy, 1, MSG_DONTWAIT);
  if (types[k] == SOCK_DGRAM) CHECK(r < 0 && errno == EAGAIN, "%s: more than sent", names[k]);
  else CHECK(r == 0, "%s: no end of file after the messages (%zd, errno %d)", names[k], r, errno);
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d, "opendir: errno %d", errno);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: fds_in_flight DIR");
  struct sent sent[KINDS];
  for (int k = 0; k < KINDS; k++) sent[k] = set_up(argv[1], k);
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    for (int k = 0; k < KINDS; k++) close(sent[k].pipe_r), close(sent[k].peer), close(sent[k].file);
    int before = open_fds();
    wait_go(argv[1]);
    for (int k = 0; k < KINDS; k++) take(sent[k].rx, k);
    /* Nothing left open behind the program's back (the snapshot's peeked copies). */
    CHECK(open_fds() == before, "%d descriptors open, %d before", open_fds(), before);
    printf("child: ok\n");
    return 0;
  }
  for (int k = 0; k < KINDS; k++) close(sent[k].rx);
  say_ready();
  wait_go(argv[1]);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child failed (status %#x)", status);
  for (int k = 0; k < KINDS; k++) {
    char buf[32] = {0}, want[16];
    snprintf(want, sizeof want, "piped-%d", k);
    CHECK(read(sent[k].pipe_r, buf, sizeof buf) == (ssize_t)strlen(want) && !strcmp(buf, want),
          "%s: the pipe carried '%s'", names[k], buf);
    fcntl(sent[k].pipe_r, F_SETFL, O_NONBLOCK);
    CHECK(read(sent[k].pipe_r, buf, sizeof buf) == 0, "%s: the pipe has another writer",
          names[k]);
    memset(buf, 0, sizeof buf);
    CHECK(read(sent[k].peer, buf, sizeof buf) == 4 && !strcmp(buf, "back"),
          "%s: the socket answered '%s'", names[k], buf);
    /* The file in flight was the parent's open file: the child's read moved its offset. */
    CHECK(lseek(sent[k].file, 0, SEEK_CUR) == 10, "%s: the parent's file is at %ld, not 10",
          names[k], (long)lseek(sent[k].file, 0, SEEK_CUR));
  }
  printf("PASS\n");
  return 0;
}
