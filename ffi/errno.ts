/**
 * Linux errno numbers (x86_64) with their names and descriptions, so that a `-errno` from the
 * control library becomes a readable error.
 *
 * @module
 */

// errno numbers Amber tests for by name, from <errno.h> (tools/contract.ts).
export { Errno } from "./contract.ts";

const NAMES: Readonly<Record<number, readonly [string, string]>> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  6: ["ENXIO", "no such device or address"],
  7: ["E2BIG", "argument list too long"],
  8: ["ENOEXEC", "exec format error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  26: ["ETXTBSY", "text file busy"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device or buffer too small"],
  29: ["ESPIPE", "illegal seek"],
  30: ["EROFS", "read-only file system"],
  32: ["EPIPE", "broken pipe"],
  34: ["ERANGE", "numerical result out of range"],
  36: ["ENAMETOOLONG", "file name too long"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  61: ["ENODATA", "no data available"],
  71: ["EPROTO", "protocol error"],
  74: ["EBADMSG", "bad message"],
  75: ["EOVERFLOW", "value too large for defined data type"],
  84: ["EILSEQ", "invalid or incomplete data"],
  95: ["EOPNOTSUPP", "operation not supported"],
  110: ["ETIMEDOUT", "timed out"],
  116: ["ESTALE", "stale file handle"],
  122: ["EDQUOT", "disk quota exceeded"],
  125: ["ECANCELED", "operation canceled"],
  130: ["EOWNERDEAD", "owner died"],
};

/** The symbolic name of an errno number, such as `ENOENT`; `errno 999` when unknown. */
export function errnoName(errno: number): string {
  return NAMES[errno]?.[0] ?? `errno ${errno}`;
}

/** A short description of an errno number, such as "no such file or directory". */
export function errnoDescription(errno: number): string {
  return NAMES[errno]?.[1] ?? "unknown error";
}
