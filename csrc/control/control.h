/* The control library's ABI, loaded by Deno through FFI (ffi/symbols.ts declares each symbol).
 * Only fixed-width integers, C strings and caller-owned buffers cross it. Every function that
 * can fail returns 0 (or a length) on success and -errno on failure. Functions that return
 * JSON write it NUL-terminated into buf and return its length, or -ENOSPC if cap is too small.
 * A table handle is an opaque pointer from amber_ctl_table_open. */
#ifndef AMBER_CONTROL_H
#define AMBER_CONTROL_H

#include <stdint.h>

#define AMBER_CTL_ABI_VERSION 1

int32_t amber_ctl_abi_version(void);

/* Application runtime: create the tables file of a new application (mode 0600), its virtual
 * pids from vpid_base (table.h; -EINVAL if it is no range's). */
int32_t amber_ctl_table_create(const char *path, const char *app_id, const char *name,
                               const char *hostname, int32_t vpid_base);
void *amber_ctl_table_open(const char *path, int32_t *err);
void amber_ctl_table_close(void *table);

/* {"appId","name","hostname","rootVpid","state","error","supervisorPid"} */
int32_t amber_ctl_table_info(void *table, char *buf, int32_t cap);
/* [{"kind":"pid|sem|shm|msg","vid","sid","owner","flags","key","mode","nitems","size",
 *   "parent","alive"}] for every live row. */
int32_t amber_ctl_table_rows(void *table, char *buf, int32_t cap);

/* Sends sig to every process of the application (not to its supervisor). */
int32_t amber_ctl_signal_app(void *table, int32_t sig);

/* Snapshot protocol (see docs/snapshot-protocol.md). */
/* parent_dir: an earlier image whose unchanged pages this one refers to, or "" for none. */
int32_t amber_ctl_snapshot_begin(void *table, const char *image_dir, const char *parent_dir,
                                 uint32_t flags); /* AMBER_SNAPSHOT_* */
/* Waits until every agent reports `state` (enum amber_agent_state). Returns 0, -ETIMEDOUT,
 * -ESRCH (a process is gone) or -EIO (an agent failed: see amber_ctl_agent_error). */
int32_t amber_ctl_wait_agents(void *table, int32_t state, int32_t timeout_ms);
int32_t amber_ctl_agent_error(void *table, char *buf, int32_t cap);
/* After a timeout: which processes have not reached `state`, and what the kernel says of each
 * (its state, whether the checkpoint signal is pending or blocked), as text. */
int32_t amber_ctl_lagging(void *table, int32_t state, char *buf, int32_t cap);
int32_t amber_ctl_set_phase(void *table, int32_t phase);
/* Once every agent is frozen, before WRITE: lists what the processes share (ctl_share.c); on
 * failure buf says why, naming the process. */
int32_t amber_ctl_share_scan(void *table, char *buf, int32_t cap);
/* Before a snapshot: -EOPNOTSUPP, and why in buf (naming both), when two of its processes share
 * one address space (a raw clone with CLONE_VM); 0 otherwise. */
int32_t amber_ctl_vm_sharing(void *table, char *buf, int32_t cap);
/* A named FIFO of the application that a process outside it holds too: -EBUSY, buf naming
 * both (ctl_fifo_outside.c). */
struct amber_table;
int amber_share_fifo_outside(struct amber_table *t, char *buf, int cap);
/* A process in a namespace other than the supervisor's: -EOPNOTSUPP, buf naming the process
 * and the kind (ctl_namespaces.c). */
int amber_share_namespaces(struct amber_table *t, char *buf, int cap);
/* A Unix socket of the application with descriptors in flight that a process outside it holds
 * too: -EBUSY, buf naming both (ctl_rights_outside.c). */
int amber_share_rights_outside(struct amber_table *t, char *buf, int cap);
/* ctl_fifo_outside.c: asks match() about every descriptor (its /proc link, stat) of every
 * process outside the application the coordinator may look at, until one says yes (-EBUSY,
 * buf its message); and a process's name. */
