/* The application's virtual hostname, when `amber run --hostname` gave one. */
#include <string.h>

#include "../core/amber.h"

static const char *virtual_hostname(void) {
  return amber_active() && amber.table->hostname[0] ? amber.table->hostname : NULL;
}

AMBER_EXPORT int uname(struct utsname *buf) {
  int r = REAL(uname)(buf);
  const char *host = virtual_hostname();
  if (r == 0 && host) {
    strncpy(buf->nodename, host, sizeof buf->nodename - 1);
    buf->nodename[sizeof buf->nodename - 1] = 0;
  }
  return r;
}

AMBER_EXPORT int gethostname(char *name, size_t len) {
  const char *host = virtual_hostname();
  if (!host) return REAL(gethostname)(name, len);
  size_t n = strlen(host);
  if (n + 1 > len) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(name, host, n + 1);
  return 0;
}
