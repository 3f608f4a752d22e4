/* The errors an agent reports by name, as the rest of Amber does ("ENOSPC: no space left on
 * device"), never as a bare number. Signal-safe: no libc. */
#include <errno.h>

#include "../../common/errno_name.h"
#include "util.h"

static const struct {
  int err;
  const char *text;
} texts[] = {
    {ENOSPC, "ENOSPC: no space left on device"},
    {EDQUOT, "EDQUOT: disk quota exceeded"},
    {EIO, "EIO: input/output error"},
    {EFBIG, "EFBIG: file too large"},
    {EROFS, "EROFS: read-only file system"},
    {EACCES, "EACCES: permission denied"},
    {EPERM, "EPERM: operation not permitted"},
    {ENOENT, "ENOENT: no such file or directory"},
    {EEXIST, "EEXIST: file exists"},
    {ENOMEM, "ENOMEM: cannot allocate memory"},
    {EINVAL, "EINVAL: invalid argument"},
    {ENAMETOOLONG, "ENAMETOOLONG: file name too long"},
    {EPIPE, "EPIPE: broken pipe"},
    {E2BIG, "E2BIG: too many"},
    {ELOOP, "ELOOP: a symbolic link where none may be"},
};

int amber_fmt_error(char *buf, int cap, const char *what, long err) {
  int e = (int)(err < 0 ? -err : err);
  for (unsigned i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i].err == e) return amber_fmt(buf, cap, "%s: %s", what, texts[i].text);
  return amber_fmt(buf, cap, "%s: %s", what, amber_errno_name(e));
}
