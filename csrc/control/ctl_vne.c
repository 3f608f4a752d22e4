/* The control library's side of virtual network environments: the computer's VNE table
 * (common/vne.h) for the command line and the agent, and an application's VNE identity in its
 * tables. Addresses cross the ABI as host-byte-order integers (10.10.2.5 is 0x0a0a0205), and
 * are stored in network byte order. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/table.h"
#include "../common/vne.h"
#include "control.h"
#include "files.h"
#include "json.h"

#define API __attribute__((visibility("default")))

static void copy_str(char *dst, const char *src, size_t cap) {
  size_t n = src ? strnlen(src, cap - 1) : 0;
  memcpy(dst, src ? src : "", n);
  dst[n] = 0;
}

API void *amber_ctl_vne_open(const char *path, int32_t *err) {
  struct amber_vne_table *t = NULL;
  int e = amber_vne_open(path, 1, &t);
  if (err) *err = e;
  return e ? NULL : t;
}

API void amber_ctl_vne_close(void *vt) { amber_vne_close(vt); }

API uint32_t amber_ctl_vne_generation(void *vt) {
  return __atomic_load_n(&((struct amber_vne_table *)vt)->generation, __ATOMIC_ACQUIRE);
}

API int32_t amber_ctl_vne_dump(void *vt, char *buf, int32_t cap) {
  struct amber_vne_table *t = vt;
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "{\"generation\":%u,\"vnes\":[", __atomic_load_n(&t->generation, __ATOMIC_ACQUIRE));
  int first = 1;
  for (int i = 0; i < AMBER_VNE_MAX; i++) {
    struct amber_vne_def *d = &t->defs[i];
    if (d->state != AMBER_ROW_LIVE) continue;
    json_raw(&j, "%s{\"name\":", first ? "" : ",");
    json_str(&j, d->name);
    json_raw(&j, ",\"subnet\":%u,\"prefix\":%u,\"origin\":%d}", ntohl(d->subnet), d->prefix,
             d->origin);
    first = 0;
  }
  json_raw(&j, "],\"claims\":[");
  first = 1;
  for (int i = 0; i < AMBER_VNE_CLAIMS; i++) {
    struct amber_vne_claim *c = &t->claims[i];
    if (c->state != AMBER_ROW_LIVE || c->vne < 0 || c->vne >= AMBER_VNE_MAX) continue;
    json_raw(&j, "%s{\"vne\":", first ? "" : ",");
    json_str(&j, t->defs[c->vne].name);
    json_raw(&j, ",\"ip\":%u,\"appId\":", ntohl(c->vip));
    json_str(&j, c->app_id);
    json_raw(&j, ",\"app\":");
    json_str(&j, c->app);
    json_raw(&j, ",\"hostname\":");
    json_str(&j, c->hostname);
    json_raw(&j, ",\"host\":");
    json_str(&j, c->host);
    json_raw(&j, ",\"origin\":%d}", c->origin);
    first = 0;
  }
  json_raw(&j, "],\"rows\":[");
  first = 1;
  for (uint32_t i = 0; i < t->high && i < AMBER_VNE_ROWS; i++) {
    struct amber_vne_row *r = &t->rows[i];
    if (r->state != AMBER_ROW_LIVE || r->vne < 0 || r->vne >= AMBER_VNE_MAX) continue;
    json_raw(&j, "%s{\"vne\":", first ? "" : ",");
    json_str(&j, t->defs[r->vne].name);
    json_raw(&j, ",\"proto\":%d,\"ip\":%u,\"port\":%u,\"realIp\":%u,\"realPort\":%u,\"pid\":%d,"
                 "\"origin\":%d,\"appId\":",
             r->proto, ntohl(r->vip), ntohs(r->vport), ntohl(r->rip), ntohs(r->rport), r->pid,
             r->origin);
    json_str(&j, r->app_id);
    json_raw(&j, "}");
    first = 0;
  }
  json_raw(&j, "]}");
  return json_done(&j);
}

static int valid_prefix(uint32_t subnet, int32_t prefix) {
  if (prefix < 8 || prefix > 30) return 0;
  uint32_t host_bits = prefix == 32 ? 0 : ~0U >> prefix;
  return (subnet & host_bits) == 0;
}

API int32_t amber_ctl_vne_define(void *vt, const char *name, uint32_t subnet, int32_t prefix,
                                 int32_t origin) {
  struct amber_vne_table *t = vt;
  if (!name[0] || strlen(name) >= sizeof t->defs[0].name || !valid_prefix(subnet, prefix))
    return -EINVAL;
  struct amber_vne_def probe = {.subnet = htonl(subnet), .prefix = (uint32_t)prefix};
  amber_vne_lock(t);
  int err = amber_vne_find(t, name) >= 0 ? -EEXIST : 0;
  struct amber_vne_def *slot = NULL;
  for (int i = 0; i < AMBER_VNE_MAX && !err; i++) {
    struct amber_vne_def *d = &t->defs[i];
    if (d->state != AMBER_ROW_LIVE) {
      if (!slot) slot = d;
      continue;
    }
    /* Subnets of two VNEs never overlap: an address names one VNE at most. */
    if (amber_vne_in(d, probe.subnet) || amber_vne_in(&probe, d->subnet)) err = -EADDRINUSE;
  }
  if (!err && !slot) err = -ENOSPC;
  if (!err) {
    memset(slot, 0, sizeof *slot);
    copy_str(slot->name, name, sizeof slot->name);
    slot->subnet = probe.subnet;
    slot->prefix = probe.prefix;
    slot->origin = origin;
    __atomic_store_n(&slot->state, AMBER_ROW_LIVE, __ATOMIC_RELEASE);
  }
  amber_vne_unlock(t);
  return err;
}

