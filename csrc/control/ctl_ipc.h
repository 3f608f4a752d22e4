/* Saving and re-creating an application's SysV IPC objects (semaphore sets, shared-memory
 * segments, message queues), from the control library: the save runs while every process of
 * the application is frozen, the restore before any restored process runs.
 *
 * <image>/ipc.bin, native byte order (x86-64), written as ipc.bin.tmp and renamed when whole:
 *   header   u64 magic "AMBRIPC1", u32 version (1), u32 reserved (0)
 *   records  one per live SEM, SHM and MSG row of the table, each
 *              u32 kind (enum amber_kind), i32 virtual ID, u32 count, u32 reserved,
 *              u64 extra, u64 bytes, then `bytes` bytes of payload:
 *            SEM  count = semaphores in the set; payload: count u16 values (GETALL)
 *            SHM  count = 0; bytes = the segment's size; payload: its contents
 *            MSG  count = messages; extra = msg_qbytes; payload: per message, in queue order,
 *                 i64 mtype, u64 length, then length bytes of text
 *   trailer  a record of kind 0xffffffff whose virtual ID is the number of records, no payload;
 *            a file without it is truncated.
 * The rows themselves (key, mode, sizes) travel in the image's copy of the tables.
 *
 * Saving a queue's messages takes them out (msgrcv, IPC_NOWAIT, until ENOMSG) and puts them
 * back in the same order, so the running application keeps every message; only the queue's
 * last sender and receiver pids and times now name the control process.
 *
 * Restore re-creates each object with a new system ID, under its original key (IPC_CREAT |
 * IPC_EXCL: a key taken on this machine fails with -EEXIST) or IPC_PRIVATE, first with mode
 * 0600 so that it can be filled, then with the row's mode. Nothing is written into the table
 * until every object exists; on failure the objects made so far are removed again. */
#ifndef AMBER_CTL_IPC_H
#define AMBER_CTL_IPC_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))

#define IPC_FILE_MAGIC 0x3143504952424d41ULL /* "AMBRIPC1" */
#define IPC_FILE_VERSION 1
#define IPC_RECORD_END 0xffffffffu

#include "../common/sysv_compat.h"

/* The kernel's index of a SysV ID (ipcid_to_idx): what the *_STAT_ANY commands take. */
#define IPC_INDEX(sid) ((sid) & 0x7fff)

struct ipc_header {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
};

struct ipc_record {
  uint32_t kind;
  int32_t vid;
  uint32_t count;
  uint32_t reserved;
  uint64_t extra;
  uint64_t bytes;
};

struct msg_head {
  int64_t type;
  uint64_t length;
};

union semun_arg {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

struct msg_list {
  char *data;
  size_t len, cap;
  uint32_t count;
};

struct ipc_row {
  int kind;
  struct amber_row row;
};

/* ctl_ipc.c: what saving and restoring share */
int ipc_write_all(int fd, const void *buf, size_t n);
int ipc_read_all(int fd, void *buf, size_t n);
int ipc_list_append(struct msg_list *l, long type, const void *text, size_t n);
int ipc_send_all(int sid, const struct msg_list *l);
int ipc_rows(struct amber_table *t, struct ipc_row **out); /* how many, or -errno */
int ipc_is_ipc_kind(int kind);

#endif
