/* The operations of each descriptor kind, one file each (fd_file.c, fd_pipe.c, fd_socket.c,
 * fd_socketpair.c, fd_anon.c). A capture fills the record (and amber_ckpt.error when it
 * cannot) and returns 0 or -1; a restore re-creates the descriptor at rec->fd and returns 0 or
 * -errno. New descriptors go through amber_fd_park(fd, floor) before amber_fd_place(fd, rec). */
#ifndef AMBER_FD_KINDS_H
#define AMBER_FD_KINDS_H

#include <sys/stat.h>

#include "../agent/agent.h"

/* One table of operations per kind, in the kind's own file; fd_list.c lists them all, one line
 * each, and agent_fds.c dispatches through them only. Any operation may be null (nothing to do).
 * A capture fills the record (rec->kind among `kinds`); a restore makes the descriptor at
 * rec->fd and returns 0 or -errno. */
struct amber_fd_ops {
  const char *name;
  uint32_t kinds; /* AMBER_FD_BIT(kind) of each rec->kind this kind's records carry */
  /* Whether a descriptor is of this kind, by its /proc/self/fd target and fstat (tried in list
   * order); null: reached through another kind's capture (a deleted file through fd_file.c). */
  int (*recognise)(const char *target, const struct stat *st);
  int (*capture)(struct amber_fd_rec *rec, const char *target, const struct stat *st);
  /* Once every process is frozen: first what depends on a peer (peers_done once after every
   * record), then, after the share scan, what other processes could change (unread bytes). */
  int (*frozen_peer)(struct amber_fd_rec *rec);
  void (*peers_done)(void);
  int (*frozen)(struct amber_fd_rec *rec);
  /* Made in phase 2, from an object another record makes in phase 1 (a pipe's other end). */
  int (*needs_peer)(const struct amber_fd_rec *rec);
  int (*restore)(struct amber_fd_rec *rec, int floor);
  int (*settle)(const struct amber_fd_rec *rec); /* phase 3, every holder: wait for the peers */
  int (*link)(struct amber_fd_rec *rec, int floor); /* phase 3, last: refers to other fds */
  void (*release)(struct amber_fd_rec *rec);     /* the application resumes or the snapshot ends */
  /* An object several descriptions open again (a pipe, a FIFO, a memfd) is made once, by its
   * creator: the first holder `e` (in the coordinator's list, amber.table->share) for which
   * this is true, or the first holder when it is true for none (agent_share.c). Null: each
   * description is made on its own. */
  int (*may_create)(const struct amber_fd_rec *rec, const struct amber_share_fd *e);
};
#define AMBER_FD_BIT(kind) (1u << (kind))
/* A kind added after the enum in image.h defines its number in its own file (a value no other
 * table's `kinds` has: a snapshot refuses to start otherwise, fd_list.c); its records carry the
 * table's name for `amber inspect` (rec->kind_name). */
int amber_fd_kinds_check(void); /* 0, or -1 with amber_ckpt.error */
int amber_fd_any_creator(const struct amber_fd_rec *rec, const struct amber_share_fd *e);
extern const struct amber_fd_ops *const amber_fd_kinds[]; /* fd_list.c, null-terminated */
/* The descriptor a recognise() is asked about, for a kind known only through it (fstatfs). */
extern int amber_fd_recognising;
/* agent_fds.c: what a kind's restore could not do, said with its error ("SO_MARK"), or 0 */
extern const char *amber_fd_restore_detail;
const struct amber_fd_ops *amber_fd_ops_of(const struct amber_fd_rec *rec); /* or null */

int amber_fd_park(int fd, int floor);
int amber_fd_place(int fd, const struct amber_fd_rec *rec);
int amber_fd_owned(const struct amber_fd_rec *rec); /* this process re-creates it */
int amber_fd_capture_not_stdio(struct amber_fd_rec *rec); /* agent_fds.c: as if not fd 0-2 */
/* fd_owner.c: the process that gets the description's SIGIO, saved by virtual ID and set again
 * (a capture refuses one outside the application: -1 with amber_ckpt.error) */
int amber_fd_owner_capture(struct amber_fd_rec *rec);
void amber_fd_owner_restore(const struct amber_fd_rec *rec);
void *amber_fd_buffer(uint64_t len);

