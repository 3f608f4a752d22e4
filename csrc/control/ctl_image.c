/* Images as the control library sees them: checksums, process files described for the
 * manifest, this machine's identity for compatibility checks, and the ELF check of `run`. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/image.h"
#include "../common/image_check.h"
#include "control.h"
#include "files.h"
#include "json.h"

#define API __attribute__((visibility("default")))

API int32_t amber_ctl_file_hash(const char *path, char *buf, int32_t cap) {
  char both[64];
  if (cap < 17) return -ENOSPC;
  int32_t n = amber_ctl_file_hashes(path, 1, both, sizeof both);
  if (n < 0) return n;
  memcpy(buf, both, 16);
  buf[16] = 0;
  return 16;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off) {
  ssize_t n = pread(fd, buf, len, (off_t)off);
  return n == (ssize_t)len ? 0 : -EPROTO;
}

static const char *region_kind_name(uint32_t kind) {
  switch (kind) {
  case AMBER_REGION_ANON: return "anonymous";
  case AMBER_REGION_ANON_SHARED: return "shared anonymous";
  case AMBER_REGION_FILE: return "file";
  case AMBER_REGION_FILE_SHARED: return "shared file";
  case AMBER_REGION_SPECIAL: return "kernel";
  case AMBER_REGION_TABLES: return "amber tables";
  case AMBER_REGION_SYSV_SHM: return "sysv shm";
  }
  return "unknown";
}

static const char *fd_kind_name(struct amber_fd_rec *rec) {
  switch (rec->kind) {
  case AMBER_FD_STDIO: return "stdio";
  case AMBER_FD_FILE: return "file";
  case AMBER_FD_PIPE: return "pipe";
  case AMBER_FD_SOCKET: return "socket";
  case AMBER_FD_EPOLL: return "epoll";
  case AMBER_FD_EVENTFD: return "eventfd";
  case AMBER_FD_TIMERFD: return "timerfd";
  case AMBER_FD_SIGNALFD: return "signalfd";
  case AMBER_FD_MEMFD: return "memfd";
  case AMBER_FD_DELETED: return "deleted file";
  case AMBER_FD_PTY: return "pty";
  case AMBER_FD_FIFO: return "fifo";
  }
  /* A kind added in a file of its own: its table's name, as the agent wrote it. */
  rec->kind_name[sizeof rec->kind_name - 1] = 0;
  for (const char *c = rec->kind_name; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < ' ') return "unknown";
  return rec->kind_name[0] ? rec->kind_name : "unknown";
}

static const char *lock_kind_name(int32_t kind) {
  switch (kind) {
  case AMBER_LOCK_FLOCK: return "flock";
  case AMBER_LOCK_POSIX: return "posix";
  case AMBER_LOCK_OFD: return "ofd";
  }
  return "unknown";
}

/* "1.2.3.4:80" or "[::1]:80" for an AF_INET or AF_INET6 address; "" otherwise. */
static void inet_text(const uint8_t *addr, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  const struct sockaddr_in *v4 = (const void *)addr;
  const struct sockaddr_in6 *v6 = (const void *)addr;
  out[0] = 0;
  if (v4->sin_family == AF_INET && inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip))
    snprintf(out, cap, "%s:%d", ip, ntohs(v4->sin_port));
  else if (v6->sin6_family == AF_INET6 && inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip))
    snprintf(out, cap, "[%s]:%d", ip, ntohs(v6->sin6_port));
}

/* A Unix socket's name: its path, or "@name" for an abstract one. */
static void unix_text(const struct amber_fd_rec *rec, char *out, size_t cap) {
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = rec->addr_len > off ? rec->addr_len - off : 0;
  const char *name = (const char *)rec->addr + off;
  if (n && !name[0]) snprintf(out, cap, "@%.*s", (int)(n - 1), name + 1);
  else snprintf(out, cap, "%.*s", (int)strnlen(name, n), name);
}

/* What a restore cannot bring back of a socket, for the snapshot, inspect and restore to say: a
 * TCP connection that comes back reset, a listener's connections that were not accepted. */
static void socket_losses(struct json *j, const struct amber_fd_rec *rec) {
  if (rec->kind != AMBER_FD_SOCKET) return;
  char local[120], remote[64];
  if (rec->domain == AF_UNIX) unix_text(rec, local, sizeof local);
  else if (rec->domain == AF_INET || rec->domain == AF_INET6) inet_text(rec->addr, local, sizeof local);
  else return;
  if (rec->socket_kind == AMBER_SOCK_RESET && rec->type == SOCK_STREAM && rec->domain != AF_UNIX &&
      rec->peer_where != AMBER_PEER_LISTENER) { /* a waiting connection is kept */
    inet_text(rec->addr + AMBER_SOCK_PEER_OFF, remote, sizeof remote);
    json_raw(j, ",\"reset\":{\"local\":");
    json_str(j, local);
    json_raw(j, ",\"remote\":");
    json_str(j, remote);
    /* the snapshot asked to keep it (--tcp-established) and the kernel would not (fd_tcp.c) */
    json_raw(j, ",\"repairRefused\":%s}", rec->u[0] ? "true" : "false");
  } else if (rec->socket_kind == AMBER_SOCK_LISTEN && rec->u[AMBER_SOCK_WAITING]) {
    json_raw(j, ",\"unaccepted\":{\"local\":");
    json_str(j, local);
    json_raw(j, ",\"waiting\":%llu}", (unsigned long long)rec->u[AMBER_SOCK_WAITING]);
  }
}

