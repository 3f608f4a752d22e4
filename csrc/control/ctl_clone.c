/* Templating: what makes one of several applications restored from the same image its own. */
#include <errno.h>
#include <string.h>

#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))

/* Sets the virtual hostname of a restored application before any of its processes runs (the
 * interposition library reads it on every uname and gethostname); "" means the real one. */
API int32_t amber_ctl_table_set_hostname(void *table, const char *hostname) {
  struct amber_table *t = table;
  size_t len = strlen(hostname);
  if (len >= sizeof t->hostname) return -ENAMETOOLONG;
  memcpy(t->hostname, hostname, len + 1);
  return 0;
}