int amber_fd_file_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st);
/* Another name of a file whose descriptor names it deleted, in the same directory (fd_relinked.c). */
int amber_relinked_name(const char *target, const struct stat *st, char *out, int cap);
int amber_fd_file_restore(struct amber_fd_rec *rec, int floor);
int amber_fd_file_frozen(struct amber_fd_rec *rec); /* after the share scan: owner reopens */

int amber_fd_pipe_capture(struct amber_fd_rec *rec, const struct stat *st);
int amber_fd_pipe_restore(struct amber_fd_rec *rec, int floor);
int amber_fd_pipe_needs_peer(const struct amber_fd_rec *rec);
/* Once every process is frozen: the creator's copy of the unread bytes. */
int amber_fd_pipe_save_queue(struct amber_fd_rec *rec);
/* The unread bytes of the pipe (or FIFO) readable on fd, peeked with tee into rec->data; and
 * written back into a new one. */
int amber_fd_pipe_peek(struct amber_fd_rec *rec, int fd);
int amber_fd_pipe_refill(const struct amber_fd_rec *rec, int fd);

int amber_fd_socket_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st);
int amber_fd_socket_restore(struct amber_fd_rec *rec, int floor);
/* mcast_keep.c: an IP datagram socket's multicast memberships, taken by its owner once every
 * process is frozen (-1 with amber_ckpt.error for one it cannot keep), and made again on the
 * new socket `fd` (0 or -errno) */
int amber_mcast_save(const struct amber_fd_rec *rec);
int amber_mcast_restore(struct amber_fd_rec *rec, int fd); /* on failure, rec->path names it */
/* A Unix socket whose unread messages are saved: a connected one, or a bound datagram one. */
int amber_fd_unix_has_queue(const struct amber_fd_rec *rec);

/* Connected Unix sockets (fd_socketpair.c), captured while every process is frozen: first each
 * end's peer (then agent_share.c finds where the peer is), then the unread bytes of the ends
 * this process owns. The restore runs in agent_fds.c's phases: the lower-inode end's owner
 * makes the pair in phase 1, the other end's owner takes it in phase 2, and every holder waits
 * for both ends' bytes to be back. */
int amber_fd_socketpair_peer(struct amber_fd_rec *rec);
/* rec->u[0] of a connected Unix socket: addr holds its peer's name, not its own. */
#define AMBER_UNIX_ADDR_IS_PEERS 1
/* A datagram socket connected to a bound one that is not connected back (a client of a
 * datagram server): it connects to the server's name again rather than coming back reset. */
int amber_fd_socketpair_redials(const struct amber_fd_rec *rec);
void amber_fd_socketpair_peers_done(void);
/* The unread bytes or messages of any Unix socket (a bound datagram socket's too). */
int amber_fd_unix_save_queue(struct amber_fd_rec *rec);
int amber_fd_socketpair_needs_peer(const struct amber_fd_rec *rec);
int amber_fd_socketpair_restore(struct amber_fd_rec *rec, int floor);
int amber_fd_socketpair_wait(const struct amber_fd_rec *rec);

/* Unix datagram sockets in odd states (fd_unix_dgram.c), in u[1]: bound and connected to
 * itself; bound to a path that was unlinked since (its clients in the application, at most
 * AMBER_UNIX_CLIENTS, in u[3..5] as vpid << 32 | fd). */
#define AMBER_UNIX_SELF 0x100
#define AMBER_UNIX_UNLINKED 0x200
#define AMBER_UNIX_CLIENTS 3
int amber_fd_unix_diag_peer(uint64_t ino, uint64_t *peer, int *named); /* sock_diag */
/* A Unix listener's connections waiting to be accepted, into u[AMBER_SOCK_WAITING]. */
void amber_fd_unix_listener_waiting(struct amber_fd_rec *rec);
int amber_fd_unix_dgram_frozen(struct amber_fd_rec *rec); /* once every process is frozen */
int amber_fd_unix_dgram_bound(const struct amber_fd_rec *rec, int fd); /* bound, refilled */
void amber_fd_unix_dgram_redialed(const struct amber_fd_rec *rec, int fd); /* a client's */
int amber_fd_unix_dgram_settle(const struct amber_fd_rec *rec); /* last phase: unlinked again */

/* Pseudo-terminals made in the application (fd_pty.c): the master's owner makes one in phase
 * 1, slaves open it in phase 2. */