/* Every count, offset and name is checked against the file first (image_check.h). */
API int32_t amber_ctl_process_describe(const char *path, char *buf, int32_t cap) {
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) return fd;
  struct amber_proc_header hdr;
  struct stat st;
  int err = fstat(fd, &st) ? -errno : read_at(fd, &hdr, sizeof hdr, 0);
  if (!err && amber_image_header_problem(&hdr, (uint64_t)st.st_size)) err = -EPROTO;
  struct json j;
  json_init(&j, buf, cap);
  if (!err) {
    json_raw(&j, "{\"vpid\":%d,\"comm\":", hdr.vpid);
    json_str(&j, hdr.comm);
    json_raw(&j, ",\"exe\":");
    json_str(&j, hdr.exe);
    json_raw(&j, ",\"threads\":%d,\"descriptors\":%d,\"savedBytes\":%llu,\"regions\":[", hdr.nthreads,
             hdr.nfds, (unsigned long long)(hdr.data_len + hdr.packed_len));
    /* pages in this file; referred to a parent image; stored once in another process's file */
    uint64_t own_pages = 0, parent_pages = 0, shared_pages = 0;
    for (int i = 0; i < hdr.nregions && !err; i++) {
      struct amber_region_rec r;
      err = read_at(fd, &r, sizeof r, hdr.regions_off + (uint64_t)i * sizeof r);
      if (!err && amber_image_region_problem(&r, &hdr)) err = -EPROTO;
      uint64_t saved = 0;
      for (uint32_t k = 0; k < r.nruns && !err; k++) {
        struct amber_run_rec run;
        err = read_at(fd, &run, sizeof run, hdr.runs_off + (uint64_t)(r.first_run + k) * sizeof run);
        if (!err && amber_image_run_problem(&run, &r, (uint64_t)st.st_size)) err = -EPROTO;
        saved += run.npages * AMBER_PAGE;
        if (run.depth) parent_pages += run.npages;
        else if (run.vpid && run.vpid != hdr.vpid) shared_pages += run.npages;
        else own_pages += run.npages;
      }
      json_raw(&j, "%s{\"start\":\"%llx\",\"end\":\"%llx\",\"prot\":%u,\"kind\":\"%s\",\"saved\":%llu,",
               i ? "," : "", (unsigned long long)r.start, (unsigned long long)r.end, r.prot,
               r.flags & AMBER_REGION_SHM_FILE ? "shared memory file" : region_kind_name(r.kind),
               (unsigned long long)saved);
      if (r.kind == AMBER_REGION_FILE)
        json_raw(&j, "\"fileSize\":%lld,\"fileMtimeNs\":\"%lld\",", (long long)r.file_size,
                 (long long)r.file_mtime_ns);
      if (r.kind == AMBER_REGION_FILE_SHARED && r.prot & PROT_WRITE && r.file_mtime_ns)
        json_raw(&j, "\"writable\":true,\"fileSize\":%lld,\"fileMtimeNs\":\"%lld\",",
                 (long long)r.file_size, (long long)r.file_mtime_ns); /* changed_files.ts */
      json_raw(&j, "\"name\":");
      json_str(&j, r.name);
      json_raw(&j, "}");
    }
    json_raw(&j, "],\"fds\":[");
    for (int i = 0; i < hdr.nfds && !err; i++) {
      static struct amber_fd_rec rec;
      err = read_at(fd, &rec, sizeof rec, hdr.fds_off + (uint64_t)i * sizeof rec);
      rec.path[sizeof rec.path - 1] = 0; /* only described here */
      json_raw(&j, "%s{\"fd\":%d,\"kind\":\"%s\",\"name\":", i ? "," : "", rec.fd,
               fd_kind_name(&rec));
      json_str(&j, rec.kind == AMBER_FD_STDIO ? "" : rec.path);
      if (rec.flight_sock) /* a file in flight (preload/fds/unix_rights.c), not the program's */
        json_raw(&j, ",\"inFlightOn\":%d", rec.flight_sock - 1);
      if (rec.kind == AMBER_FD_FILE && S_ISREG(rec.file_mode)) /* src/changed_files.ts */
        json_raw(&j, ",\"flags\":%d,\"fileDev\":\"%llu\",\"fileIno\":\"%llu\",\"fileSize\":%lld,"
                     "\"fileMtimeNs\":\"%lld\"",
                 rec.flags, (unsigned long long)rec.file_dev, (unsigned long long)rec.ino,
                 (long long)rec.file_size, (long long)rec.file_mtime_ns);
      socket_losses(&j, &rec);
      json_raw(&j, "}");
    }
    json_raw(&j, "],\"locks\":[");
    for (int i = 0; i < hdr.nlocks && !err; i++) {
      struct amber_lock_rec lock;
      err = read_at(fd, &lock, sizeof lock, hdr.locks_off + (uint64_t)i * sizeof lock);
      json_raw(&j, "%s{\"fd\":%d,\"kind\":\"%s\",\"type\":\"%s\",\"start\":%lld,\"end\":%lld}",
               i ? "," : "", lock.fd, lock_kind_name(lock.kind),
               lock.type == F_WRLCK ? "write" : "read", (long long)lock.start,
               (long long)lock.end);
    }
    /* Packed pages are this file's too (image.h). */
    json_raw(&j, "],\"pages\":%llu,\"parentPages\":%llu,\"trackedRegions\":%d,\"sharedPages\":%llu,"
                 "\"packedPages\":%d}",
             (unsigned long long)(own_pages + (uint64_t)hdr.npacked),
             (unsigned long long)parent_pages, hdr.dirty_tracked, (unsigned long long)shared_pages,
             hdr.npacked);
  }
  close(fd);
  return err ? err : json_done(&j);
}

