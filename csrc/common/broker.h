/* The descriptor broker of a restore. Restored processes hand each other the kernel objects
 * they share (a pipe, a socket pair, an open file description, shared memory) through the
 * supervisor: the process that re-creates an object PUTs it under a key, the others GET it,
 * waiting if it is not there yet. Descriptors travel as SCM_RIGHTS over a Unix socket in the
 * application's runtime directory, which only its owner can reach (mode 0700, and the peer's
 * uid checked). When every restored process has said DONE, the broker closes everything it
 * held, so no stray reference keeps a pipe from reaching end-of-file. */
#ifndef AMBER_BROKER_H
#define AMBER_BROKER_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define AMBER_BROKER_SOCKET "broker.sock"

enum amber_broker_op { AMBER_BROKER_PUT = 1, AMBER_BROKER_GET = 2, AMBER_BROKER_GIVE = 3,
                       AMBER_BROKER_DONE = 4 };

/* Key spaces (the top byte of k1). */
#define AMBER_KEY_DESCRIPTION (1ULL << 56) /* | owner vpid; k2 = owner's fd */
#define AMBER_KEY_PIPE (2ULL << 56)        /* | pipe inode; k2 = 0 read end, 1 write end */
#define AMBER_KEY_SHMEM (3ULL << 56)       /* | shared-memory inode; k2 = 0 */
/* | the lower inode of a socket pair; k2 = 0 the lower-inode end, 1 the other; 2 + end (an end
 * again): that end's unread bytes are back, so the program may use the pair */
#define AMBER_KEY_SOCKETPAIR (4ULL << 56)
/* | inode of a memfd or deleted file; k2 = 0: the file, open for reading and writing */
#define AMBER_KEY_PATHLESS (5ULL << 56)
/* | inode of a bound Unix datagram socket; k2 = 0: it is bound again (for its clients) */
#define AMBER_KEY_UNIX_BOUND (6ULL << 56)
/* | vpid; k2 = 0: that process has its file locks back (fd_locks.c) */
#define AMBER_KEY_LOCKS (0x4cULL << 56)
/* | a pseudo-terminal's number at the snapshot; k2 = 0 the master, 1 a slave */
#define AMBER_KEY_PTY (7ULL << 56)

/* | an inode (or any number below 2^48) of a descriptor kind's own (fd_<kind>.c): the space
 * of kind number `kind` (below 0x80), so that a new kind needs no line here */
#define AMBER_KEY_FD_KIND(kind) ((0x80ULL | (uint64_t)(kind)) << 56)

/* A key of a key space for an object named by its inode (the top byte is the space's). */
static inline uint64_t amber_key(uint64_t space, uint64_t ino) {
  return space | (ino & 0xffffffffffffULL);
}

struct amber_broker_msg {
  uint32_t op, pad;
  uint64_t k1, k2;
};

/* Attaches descriptor fd (if >= 0) to msg as SCM_RIGHTS, in control (CMSG_SPACE(sizeof(int))
 * bytes, zeroed): the one way Amber hands a descriptor over a Unix socket (the agent's broker
 * client, the supervisor's broker, the coordinator's handover). */
static inline void amber_attach_fd(struct msghdr *msg, char *control, int fd) {
  if (fd < 0) return;
  msg->msg_control = control;
  msg->msg_controllen = CMSG_SPACE(sizeof(int));
  struct cmsghdr *c = CMSG_FIRSTHDR(msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

#endif