struct stat;
typedef int (*amber_outside_match)(const struct amber_table *t, int pid, const char *link,
                                   const struct stat *st, const void *ctx, char *buf, int cap);
int amber_in_application(const struct amber_table *t, int pid);
int amber_scan_outside(const struct amber_table *t, amber_outside_match match, const void *ctx,
                       char *buf, int cap);
void amber_process_comm(int pid, char *comm, int cap);
/* Writes a copy of the tables into the image, and the SysV objects' contents. */
int32_t amber_ctl_save_tables(void *table, const char *path);
int32_t amber_ctl_ipc_save(void *table, const char *image_dir);

/* Restore: a new tables file from an image's copy, then its SysV objects re-created. */
int32_t amber_ctl_table_from_image(const char *image_tables, const char *path, const char *app_id,
                                   const char *name);
int32_t amber_ctl_ipc_restore(void *table, const char *image_dir);
/* Waits until `count` restored processes have reported in; same returns as wait_agents. */
int32_t amber_ctl_wait_restored(void *table, int32_t count, int32_t timeout_ms);
/* After every process wrote its part: removes other process files (an abandoned attempt's) and
 * checks each writer's is there; 0 or -errno. */
int32_t amber_ctl_prune_image(void *table, const char *dir);
/* Copy-on-write snapshots (ctl_cow.c): a wait until no copy of a process writes any more
 * (-ETIMEDOUT). */
int32_t amber_ctl_wait_writers(void *table, int32_t timeout_ms);
/* Copy-on-write snapshots write tables.bin after the thaw (ctl_tables_copy.c): the size of the
 * tables; a copy of them into `copy` (cap bytes, -ENOSPC if too few) taken frozen; that copy,
 * with the live slots, written into a new file at path. */
int64_t amber_ctl_tables_bytes(void);
int32_t amber_ctl_copy_tables(void *table, void *copy, int64_t cap);
int32_t amber_ctl_save_tables_copy(void *table, void *copy, const char *path);

/* Images: a 64-bit hash of a file, as 16 hex digits in buf; a process file described as JSON. */
int32_t amber_ctl_file_hash(const char *path, char *buf, int32_t cap);
int32_t amber_ctl_process_describe(const char *path, char *buf, int32_t cap);
/* A file's hash (whole 1: else 16 zeros) and, for a process file, the hash of all but its page
 * data (whole 2: 16 zeros, the table of page hashes unread) and of that less its table of page
 * hashes: "FULL META HEAD" or "FULL " in buf (ctl_verify.c). */
int32_t amber_ctl_file_hashes(const char *path, int32_t whole, char *buf, int32_t cap);
/* A process file's pages stored in it, each against its hash: 0, 1 for a page that differs,
 * -EPROTO for a file that is not a whole process file, or -errno (ctl_check_pages.c). */
int32_t amber_ctl_check_pages(const char *path);
/* A migration's streamed image: a FIFO for an agent to write its process file into (mode
 * 0600), and, on the target, a process file that came with its header as a trailer put back
 * in order (the header moved to offset 0 and cut off the end; -EPROTO if it is not one). */
int32_t amber_ctl_make_fifo(const char *path);
int32_t amber_ctl_process_untrail(const char *path);
/* ctl_share_pages.c: also packs pages of mostly zeros (pack 1) */
int32_t amber_ctl_share_pages(const char *dir, int32_t vpid, int32_t from, int32_t pack);
/* Points a process file's header at another parent image directory (a migration's pre-copy
 * image on the target); -EPROTO if it is not a process file, -ENAMETOOLONG if dir is too long. */
int32_t amber_ctl_process_set_parent(const char *path, const char *parent_dir);
/* This machine: {"kernel","xcr0","vdsoHash","vdsoSize","vvarSize"} for compatibility checks. */
int32_t amber_ctl_machine_info(char *buf, int32_t cap);
/* 1 if the ELF file at path is dynamically linked, 0 if static, -errno if not ELF/readable. */
int32_t amber_ctl_elf_dynamic(const char *path);

