/* SCM_CREDENTIALS sent from a copy (creds_copy.h): the kernel accepts a sender's own pid (any
 * with CAP_SYS_ADMIN), the system one, where the program names its virtual one. The program's
 * message is only read: libc's wrapper used to translate it in place and back, which a const
 * message in read-only memory would fault on and another thread reading it would see. */
#include <string.h>
#include <sys/mman.h>

#include "../core/amber.h"
#include "creds_copy.h"

struct ucred *amber_creds_at(struct cmsghdr *c); /* wrap_creds.c */

/* Would a pid of the message's credentials read otherwise for the kernel, or name no process?
 * As amber_who_in decides, without its lookup: any but 0 and a negative one, and in a trapped
 * call (amber_raw_ids) a system pid passes too. */
static int needs_copy(const struct msghdr *m) {
  if (!m || !m->msg_control || m->msg_controllen < sizeof(struct cmsghdr) || !amber_active())
    return 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
    struct ucred *u = amber_creds_at(c);
    if (u && u->pid > 0 && !(amber_raw_ids && u->pid < AMBER_VPID_MIN)) return 1;
  }
  return 0;
}

static size_t rounded(size_t n) { return (n + 7) & ~(size_t)7; }

static void *map(size_t len) {
  long m = amber_sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
  return m < 0 && m > -4096 ? NULL : (void *)m;
}

/* The header into *copy and the control data into ctl, translated there (a failure leaves the
 * program's message as it was: one look-up per pid). 0 or -ESRCH. */
static int translate(struct msghdr *copy, const struct msghdr *m, char *ctl) {
  *copy = *m;
  memcpy(ctl, m->msg_control, m->msg_controllen);
  copy->msg_control = ctl;
  int err = 0;
  amber_enter();
  for (struct cmsghdr *c = CMSG_FIRSTHDR(copy); c && !err; c = CMSG_NXTHDR(copy, c)) {
    struct ucred *u = amber_creds_at(c);
    if (u) err = amber_who_in(u->pid, &u->pid);
  }
  amber_leave();
  return err;
}

int amber_creds_copy_one(struct amber_creds_copy *c, const struct msghdr *m,
                         const struct msghdr **send) {
  c->ctl = NULL;
  *send = m;
  if (!needs_copy(m)) return 0;
  c->len = m->msg_controllen;
  c->ctl = c->len <= sizeof c->small ? c->small : map(c->len);
  if (!c->ctl) return -ENOMEM;
  *send = &c->m;
  return translate(&c->m, m, c->ctl);
}

void amber_creds_copy_done(struct amber_creds_copy *c) {
  if (c->ctl && c->ctl != c->small) amber_sys2(SYS_munmap, c->ctl, c->len);
}

unsigned amber_creds_copy_many(struct amber_creds_many *c, struct mmsghdr *v, unsigned n,
                               struct mmsghdr **send, int *err) {
  size_t need = 0;
  c->w = NULL;
  *send = v;
  *err = 0;
  if (n > 1024) n = 1024; /* UIO_MAXIOV, as the kernel */
  for (unsigned i = 0; v && i < n; i++)
    if (needs_copy(&v[i].msg_hdr)) need += rounded(v[i].msg_hdr.msg_controllen);
  if (!need) return n;
  c->size = n * sizeof *v + need;
  if (!(c->w = map(c->size))) {
    *err = ENOMEM;
    return 0;
  }
  *send = c->w;
  char *ctl = (char *)(c->w + n);
  for (unsigned ok = 0; ok < n; ok++) {
    c->w[ok] = v[ok];
    if (!needs_copy(&v[ok].msg_hdr)) continue;
    int e = translate(&c->w[ok].msg_hdr, &v[ok].msg_hdr, ctl);
    if (e) {
      *err = -e;
      return ok;
    }
    ctl += rounded(v[ok].msg_hdr.msg_controllen);
  }
  return n;
}

void amber_creds_many_done(struct amber_creds_many *c, struct mmsghdr *v, long sent) {
  if (!c->w) return;
  for (long i = 0; i < sent; i++) v[i].msg_len = c->w[i].msg_len;
  amber_sys2(SYS_munmap, c->w, c->size);
}