/* Frees the rows of one application (app_id) or of a whole VNE (app_id NULL). */
static void free_rows(struct amber_vne_table *t, int vne, const char *app_id) {
  for (uint32_t i = 0; i < t->high && i < AMBER_VNE_ROWS; i++) {
    struct amber_vne_row *r = &t->rows[i];
    if (r->state == AMBER_ROW_LIVE && r->vne == vne &&
        (!app_id || !strncmp(r->app_id, app_id, sizeof r->app_id)))
      amber_vne_row_free(r);
  }
}

API int32_t amber_ctl_vne_undefine(void *vt, const char *name) {
  struct amber_vne_table *t = vt;
  amber_vne_lock(t);
  int vne = amber_vne_find(t, name);
  if (vne >= 0) {
    for (int i = 0; i < AMBER_VNE_CLAIMS; i++)
      if (t->claims[i].state == AMBER_ROW_LIVE && t->claims[i].vne == vne)
        __atomic_store_n(&t->claims[i].state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
    free_rows(t, vne, NULL);
    __atomic_store_n(&t->defs[vne].state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
  }
  amber_vne_unlock(t);
  return vne >= 0 ? 0 : -ENOENT;
}

API int32_t amber_ctl_vne_claim(void *vt, const char *name, uint32_t ip, const char *app_id,
                                const char *app, const char *hostname, const char *host,
                                int32_t origin, const char *replace_app_id) {
  struct amber_vne_table *t = vt;
  uint32_t vip = htonl(ip);
  struct amber_vne_claim *sizes = &t->claims[0];
  if (strlen(app_id) >= sizeof sizes->app_id || strlen(app) >= sizeof sizes->app ||
      strlen(hostname) >= sizeof sizes->hostname || strlen(host) >= sizeof sizes->host)
    return -ENAMETOOLONG; /* cut short, a name would be another's */
  amber_vne_lock(t);
  int err = 0, vne = amber_vne_find(t, name);
  if (vne < 0) err = -ENOENT;
  else if (!amber_vne_in(&t->defs[vne], vip)) err = -EDOM;
  struct amber_vne_claim *c = err ? NULL : amber_vne_claim_of_ip(t, vne, vip);
  if (c && strncmp(c->app_id, app_id, sizeof c->app_id) &&
      !(replace_app_id[0] && !strncmp(c->app_id, replace_app_id, sizeof c->app_id)))
    err = -EADDRINUSE;
  if (!err && hostname[0]) {
    struct amber_vne_claim *named = amber_vne_claim_of_host(t, vne, hostname);
    if (named && named != c && strncmp(named->app_id, replace_app_id, sizeof named->app_id))
      err = -EEXIST;
    else if (named && named != c)
      __atomic_store_n(&named->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
  }
  for (int i = 0; i < AMBER_VNE_CLAIMS && !err && !c; i++)
    if (t->claims[i].state != AMBER_ROW_LIVE) c = &t->claims[i];
  if (!err && !c) err = -ENOSPC;
  if (!err) {
    __atomic_store_n(&c->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
    memset(c, 0, sizeof *c);
    c->vne = vne;
    c->vip = vip;
    c->origin = origin;
    copy_str(c->app_id, app_id, sizeof c->app_id);
    copy_str(c->app, app, sizeof c->app);
    copy_str(c->hostname, hostname, sizeof c->hostname);
    copy_str(c->host, host, sizeof c->host);
    __atomic_store_n(&c->state, AMBER_ROW_LIVE, __ATOMIC_RELEASE);
  }
  amber_vne_unlock(t);
  return err;
}

API int32_t amber_ctl_vne_unclaim(void *vt, const char *name, uint32_t ip, const char *app_id) {
  struct amber_vne_table *t = vt;
  amber_vne_lock(t);
  int vne = amber_vne_find(t, name), found = 0;
  struct amber_vne_claim *c = vne >= 0 ? amber_vne_claim_of_ip(t, vne, htonl(ip)) : NULL;
  if (c && (!app_id[0] || !strncmp(c->app_id, app_id, sizeof c->app_id))) {
    if (app_id[0]) free_rows(t, vne, app_id);
    __atomic_store_n(&c->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
    found = 1;
  }
  if (vne >= 0 && app_id[0]) free_rows(t, vne, app_id);
  amber_vne_unlock(t);
  return found ? 0 : -ENOENT;
}

API int32_t amber_ctl_vne_row_put(void *vt, const char *name, int32_t proto, uint32_t ip,
                                  int32_t port, uint32_t real_ip, int32_t real_port,
                                  const char *app_id, int32_t origin) {
  struct amber_vne_table *t = vt;
  if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port <= 0 || port > 65535 ||
      real_port <= 0 || real_port > 65535)
    return -EINVAL;
  amber_vne_lock(t);
  int err = 0, vne = amber_vne_find(t, name);
  if (vne < 0) err = -ENOENT;
  struct amber_vne_row *row = err ? NULL : amber_vne_row_put(t, vne, proto, htonl(ip), htons(port));
  if (!err && !row) err = -ENOSPC;
  if (row) {
    row->origin = origin;
    row->rip = htonl(real_ip);
    row->rport = htons((uint16_t)real_port);
    copy_str(row->app_id, app_id, sizeof row->app_id);
    amber_vne_row_live(row);
  }
  amber_vne_unlock(t);
  return err;
}

API int32_t amber_ctl_vne_row_delete(void *vt, const char *name, int32_t proto, uint32_t ip,
                                     int32_t port) {
  struct amber_vne_table *t = vt;
  amber_vne_lock(t);
  int vne = amber_vne_find(t, name);
  struct amber_vne_row *row =
      vne >= 0 ? amber_vne_row_of(t, vne, proto, htonl(ip), htons((uint16_t)port)) : NULL;
  if (row) amber_vne_row_free(row);
  amber_vne_unlock(t);
  return row ? 0 : -ENOENT;
}

API int32_t amber_ctl_table_set_vne(const char *tables, const char *name, uint32_t ip,
                                    const char *vne_table) {
  struct amber_table *a;
  if (strlen(name) >= sizeof a->vne || strlen(vne_table) >= sizeof a->vne_table) return -EINVAL;
  int err = amber_table_open(tables, &a);
  if (err) return err;
  amber_table_lock(a);
  copy_str(a->vne_table, vne_table, sizeof a->vne_table);
  a->vne_ip = htonl(ip);
  copy_str(a->vne, name, sizeof a->vne);
  amber_table_unlock(a);
  amber_table_close(a);
  return 0;
}

/* {"vne","ip","binds":[{"proto","port","realPort","any"}]} of an application's tables. */
static int32_t describe_vne(const struct amber_table *a, char *buf, int32_t cap) {
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "{\"vne\":");
  json_str(&j, a->vne);
  json_raw(&j, ",\"ip\":%u,\"binds\":[", ntohl(a->vne_ip));
  int first = 1;
  for (uint32_t i = 0; i < a->vne_nbinds && i < AMBER_VNE_BINDS; i++) {
    const struct amber_vne_bind *b = &a->vne_binds[i];
    if (b->state != AMBER_ROW_LIVE) continue;
    json_raw(&j, "%s{\"proto\":%d,\"port\":%u,\"realPort\":%u,\"any\":%s}", first ? "" : ",",
             b->proto, ntohs(b->vport), ntohs(b->rport), b->any ? "true" : "false");
    first = 0;
  }
  json_raw(&j, "]}");
  return json_done(&j);
}

API int32_t amber_ctl_table_vne(const char *tables, char *buf, int32_t cap) {
  struct amber_table *a;
  int err = amber_table_open(tables, &a);
  if (err) return err;
  int32_t n = describe_vne(a, buf, cap);
  amber_table_close(a);
  return n;
}

/* The VNE identity and the bound addresses that an image's tables carry, copied into the
 * tables of the application restored from it. */
static int32_t table_vne_from_image_into(struct amber_table *copy, const char *tables, const char *image_tables) {
  int err = amber_read_image_tables(image_tables, copy);
  if (err) return err;
  struct amber_table *a;
  err = amber_table_open(tables, &a);
  if (err) return err;
  amber_table_lock(a);
  memcpy(a->vne, copy->vne, sizeof a->vne);
  a->vne_ip = copy->vne_ip;
  memcpy(a->vne_binds, copy->vne_binds, sizeof a->vne_binds);
  a->vne_nbinds = copy->vne_nbinds;
  amber_table_unlock(a);
  amber_table_close(a);
  return 0;
}

API int32_t amber_ctl_table_vne_from_image(const char *tables, const char *image_tables) {
  /* The image's copy on the heap, one per call: calls come from several threads at once
   * (FFI), and a shared buffer let one restore take another's tables. */
  struct amber_table *copy = malloc(sizeof *copy);
  if (!copy) return -ENOMEM;
  int32_t err = table_vne_from_image_into(copy, tables, image_tables);
  free(copy);
  return err;
}

/* The VNE identity an image's tables carry, as amber_ctl_table_vne describes it: what a
 * restore of it would claim (clones choose their own addresses from it first). */
API int32_t amber_ctl_image_vne(const char *image_tables, char *buf, int32_t cap) {
  struct amber_table *copy = malloc(sizeof *copy);
  if (!copy) return -ENOMEM;
  int32_t n = amber_read_image_tables(image_tables, copy);
  if (n == 0) n = describe_vne(copy, buf, cap);
  free(copy);
  return n;
}