/* Virtual network environments (ctl_vne.c). A VNE table handle is an opaque pointer from
 * amber_ctl_vne_open, which creates the file if it does not exist. Addresses are host-byte-order
 * integers. Origins: 1 this computer's, 2 mirrored from another computer. */
void *amber_ctl_vne_open(const char *path, int32_t *err);
void amber_ctl_vne_close(void *vt);
uint32_t amber_ctl_vne_generation(void *vt);
/* {"generation","vnes":[{"name","subnet","prefix","origin"}],"claims":[{"vne","ip","appId","app",
 *  "hostname","host","origin"}],"rows":[{"vne","proto","ip","port","realIp","realPort","pid",
 *  "origin","appId"}]} */
int32_t amber_ctl_vne_dump(void *vt, char *buf, int32_t cap);
/* -EEXIST (name taken), -EADDRINUSE (subnet overlaps another VNE's), -ENOSPC, -EINVAL */
int32_t amber_ctl_vne_define(void *vt, const char *name, uint32_t subnet, int32_t prefix,
                             int32_t origin);
int32_t amber_ctl_vne_undefine(void *vt, const char *name);
/* -ENOENT (no such VNE), -EDOM (ip outside its subnet), -EADDRINUSE (ip held by another
 * application than replace_app_id), -EEXIST (hostname taken) */
int32_t amber_ctl_vne_claim(void *vt, const char *name, uint32_t ip, const char *app_id,
                            const char *app, const char *hostname, const char *host,
                            int32_t origin, const char *replace_app_id);
/* Frees the claim (held by app_id, or by anyone if app_id is "") and app_id's rows. */
int32_t amber_ctl_vne_unclaim(void *vt, const char *name, uint32_t ip, const char *app_id);
int32_t amber_ctl_vne_row_put(void *vt, const char *name, int32_t proto, uint32_t ip,
                              int32_t port, uint32_t real_ip, int32_t real_port,
                              const char *app_id, int32_t origin);
int32_t amber_ctl_vne_row_delete(void *vt, const char *name, int32_t proto, uint32_t ip,
                                 int32_t port);
/* An application's VNE identity in its tables file: set it; describe it as {"vne","ip","binds":
 * [{"proto","port","realPort","any"}]}; copy it (and the bound addresses) from an image's. */
int32_t amber_ctl_table_set_vne(const char *tables, const char *name, uint32_t ip,
                                const char *vne_table);
int32_t amber_ctl_table_vne(const char *tables, char *buf, int32_t cap);
int32_t amber_ctl_table_vne_from_image(const char *tables, const char *image_tables);
int32_t amber_ctl_image_vne(const char *image_tables, char *buf, int32_t cap);
/* ctl_check.c: the kernel features Amber relies on, each probed by trying it (amber check). */
int32_t amber_ctl_check(char *buf, int32_t cap);

/* The first round of a pre-copy migration: the pages of the running process pid (virtual pid
 * vpid), read from outside, hashed and written to out_path (a FIFO), with its index written to
 * index_path. See ctl_predump.c. */
int32_t amber_ctl_predump(int32_t pid, int32_t vpid, const char *out_path, const char *index_path);

struct amber_table;
/* ctl_members.c: is `pid` a process of the application (common/members.h)? 1 or 0 */
void amber_members_opened(const void *table, const char *tables_path);
void amber_members_closed(const void *table);
int amber_app_member(const void *table, int32_t pid);
/* The supervisor (pid, start time) whose file is in the application directory `dir`; 0 or -1. */
int amber_supervisor_in(const char *dir, int *pid, long long *start);

/* ctl_handover.c: process files handed to processes that cannot reach the image directory */
int amber_handover_start(struct amber_table *t, const char *dir);
void amber_handover_stop(struct amber_table *t);

/* ctl_cow.c: the copies that write a copy-on-write snapshot's files while the application runs */
int amber_cow_writers_busy(struct amber_table *t);
int amber_cow_writer_status(struct amber_table *t, uint32_t slot);