API int32_t amber_ctl_make_fifo(const char *path) {
  if (mkfifo(path, 0600)) return -errno;
  return chmod(path, 0600) ? -errno : 0; /* whatever the umask */
}

API int32_t amber_ctl_process_untrail(const char *path) {
  int fd = amber_open_regular(path, O_RDWR);
  if (fd < 0) return fd;
  struct stat st;
  struct amber_proc_header hdr;
  int err = fstat(fd, &st) ? -errno : 0;
  uint64_t size = err ? 0 : (uint64_t)st.st_size;
  if (!err && size < AMBER_PAGE + sizeof hdr) err = -EPROTO;
  if (!err) err = read_at(fd, &hdr, sizeof hdr, size - sizeof hdr);
  if (!err && (!amber_proc_header_ok(&hdr) || hdr.file_size != size - sizeof hdr))
    err = -EPROTO;
  if (!err && pwrite(fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) err = -EIO;
  if (!err && ftruncate(fd, (off_t)hdr.file_size)) err = -errno;
  close(fd);
  return err;
}

API int32_t amber_ctl_process_set_parent(const char *path, const char *parent_dir) {
  struct amber_proc_header hdr;
  if (strlen(parent_dir) >= sizeof hdr.parent_dir) return -ENAMETOOLONG;
  int fd = amber_open_regular(path, O_RDWR);
  if (fd < 0) return fd;
  int err = read_at(fd, &hdr, sizeof hdr, 0);
  if (!err && !amber_proc_header_ok(&hdr)) err = -EPROTO;
  if (!err) {
    memset(hdr.parent_dir, 0, sizeof hdr.parent_dir);
    memcpy(hdr.parent_dir, parent_dir, strlen(parent_dir));
    if (pwrite(fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) err = -EIO;
  }
  close(fd);
  return err;
}

static uint64_t xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/* The kernel's own mappings in this process: their sizes, and a hash of the vDSO's code. */
static void kernel_mappings(uint64_t *vdso_size, uint64_t *vvar_size, uint64_t *vdso_hash) {
  *vdso_size = *vvar_size = *vdso_hash = 0;
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx", &start, &end) != 2) continue;
    if (strstr(line, "[vdso]")) {
      *vdso_size = end - start;
      struct amber_hash h;
      amber_hash_init(&h);
      amber_hash_update(&h, (void *)start, end - start);
      *vdso_hash = amber_hash_final(&h);
    } else if (strstr(line, "[vvar")) {
      *vvar_size += end - start;
    }
  }
  fclose(f);
}

API int32_t amber_ctl_machine_info(char *buf, int32_t cap) {
  struct utsname u;
  uname(&u);
  uint64_t vdso_size, vvar_size, vdso_hash;
  kernel_mappings(&vdso_size, &vvar_size, &vdso_hash);
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "{\"kernel\":");
  json_str(&j, u.release);
  json_raw(&j, ",\"xcr0\":\"%llx\",\"vdsoHash\":\"%016llx\",\"vdsoSize\":%llu,\"vvarSize\":%llu}",
           (unsigned long long)xcr0(), (unsigned long long)vdso_hash,
           (unsigned long long)vdso_size, (unsigned long long)vvar_size);
  return json_done(&j);
}

API int32_t amber_ctl_elf_dynamic(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  Elf64_Ehdr eh;
  int result = -ENOEXEC;
  if (read_at(fd, &eh, sizeof eh, 0) == 0 && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
      eh.e_ident[EI_CLASS] == ELFCLASS64) {
    result = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      if (read_at(fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * eh.e_phentsize)) break;
      if (ph.p_type == PT_INTERP) result = 1;
    }
  }
  close(fd);
  return result;
}
