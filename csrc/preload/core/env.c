/* Keeps the library and the application across exec: whatever environment a program passes to
 * exec, the new image gets LD_PRELOAD with Amber's library and AMBER_APP_DIR. */
#include <stdlib.h>
#include <string.h>

#include "amber.h"

static int is_var(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* Builds, in scratch (cap entries), envp with Amber's variables set. Returns scratch, or the
 * original envp when nothing needed changing or it does not fit. */
char **amber_env_with_amber(char *const envp[], char **scratch, int cap) {
  static __thread char preload[1100], appdir[600], lib[600], tablefd[40];
  if (!amber_active() || !amber.lib_path[0]) return (char **)envp;
  const char *old_preload = NULL;
  int n = 0, has_app = 0, has_lib = 0, has_fd = 0;
  for (; envp && envp[n]; n++) {
    if (is_var(envp[n], "LD_PRELOAD")) old_preload = envp[n] + 11;
    /* Their values too: a restored program's own copies name the application, and the
     * library, it was snapshotted in (bash exports its variables, not `environ`). */
    if (is_var(envp[n], "AMBER_APP_DIR")) has_app = !strcmp(envp[n] + 14, amber.app_dir);
    if (is_var(envp[n], "AMBER_LIB")) has_lib = !strcmp(envp[n] + 10, amber.lib_path);
    if (is_var(envp[n], "AMBER_TABLE_FD")) has_fd = amber_table_fd >= 0 &&
        atoi(envp[n] + 15) == amber_table_fd;
  }
  int preload_ok = old_preload && strstr(old_preload, amber.lib_path);
  if (preload_ok && has_app && has_lib && (has_fd || amber_table_fd < 0)) return (char **)envp;
  if (n + 5 > cap) return (char **)envp;

  int k = 0;
  for (int i = 0; i < n; i++)
    if (!is_var(envp[i], "LD_PRELOAD") && !is_var(envp[i], "AMBER_APP_DIR") &&
        !is_var(envp[i], "AMBER_LIB") && !is_var(envp[i], "AMBER_TABLE_FD"))
      scratch[k++] = envp[i];
  if (old_preload && !preload_ok && *old_preload)
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s:%s", amber.lib_path, old_preload);
  else if (old_preload && preload_ok)
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", old_preload);
  else
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", amber.lib_path);
  snprintf(appdir, sizeof appdir, "AMBER_APP_DIR=%s", amber.app_dir);
  snprintf(lib, sizeof lib, "AMBER_LIB=%s", amber.lib_path);
  scratch[k++] = preload;
  scratch[k++] = appdir;
  scratch[k++] = lib;
  if (amber_table_fd >= 0) {
    snprintf(tablefd, sizeof tablefd, "AMBER_TABLE_FD=%d", amber_table_fd);
    scratch[k++] = tablefd;
  }
  scratch[k] = NULL;
  return scratch;
}