/* ctl_unmanaged.c: while agents freeze, a process that has run a while (since *first_look, the
 * caller's, 0 at first) without the library's handler fails its slot, naming why (a set-ID
 * program); -EIO then, else 0. How a process takes the checkpoint signal: 1 caught, 0 no
 * handler (*blocked: held off), -1 gone or a zombie. */
int amber_ctl_find_unmanaged(struct amber_table *t, int64_t now_ms, int64_t *first_look);
int amber_ctl_ckpt_handler(int32_t sid, int *blocked);
/* A process of a restore gone before it was back: why, in the table's error (ctl_restore_gone.c). */
void amber_ctl_restore_gone(struct amber_table *t, int32_t vpid, int32_t sid);
/* ctl_unblock.c: while agents freeze, lets the checkpoint signal in to the threads they ask for */
void amber_ctl_serve_unblock(struct amber_table *t);
/* ctl_seize.c: seizes a thread for the snapshot (its agent asked, mode SEIZE), answering in `u`;
 * lets the threads seized for `table` go (the snapshot ended), or with `stopped` leaves their
 * processes stopped (a held original that outlives its coordinator) */
struct amber_unblock;
void amber_ctl_seize(struct amber_table *t, int32_t pid, struct amber_unblock *u);
void amber_ctl_seize_release(const void *table, int stopped);
/* ctl_stop_again.c: once the application may go on, waits (up to timeout_ms) until each process
 * that stops itself again has sent itself its stop signal, so that a SIGCONT sent next is
 * not lost; -ETIMEDOUT naming the late one in t->error */
struct amber_table;
int amber_ctl_wait_stops(struct amber_table *t, int timeout_ms);

/* A clone's own virtual hostname, set before its processes run ("" for the real one; at most
 * 64 characters, else -ENAMETOOLONG). See ctl_clone.c. */
int32_t amber_ctl_table_set_hostname(void *table, const char *hostname);

/* Untrusted files and private directories (ctl_files.c), opened without following a link.
 * file_kind: out = {st_mode, st_size} of path itself (a link is described, not followed).
 * read_regular: reads a regular file whole into buf; -ENOSPC if it is larger than cap, -ELOOP
 * for a link, -EISDIR for a directory, -EINVAL for a FIFO, device or socket.
 * private_dir: makes path (mode 0700) if it is missing, then opens it without following a
 * link; -ELOOP or -ENOTDIR if it is a link or not a directory, -EPERM if another user owns it,
 * -EACCES if it existed open to others; out = {owner uid, mode}. */
int32_t amber_ctl_file_kind(const char *path, uint64_t *out);
int32_t amber_ctl_read_regular(const char *path, uint8_t *buf, int32_t cap);
int32_t amber_ctl_private_dir(const char *path, int32_t *out);

/* A migration's hand-off (ctl_held.c, docs/migration.md): restored processes wait while held;
 * disown_held keeps a held snapshot's processes frozen once its coordinator is gone (-EINVAL if
 * none is held); phase reads the snapshot protocol's phase. */
int32_t amber_ctl_set_held(void *table, int32_t held);
int32_t amber_ctl_held(void *table);
int32_t amber_ctl_disown_held(void *table);
int32_t amber_ctl_phase(void *table);

/* ctl_lease.c: hands the agent's lease renewal to the supervisor of the application whose
 * directory is `app_dir` (common/lease_channel.h): 0 once it took it, -ESRCH without a
 * supervisor, -ECONNREFUSED if it does not listen, -EPROTO if it refused the renewal. */
int32_t amber_ctl_hand_renewal(const char *app_dir, uint64_t renewal, int32_t fence_ms);

/* ctl_spin.c: 1 once the agents' reports are no longer `seen`, spun for a few ms; 0 if not, or
 * if the snapshot is not of one process on two CPUs or more (then wait on the futex). */
int amber_ctl_spin_report(struct amber_table *t, uint32_t seen);

#endif
