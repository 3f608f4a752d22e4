/* Sending SCM_CREDENTIALS that name virtual pids (creds_copy.c): the kernel is given a copy of
 * the message whose credentials name system pids, never the program's own, which may be const
 * (in read-only memory) and must not show a system pid. Shared by libc's sendmsg and sendmmsg
 * wrappers and the seccomp layer's raw ones (kernel/trap_creds.c); no malloc (a signal handler
 * runs it). */
#ifndef AMBER_CREDS_COPY_H
#define AMBER_CREDS_COPY_H

#include <sys/socket.h>

/* One message: the header and a control part of up to 256 bytes stay in here (on the caller's
 * stack, which may be a small signal stack); a longer control part is mapped. */
struct amber_creds_copy {
  struct msghdr m;
  char small[256] __attribute__((aligned(8)));
  char *ctl;
  size_t len;
};

/* *send: `m` itself, or c's translated copy of it. 0, -ESRCH (a pid of no process) or
 * -ENOMEM; then amber_creds_copy_done. */
int amber_creds_copy_one(struct amber_creds_copy *c, const struct msghdr *m,
                         const struct msghdr **send);
void amber_creds_copy_done(struct amber_creds_copy *c);

/* sendmmsg's vector: its copy (mapped) with the control parts that need it translated. */
struct amber_creds_many {
  struct mmsghdr *w;
  size_t size;
};

/* *send: `v` itself or the copy. How many messages to send: n (at most 1024, as the kernel), or
 * with *err set those before the first whose pid names no process (as the kernel sends those
 * before a failing one), 0 when the first does or there is no memory. Then
 * amber_creds_many_done with what the call returned. */
unsigned amber_creds_copy_many(struct amber_creds_many *c, struct mmsghdr *v, unsigned n,
                               struct mmsghdr **send, int *err);
/* Each sent message's msg_len back into the program's vector, and the copy unmapped. */
void amber_creds_many_done(struct amber_creds_many *c, struct mmsghdr *v, long sent);

#endif
