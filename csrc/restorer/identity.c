/* Who each restored process is, settled before any byte of the image runs (docs/trust-model.md):
 * the credentials and limits the coordinator saw at the snapshot (credentials.bin), never more.
 * When root restores an image that another user owns (--as UID:GID:GROUPS, the owner's), the
 * owner is the ceiling: every process runs as her, and an image that asks for anything else is
 * refused. What the process's own memory says about its credentials can only lower them. */
#include <fcntl.h>

#include "../common/credentials.h"
#include "../common/reopen.h"
#include "restorer.h"

static struct amber_creds_rec target;
static int have_target, have_record;
static int grouped; /* this process's groups are set for open_as_process */
static struct {
  int set;
  uint32_t uid, gid, n;
  uint32_t groups[AMBER_CREDS_GROUPS];
} ceiling;

static int parse_num(const char **p, uint32_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  while (*s >= '0' && *s <= '9' && v < 1ULL << 32) v = v * 10 + (uint64_t)(*s++ - '0');
  if (s == *p || v >= 1ULL << 32) return -1;
  *out = (uint32_t)v;
  *p = s;
  return 0;
}

/* "UID:GID:G1,G2,..." (the group list may be empty). */
int parse_ceiling(const char *s) {
  if (parse_num(&s, &ceiling.uid) || *s++ != ':' || parse_num(&s, &ceiling.gid) || *s++ != ':')
    return -1;
  while (*s && ceiling.n < AMBER_CREDS_GROUPS) {
    if (parse_num(&s, &ceiling.groups[ceiling.n++])) return -1;
    if (*s == ',') s++;
  }
  ceiling.set = 1;
  if (*s) return -1;
  /* Her groups from now on: nothing the restorer does as root depends on root's groups, and
   * every file it opens for her is opened with hers (open_image_file, open_as_process). */
  return amber_sys2(SYS_setgroups, ceiling.n, ceiling.groups) < 0 ? -1 : 0;
}

/* A file of the image (a process file, a parent's). When the image is another user's, it is
 * opened as her, not as root: a link she planted in it, or a parent image it names, must not
 * make the restorer read for her what she could not read herself. */
long open_image_file(const char *path) {
  /* A FIFO planted in an image must not hang the restore: O_NONBLOCK (the caller checks that
   * it is a regular file). */
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  if (!ceiling.set) return amber_sys4(SYS_openat, AT_FDCWD, path, flags, 0);
  amber_sys1(SYS_setfsgid, ceiling.gid);
  amber_sys1(SYS_setfsuid, ceiling.uid);
  long fd = amber_sys4(SYS_openat, AT_FDCWD, path, flags, 0);
  amber_sys1(SYS_setfsuid, 0);
  amber_sys1(SYS_setfsgid, 0);
  return fd;
}

/* Whose files the restore makes: the image's owner's when root restores another user's image
 * (1, with her uid and gid), else the restorer's own (0). */
int ceiling_ids(uint32_t *uid, uint32_t *gid) {
  *uid = ceiling.uid, *gid = ceiling.gid;
  return ceiling.set;
}

static int group_allowed(uint32_t g) {
  if (g == ceiling.gid) return 1;
  for (uint32_t i = 0; i < ceiling.n; i++)
    if (ceiling.groups[i] == g) return 1;
  return 0;
}

static void refuse(const char *what, uint32_t asked) {
  char msg[200] = "process ";
  rt_append_num(msg, sizeof msg, target.vpid, 10);
  rt_append(msg, sizeof msg, ": its image asks for ");
  rt_append(msg, sizeof msg, what);
  rt_append(msg, sizeof msg, " ");
  rt_append_num(msg, sizeof msg, asked, 10);
  rt_append(msg, sizeof msg, ", which the image's owner (uid ");
  rt_append_num(msg, sizeof msg, ceiling.uid, 10);
  rt_append(msg, sizeof msg, ") did not have");
  die(msg, 0);
}

void choose_identity(int32_t vpid) {
  char path[4200];
  have_record = grouped = 0; /* a child's restorer forked from its parent's chooses again */
  rt_copy(path, image_dir, sizeof path);
  rt_append(path, sizeof path, "/" AMBER_CREDS_FILE);
  int fd = (int)open_image_file(path);
  for (uint64_t off = 0; fd >= 0 && !have_record; off += sizeof target) {
    if (rt_pread_all(fd, &target, sizeof target, off)) break;
    have_record = target.vpid == vpid && target.ngroups <= AMBER_CREDS_GROUPS;
  }
  if (fd >= 0) amber_sys1(SYS_close, fd);
  have_target = have_record || ceiling.set;
  if (!ceiling.set) return;
  if (!have_record) { /* the owner's own identity */
    target.vpid = vpid;
    for (int i = 0; i < 3; i++) target.uid[i] = ceiling.uid, target.gid[i] = ceiling.gid;
    target.ngroups = ceiling.n;
    for (uint32_t i = 0; i < ceiling.n; i++) target.groups[i] = ceiling.groups[i];
    return;
  }
  for (int i = 0; i < 3; i++) {
    if (target.uid[i] != ceiling.uid) refuse("uid", target.uid[i]);
    if (!group_allowed(target.gid[i])) refuse("gid", target.gid[i]);
  }
  for (uint32_t i = 0; i < target.ngroups; i++)
    if (!group_allowed(target.groups[i])) refuse("group", target.groups[i]);
}

/* Limits first (a root restorer may still raise them; not beyond the owner's own for another
 * user's image), then groups, group, user: privilege is given up last. */
void take_identity(void) {
  if (!have_target) return;
  if (have_record && !ceiling.set) {
    for (int r = 0; r < AMBER_CREDS_LIMITS; r++)
      amber_sys4(SYS_prlimit64, 0, r, target.limits[r], 0);
    amber_sys3(SYS_setpriority, 0 /* PRIO_PROCESS */, 0, target.nice);
  }
  long err = amber_sys2(SYS_setgroups, target.ngroups, target.groups);
  if (!err) err = amber_sys3(SYS_setresgid, target.gid[0], target.gid[1], target.gid[2]);
  if (!err) err = amber_sys3(SYS_setresuid, target.uid[0], target.uid[1], target.uid[2]);
  uint32_t now[3];
  amber_sys3(SYS_getresuid, &now[0], &now[1], &now[2]);
  if (now[0] != target.uid[0] || now[1] != target.uid[1] || now[2] != target.uid[2])
    die("cannot take the process's credentials", err);
}

/* A file the program had mapped, opened as the process itself would: with its credentials for
 * the file system (and its groups), not the restorer's, and without following links. */
long open_as_process(const char *path, int flags) {
  if (!have_target) return amber_open_no_links(path, flags | O_CLOEXEC);
  if (!grouped) grouped = amber_sys2(SYS_setgroups, target.ngroups, target.groups) == 0;
  amber_sys1(SYS_setfsgid, target.gid[1]);
  amber_sys1(SYS_setfsuid, target.uid[1]);
  long fd = amber_open_no_links(path, flags | O_CLOEXEC);
  amber_sys1(SYS_setfsuid, 0); /* still root here: the file-system capabilities come back */
  amber_sys1(SYS_setfsgid, 0);
  return fd;
}