int amber_fd_is_pty(const struct stat *st);
int amber_fd_pty_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st);
int amber_fd_pty_frozen(struct amber_fd_rec *rec); /* refuses what cannot be saved */
int amber_fd_pty_needs_peer(const struct amber_fd_rec *rec);
int amber_fd_pty_restore(struct amber_fd_rec *rec, int floor);
/* pty_bytes.c: the master's owner, once every process is frozen: the bytes not read yet both
 * ways, read out and put back (or refused); a restore puts them into the new one. */
int amber_pty_save_bytes(struct amber_fd_rec *rec);
int amber_pty_refill(const struct amber_fd_rec *rec, int master, int slave);
/* pty_lines.c: input on a slave in canonical mode, complete lines and the one being typed:
 * read out as entries into the agent's buffer (their size, or -errno), and typed again through
 * the master before `out` is put back (0, -errno, or for amber_pty_lines_refused a reason);
 * rec->u[3] & AMBER_PTY_LINES: the master's record holds entries, not bytes. */
#define AMBER_PTY_LINES 4
struct termios2;
int amber_pty_canonical(const struct termios2 *modes);
int amber_pty_can_echo(int slave); /* output not stopped, room for the echo */
long amber_pty_read_lines(int slave, const struct termios2 *modes, char **start);
int amber_pty_feed_lines(int master, int slave, const struct termios2 *modes, const char *out,
                         uint64_t out_len, const char *in, uint64_t in_len);
const char *amber_pty_lines_refused(int err);
int amber_pty_write_all(int fd, const char *p, uint64_t len); /* pty_bytes.c */

/* Files with no path to reopen (fd_pathless.c): memfds and deleted files. The file's creator
 * (creator_vpid/fd: its first holder) saves the bytes once every process is frozen, in a
 * mapping released once the process file is written; on restore it makes the file in phase 1
 * and every other description opens it in phase 2. */
int amber_fd_is_pathless(const struct amber_fd_rec *rec);
int amber_fd_pathless_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st);
int amber_fd_pathless_save_bytes(struct amber_fd_rec *rec);
void amber_fd_pathless_release(struct amber_fd_rec *rec);
int amber_fd_pathless_needs_peer(const struct amber_fd_rec *rec);
int amber_fd_pathless_restore(struct amber_fd_rec *rec, int floor);

/* fd_keeper.c: an object several descriptions open again (a named FIFO, a message queue) is
 * made by its creator with make() (a description open for reading and writing), offered under
 * key, and opened again by every description with its own access mode. */
int amber_fd_not_creator(const struct amber_fd_rec *rec); /* needs_peer of such a kind */
int amber_fd_keeper_restore(struct amber_fd_rec *rec, int floor, uint64_t key,
                            int (*make)(const struct amber_fd_rec *rec));

/* Descriptors in flight over Unix sockets (unix_rights.c). In the freeze: peeks each queue
 * and captures the files in flight as records of their own (flight_sock). fd_socketpair.c's
 * walks of a queue hand them over (begin, seen, end): kept in the freeze, met again in order
 * once every process is frozen. A restore's refill that sends some is done later (once every
 * descriptor is placed: deliver, before phase 3); release closes the duplicates. */
int amber_rights_capture(void);
void amber_rights_begin(void);
int amber_rights_seen(struct amber_fd_rec *sock, const int *fds, int n, uint64_t at,
                      uint64_t end);
int amber_rights_end(struct amber_fd_rec *sock);
int amber_rights_count(const struct amber_fd_rec *sock);
int amber_rights_group(const struct amber_fd_rec *sock, int *next, int *fds, int cap,
                       uint64_t *at, uint64_t *end);
int amber_rights_later(const struct amber_fd_rec *rec, int other, int floor,
                       int (*finish)(const struct amber_fd_rec *rec, int mine, int other));
int amber_rights_deliver(const struct amber_fd_rec **failed);
void amber_rights_release(void);

/* Connections waiting in a Unix listener's accept queue from clients of the application
 * (unix_backlog.c): such a client's peer_where is AMBER_PEER_LISTENER (peer_ino: the
 * listener); a listener's owner saves the clients it had waiting, in order (data, nmsgs). */
