/* The control library's view of an application: its tables, its processes, signals to them. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"
#include "json.h"

#define API __attribute__((visibility("default")))

API int32_t amber_ctl_abi_version(void) { return AMBER_CTL_ABI_VERSION; }

API int32_t amber_ctl_table_create(const char *path, const char *app_id, const char *name,
                                   const char *hostname, int32_t vpid_base) {
  struct amber_table *t;
  int err = amber_table_create(path, app_id, name, hostname, vpid_base, &t);
  if (err) return err;
  amber_table_close(t);
  return 0;
}

API void *amber_ctl_table_open(const char *path, int32_t *err) {
  struct amber_table *t = NULL;
  int e = amber_table_open(path, &t);
  if (err) *err = e;
  if (!e) amber_members_opened(t, path);
  return e ? NULL : t;
}

API void amber_ctl_table_close(void *table) {
  amber_members_closed(table);
  amber_table_close(table);
}

static int alive(int32_t sid) { return amber_pid_alive(sid); }

static int32_t supervisor_pid(struct amber_table *t) {
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_SUPERVISOR)) return r->sid;
  }
  return -1;
}

API int32_t amber_ctl_table_info(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "{\"appId\":");
  json_str(&j, t->app_id);
  json_raw(&j, ",\"name\":");
  json_str(&j, t->name);
  json_raw(&j, ",\"hostname\":");
  json_str(&j, t->hostname);
  json_raw(&j, ",\"vpidBase\":%d,\"rootVpid\":%d,\"state\":%d,\"error\":", t->vpid_base, t->root_vpid,
           __atomic_load_n(&t->state, __ATOMIC_ACQUIRE));
  json_str(&j, t->error);
  json_raw(&j, ",\"supervisorPid\":%d}", supervisor_pid(t));
  return json_done(&j);
}

static const char *kind_names[AMBER_KIND_COUNT] = {"pid", "sem", "shm", "msg"};

API int32_t amber_ctl_table_rows(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "[");
  int first = 1;
  for (int k = 0; k < AMBER_KIND_COUNT; k++) {
    for (uint32_t i = 0; i < t->high[k] && i < AMBER_TABLE_ROWS; i++) {
      struct amber_row r = t->rows[k][i];
      if (r.state != AMBER_ROW_LIVE) continue;
      json_raw(&j,
               "%s{\"kind\":\"%s\",\"vid\":%d,\"sid\":%d,\"owner\":%d,\"flags\":%d,\"key\":%d,"
               "\"mode\":%d,\"nitems\":%d,\"size\":%lld,\"parent\":%d,\"alive\":%s}",
               first ? "" : ",", kind_names[k], r.vid, r.sid, r.owner, r.flags, r.key, r.mode,
               r.nitems, (long long)r.size, r.parent,
               k == AMBER_KIND_PID ? (alive(r.sid) ? "true" : "false") : "true");
      first = 0;
    }
  }
  json_raw(&j, "]");
  return json_done(&j);
}

API int32_t amber_ctl_signal_app(void *table, int32_t sig) {
  struct amber_table *t = table;
  int sent = 0;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    /* A pid in the tables is the application's word: signalled only if it is its process. */
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_PROCESS) && r->sid > 0 &&
        amber_app_member(t, r->sid) && kill(r->sid, sig) == 0)
      sent++;
  }
  return sent;
}
