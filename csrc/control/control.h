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

/* Application runtime: create the tables file of a new application (mode 0600). */
int32_t amber_ctl_table_create(const char *path, const char *app_id, const char *name,
                               const char *hostname);
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
int32_t amber_ctl_snapshot_begin(void *table, const char *image_dir);
/* Waits until every agent reports `state` (enum amber_agent_state). Returns 0, -ETIMEDOUT,
 * -ESRCH (a process is gone) or -EIO (an agent failed: see amber_ctl_agent_error). */
int32_t amber_ctl_wait_agents(void *table, int32_t state, int32_t timeout_ms);
int32_t amber_ctl_agent_error(void *table, char *buf, int32_t cap);
int32_t amber_ctl_set_phase(void *table, int32_t phase);
/* Writes a copy of the tables into the image, and the SysV objects' contents. */
int32_t amber_ctl_save_tables(void *table, const char *path);
int32_t amber_ctl_ipc_save(void *table, const char *image_dir);

/* Restore: a new tables file from an image's copy, then its SysV objects re-created. */
int32_t amber_ctl_table_from_image(const char *image_tables, const char *path, const char *app_id,
                                   const char *name);
int32_t amber_ctl_ipc_restore(void *table, const char *image_dir);
/* Waits until `count` restored processes have reported in; same returns as wait_agents. */
int32_t amber_ctl_wait_restored(void *table, int32_t count, int32_t timeout_ms);

/* Images: a 64-bit hash of a file, as 16 hex digits in buf; a process file described as JSON. */
int32_t amber_ctl_file_hash(const char *path, char *buf, int32_t cap);
int32_t amber_ctl_process_describe(const char *path, char *buf, int32_t cap);
/* This machine: {"kernel","xcr0","vdsoHash","vdsoSize","vvarSize"} for compatibility checks. */
int32_t amber_ctl_machine_info(char *buf, int32_t cap);
/* 1 if the ELF file at path is dynamically linked, 0 if static, -errno if not ELF/readable. */
int32_t amber_ctl_elf_dynamic(const char *path);

#endif
