/**
 * {@linkcode changedOpenFiles}: files a program held open for writing that changed after the
 * snapshot. The program's memory holds the state it had when frozen; a file it writes in place
 * (a database's data files and log) that moved on since then would disagree with it: the
 * restored program would build on content of a future it never had, without a word. Such a
 * restore is refused, naming each file, unless the user accepts it (a log the program rewrites
 * from the start, a file the user put back by other means). Files opened with `O_APPEND` and
 * read-only ones are not in question: appending goes on at the end, and reading takes what is
 * there. A copy on another computer (another device or inode) is the reopen's matter
 * (csrc/common/reopen.h).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { fileKind } from "../ffi/files.ts";
import type { Image } from "./image.ts";

const O_ACCMODE = 3;
const O_APPEND = 0o2000;

const OpenFileSchema = z.object({
  fd: z.number(),
  name: z.string(),
  flags: z.number(),
  fileDev: z.string(),
  fileIno: z.string(),
  fileSize: z.number(),
  fileMtimeNs: z.string(),
});
const DetailsSchema = z.object({ fds: z.array(z.looseObject({})).default([]) });

/** A file held open for writing that is not as the snapshot left it. */
export interface ChangedFile {
  /** The virtual pid of a process that holds it, and its descriptor there. */
  vpid: number;
  fd: number;
  path: string;
  /** Its size at the snapshot and now. */
  savedSize: number;
  size: number;
  /** Its modification time at the snapshot and now, in ns since the epoch. */
  savedMtimeNs: bigint;
  mtimeNs: bigint;
}

/** The files of the image's processes, open for writing in place, that changed since. */
export function changedOpenFiles(image: Image): ChangedFile[] {
  const changed: ChangedFile[] = [];
  const seen = new Set<string>();
  for (const process of image.manifest.processes) {
    const details = DetailsSchema.safeParse(process.details);
    if (!details.success) continue;
    for (const raw of details.data.fds) {
      const file = OpenFileSchema.safeParse(raw);
      if (!file.success) continue; // not a regular file reopened by path
      const { fd, name, flags, fileDev, fileIno, fileSize, fileMtimeNs } = file.data;
      if ((flags & O_ACCMODE) === 0 || (flags & O_APPEND) || seen.has(name)) continue;
      seen.add(name);
      let now;
      try {
        now = fileKind(name);
      } catch {
        continue; // missing or unreadable: the reopen names it
      }
      if (now.dev !== BigInt(fileDev) || now.ino !== BigInt(fileIno)) continue;
      if (now.size === fileSize && now.mtimeNs === BigInt(fileMtimeNs)) continue;
      changed.push({
        vpid: process.vpid,
        fd,
        path: name,
        savedSize: fileSize,
        size: now.size,
        savedMtimeNs: BigInt(fileMtimeNs),
        mtimeNs: now.mtimeNs,
      });
    }
  }
  return changed;
}

/** One line per changed file, for a message. */
export function changedFileLines(files: ChangedFile[]): string[] {
  return files.map((file) => {
    const when = new Date(Number(file.mtimeNs / 1_000_000n)).toISOString();
    const size = file.size === file.savedSize
      ? `${file.size} bytes`
      : `${file.savedSize} bytes then, ${file.size} now`;
    return `'${file.path}' (process ${file.vpid}, fd ${file.fd}, open for writing): ` +
      `modified at ${when}, after the snapshot (${size})`;
  });
}
