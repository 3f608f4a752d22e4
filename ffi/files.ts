/**
 * Files that Amber reads from users (image files) and directories it keeps for itself, looked
 * at without following links (csrc/control/ctl_files.c). An image file must be a regular file:
 * a FIFO would hang the reader, a link would read a file that is not the image's.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { cstr, unwrap } from "./control.ts";
import { library } from "./symbols.ts";

/** What is at a path, the path itself (a link is described, not followed). */
export type FileKind = "file" | "directory" | "link" | "FIFO" | "device" | "socket";

/** What is at a path, as the file system tells it (see {@linkcode fileKind}). */
export interface FileStamp {
  kind: FileKind;
  size: number;
  dev: bigint;
  ino: bigint;
  /** Its modification time, in nanoseconds (Deno's own stat gives milliseconds). */
  mtimeNs: bigint;
}

/** The kind, size, identity and modification time of what is at `path`, without following a
 * link there. */
export function fileKind(path: string): FileStamp {
  const out = new BigUint64Array(5);
  unwrap("amber_ctl_file_kind", library().amber_ctl_file_kind(cstr(path), out), path);
  return {
    kind: kindOfMode(Number(out[0])),
    size: Number(out[1]),
    dev: out[2],
    ino: out[3],
    mtimeNs: out[4],
  };
}

function kindOfMode(mode: number): FileKind {
  switch (mode & 0o170000) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "directory";
    case 0o120000:
      return "link";
    case 0o010000:
      return "FIFO";
    case 0o140000:
      return "socket";
    default:
      return "device";
  }
}

const MAX_READ = 256 * 1024 * 1024;

/**
 * Reads the regular file at `path` whole; throws a `ControlError` (ELOOP for a link,
 * EISDIR for a directory, EINVAL for a FIFO, device or socket) for anything else.
 */
export function readRegularFile(path: string): Uint8Array {
  const p = cstr(path);
  for (let cap = 64 * 1024;; cap *= 4) {
    const buf = new Uint8Array(cap);
    const n = library().amber_ctl_read_regular(p, buf, cap);
    if (n === -Errno.ENOSPC && cap < MAX_READ) continue;
    return buf.subarray(0, unwrap("amber_ctl_read_regular", n, path));
  }
}

/** Why Amber refused a directory of its own (see {@linkcode privateDir}). */
export class PrivateDirError extends Error {
  override name = "PrivateDirError";
}

/**
 * Makes `path` (mode 0700) if it is missing and checks that it is a directory of this user that
 * no one else can use: not a link (it is opened without following one, so a link planted by
 * someone else is never followed), owned by this user, and not open to others.
 */
export function privateDir(path: string): void {
  const out = new Int32Array(2);
  const status = library().amber_ctl_private_dir(cstr(path), out);
  if (status >= 0) return;
  const [uid, mode] = out;
  const why = {
    [Errno.ELOOP]: "it is a symbolic link",
    [Errno.ENOTDIR]: "it is not a directory",
    [Errno.EPERM]: `it is owned by uid ${uid}, not by this user`,
    [Errno.EACCES]: `its mode is 0${mode.toString(8)}, open to other users`,
  }[-status];
  if (why) throw new PrivateDirError(`'${path}' is not a private directory of this user: ${why}`);
  unwrap("amber_ctl_private_dir", status, path);
}
