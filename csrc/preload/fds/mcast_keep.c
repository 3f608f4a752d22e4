/* Multicast memberships of an IP datagram socket, as the library noted them in the tables
 * (wrappers/mcast_note.c): its owner copies the socket's into the agent's memory at a snapshot
 * (which the image keeps), and a restore makes the same setsockopt calls again on the new
 * socket before the program runs, in the order they were made, and notes them for the new
 * socket. An interface named by index is found again by its name (another computer may number
 * it otherwise). What cannot be made again (a whole source filter, a leave that matched no
 * join, more than the tables hold) makes the snapshot refuse, naming the process, the
 * descriptor and the call. */
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../../common/errno_name.h"
#include "../wrappers/mcast_note.h"
#include "fd_kinds.h"

static struct kept {
  int32_t fd;
  struct amber_mcast_rec m;
} kept[AMBER_MCAST_MAX];
static int nkept;
static uint32_t kept_at = ~0u; /* amber.checkpoints when they were taken */

static int datagram(const struct amber_fd_rec *rec) {
  return (rec->domain == AF_INET || rec->domain == AF_INET6) && rec->type != SOCK_STREAM;
}

static int refuse(const struct amber_fd_rec *rec, const char *why, const struct amber_mcast_rec *m) {
  char what[160] = "";
  if (m) amber_mcast_describe(m, what, sizeof what);
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d: a multicast membership Amber cannot keep: %s%s%s", rec->fd, why,
            m ? " " : "", what);
  return -1;
}

int amber_mcast_save(const struct amber_fd_rec *rec) {
  if (!datagram(rec) || !amber_active()) return 0;
  if (kept_at != amber.checkpoints) nkept = 0, kept_at = amber.checkpoints;
  uint64_t cookie = amber_mcast_cookie(rec->fd);
  struct amber_table *t = amber.table;
  int err = 0;
  amber_table_lock(t);
  if (t->mcast_full)
    err = refuse(rec, "the application changed more memberships than Amber can note (or on "
                      "a socket it could not tell apart), so some may be missing",
                 NULL);
  for (uint32_t i = 0; !err && cookie && i < t->nmcast; i++) {
    const struct amber_mcast_rec *m = &t->mcast[i];
    if (m->cookie != cookie) continue;
    if (m->unkept == AMBER_MCAST_FILTER)
      err = refuse(rec, "a whole source filter, set with", m);
    else if (m->unkept == AMBER_MCAST_UNMATCHED)
      err = refuse(rec, "a leave that matched no join Amber noted (the interface named another "
                        "way?):", m);
    else if (m->unkept)
      err = refuse(rec, "a value Amber does not read, given to", m);
    else if (nkept == AMBER_MCAST_MAX)
      err = refuse(rec, "more memberships than Amber keeps, at", m);
    else
      kept[nkept].fd = rec->fd, kept[nkept++].m = *m;
  }
  amber_table_unlock(t);
  return err;
}

/* The interface index at m's ifindex_off, by the name it had: -ENODEV when none has it. */
static int index_again(const struct amber_mcast_rec *m, int fd, uint8_t *val) {
  if (m->ifindex_off < 0 || !m->ifname[0]) return 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, m->ifname, sizeof m->ifname);
  long r = amber_sys3(SYS_ioctl, fd, SIOCGIFINDEX, &ifr);
  if (r < 0) return (int)r;
  memcpy(val + m->ifindex_off, &ifr.ifr_ifindex, 4);
  return 0;
}

int amber_mcast_restore(struct amber_fd_rec *rec, int fd) {
  if (!datagram(rec)) return 0;
  for (int i = 0; i < nkept; i++) {
    const struct amber_mcast_rec *m = &kept[i].m;
    if (kept[i].fd != rec->fd) continue;
    uint8_t val[AMBER_MCAST_VAL];
    memcpy(val, m->val, m->len);
    int err = index_again(m, fd, val);
    if (!err) err = (int)amber_sys5(SYS_setsockopt, fd, m->level, m->name, val, m->len);
    if (err) {
      char what[160];
      amber_mcast_describe(m, what, sizeof what);
      amber_log("descriptor %d: cannot make its multicast membership again (%s): %s%s", rec->fd,
                what, amber_errno_name(err), err == -ENODEV ? " (no such interface here)" : "");
      char was[sizeof rec->path]; /* the restore's message names the descriptor by its path */
      memcpy(was, rec->path, sizeof was);
      was[sizeof was - 1] = 0;
      amber_fmt(rec->path, sizeof rec->path, "%s, its multicast membership %s", was, what);
      return err;
    }
    amber_mcast_note(fd, m->level, m->name, val, m->len);
  }
  return 0;
}