int amber_fd_unix_waiting_clients(uint64_t ino, uint32_t *out, int cap); /* -1: no listener */
uint64_t amber_fd_unix_listener_of(uint64_t client); /* the listener it waits in, or 0 */
int amber_backlog_client(struct amber_fd_rec *rec, uint32_t unread); /* in frozen_peer */
int amber_backlog_listener(struct amber_fd_rec *rec);                /* its owner, frozen */
int amber_backlog_reconnect(const struct amber_fd_rec *rec, int listener); /* phase 1 */
int amber_backlog_take(struct amber_fd_rec *rec, int floor);               /* phase 2 */
int amber_backlog_held(uint64_t ino); /* a process of the application holds this socket */
/* The same for TCP (tcp_backlog.c): a client's and a listener's; a listener's address to
 * connect to (a wildcard one's loopback). */
int amber_tcp_backlog_client(struct amber_fd_rec *rec);
int amber_tcp_backlog_listener(struct amber_fd_rec *rec);
void amber_tcp_backlog_address(uint8_t *sa);
/* sock_diag.c: sends a NETLINK_SOCK_DIAG request on *sock (opened if -1), its header filled
 * here. */
struct nlmsghdr;
long amber_sock_diag_send(int *sock, struct nlmsghdr *h, uint32_t len, uint16_t flags,
                          uint32_t seq);
/* Hands each answer to sequence seq to each() until it returns nonzero (the end of a dump is
 * read all the same); 0, or -errno (not found is 0). */
long amber_sock_diag_each(int sock, uint32_t seq, int (*each)(const struct nlmsghdr *h, void *ctx),
                          void *ctx);

/* AMBER_SOCK_PEER_OFF, AMBER_SOCK_WINDOW_OFF, AMBER_SOCK_WAITING: in image.h. */

/* Established TCP connections (fd_tcp.c), kept when the snapshot asks for it. */
int amber_fd_tcp_wanted(void);
int amber_fd_tcp_save(struct amber_fd_rec *rec); /* 0, or -1: it comes back reset */
void amber_fd_tcp_release(struct amber_fd_rec *rec);
int amber_fd_tcp_restore(const struct amber_fd_rec *rec, uint32_t peer_len);

/* fdinfo.c: /proc/self/fdinfo/<fd> into buf (amber_read_file's result); the value after the
 * line beginning with `name` (spaces and tabs skipped), or NULL; that value as a number in
 * `base` (0, or -1 if there is none). */
long amber_fdinfo_read(int fd, char *buf, long cap);
const char *amber_fdinfo_field(const char *text, const char *name);
int amber_fdinfo_u64(const char *text, const char *name, int base, uint64_t *out);

/* socket_options.c: an IP socket's options a new one would not have (sockopt[] of its record) */
void amber_socket_options_capture(struct amber_fd_rec *rec);
/* 0, or -errno naming in amber_fd_restore_detail an option that needs a capability the process
 * lacks now (SO_MARK, IP_TRANSPARENT, SO_PRIORITY above 6, SO_RCVBUFFORCE...) */
int amber_socket_options_apply(int fd, const struct amber_fd_rec *rec);
/* and a Unix socket's timeouts and SO_PASSCRED */
void amber_socket_unix_capture(struct amber_fd_rec *rec);
int amber_socket_unix_apply(int fd, const struct amber_fd_rec *rec);

/* anon_inode descriptors: epoll, eventfd, timerfd, signalfd. Restore runs in two passes:
 * pass 0 creates, pass 1 adds epoll registrations once every target exists. */
int amber_fd_anon_capture(struct amber_fd_rec *rec, const char *target);
int amber_fd_anon_restore(struct amber_fd_rec *rec, int floor, int pass);
/* epoll_moved.c: the descriptor of this process that holds the file epoll epfd registered as
 * tfd, or -1; and that registration made again under tfd from the file at holder. */
struct epoll_event;
int amber_epoll_holder(int epfd, int tfd);
/* A registration whose file no descriptor of this process holds (amber_epoll_rec.pad): kept
 * only until the share scan says whether this process re-creates the epoll. */
#define AMBER_EPOLL_NOT_HELD UINT32_MAX
int amber_epoll_frozen(struct amber_fd_rec *rec);
long amber_epoll_add_moved(int epfd, int tfd, int holder, struct epoll_event *ev, int floor);

/* fd_port_check.c: a privileged port its owner could not bind again as itself: -1, refused */
int amber_fd_port_check(const struct amber_fd_rec *rec);

#endif
