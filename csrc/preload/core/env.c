/* Keeps the library and the application across exec: whatever environment a program passes to
 * exec, the new image gets LD_PRELOAD with Amber's library, LD_AUDIT with its audit library (the
 * early SIGSYS handler and the libraries below the line, csrc/audit/), the static TLS room that
 * Amber's library needs under an audit library (AMBER_TLS_TUNABLE) and AMBER_APP_DIR. */
#include <stdlib.h>
#include <string.h>

#include "../../common/tls_room.h"
#include "amber.h"

static int is_var(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The audit library, beside Amber's library in the build directory. */
static void audit_path(char *out, size_t cap) {
  snprintf(out, cap, "%s", amber.lib_path);
  char *slash = strrchr(out, '/');
  size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
  snprintf(out + dir, cap - dir, "libamber-audit.so");
}

/* A list variable (NAME=a:b:c) that has ours first: its old value when it holds ours already,
 * ours before the old list otherwise. */
static void with_ours(char *out, size_t cap, const char *name, const char *ours, const char *old) {
  if (old && strstr(old, ours)) snprintf(out, cap, "%s=%s", name, old);
  else if (old && *old) snprintf(out, cap, "%s=%s:%s", name, ours, old);
  else snprintf(out, cap, "%s=%s", name, ours);
}

/* Builds, in scratch (cap entries), envp with Amber's variables set. Returns scratch, or the
 * original envp when nothing needed changing or it does not fit. */
char **amber_env_with_amber(char *const envp[], char **scratch, int cap) {
  static __thread char preload[1100], audit[1100], tunables[1100], appdir[600], lib[600],
      tablefd[40];
  if (!amber_active() || !amber.lib_path[0]) return (char **)envp;
  char audit_lib[600];
  audit_path(audit_lib, sizeof audit_lib);
  const char *old_preload = NULL, *old_audit = NULL, *old_tunables = NULL;
  int n = 0, has_app = 0, has_lib = 0, has_fd = 0;
  for (; envp && envp[n]; n++) {
    if (is_var(envp[n], "LD_PRELOAD")) old_preload = envp[n] + 11;
    if (is_var(envp[n], "LD_AUDIT")) old_audit = envp[n] + 9;
    if (is_var(envp[n], "GLIBC_TUNABLES")) old_tunables = envp[n] + 15;
    /* Their values too: a restored program's own copies name the application, and the
     * library, it was snapshotted in (bash exports its variables, not `environ`). */
    if (is_var(envp[n], "AMBER_APP_DIR")) has_app = !strcmp(envp[n] + 14, amber.app_dir);
    if (is_var(envp[n], "AMBER_LIB")) has_lib = !strcmp(envp[n] + 10, amber.lib_path);
    if (is_var(envp[n], "AMBER_TABLE_FD")) has_fd = amber_table_fd >= 0 &&
        atoi(envp[n] + 15) == amber_table_fd;
  }
  int preload_ok = old_preload && strstr(old_preload, amber.lib_path);
  int audit_ok = old_audit && strstr(old_audit, audit_lib);
  int tunables_ok = old_tunables && strstr(old_tunables, AMBER_TLS_TUNABLE);
  if (preload_ok && audit_ok && tunables_ok && has_app && has_lib && (has_fd || amber_table_fd < 0))
    return (char **)envp;
  if (n + 7 > cap) return (char **)envp;

  int k = 0;
  for (int i = 0; i < n; i++)
    if (!is_var(envp[i], "LD_PRELOAD") && !is_var(envp[i], "LD_AUDIT") &&
        !is_var(envp[i], "GLIBC_TUNABLES") &&
        !is_var(envp[i], "AMBER_APP_DIR") && !is_var(envp[i], "AMBER_LIB") &&
        !is_var(envp[i], "AMBER_TABLE_FD"))
      scratch[k++] = envp[i];
  with_ours(preload, sizeof preload, "LD_PRELOAD", amber.lib_path, old_preload);
  with_ours(audit, sizeof audit, "LD_AUDIT", audit_lib, old_audit);
  with_ours(tunables, sizeof tunables, "GLIBC_TUNABLES", AMBER_TLS_TUNABLE, old_tunables);
  snprintf(appdir, sizeof appdir, "AMBER_APP_DIR=%s", amber.app_dir);
  snprintf(lib, sizeof lib, "AMBER_LIB=%s", amber.lib_path);
  scratch[k++] = preload;
  scratch[k++] = audit;
  scratch[k++] = tunables;
  scratch[k++] = appdir;
  scratch[k++] = lib;
  if (amber_table_fd >= 0) {
    snprintf(tablefd, sizeof tablefd, "AMBER_TABLE_FD=%d", amber_table_fd);
    scratch[k++] = tablefd;
  }
  scratch[k] = NULL;
  return scratch;
}
