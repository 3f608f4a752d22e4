/**
 * {@linkcode changedOpenFiles}: files a program held open for writing that changed after the
 * snapshot. The program's memory holds the state it had when frozen; a file it writes in place
 * (a database's data files and log) that moved on since then would disagree with it: the
 * restored program would build on content of a future it never had, without a word. Such a
 * restore is refused, naming each file, unless the user accepts it (a log the program rewrites
 * from the start, a file the user put back by other means). A file mapped shared for writing is
 * written in place too, through memory, also once its descriptor is closed (the agent writes
 * such a mapping back while frozen, so that a later write moves its time:
 * csrc/preload/agent/agent_memory.c). Files opened with `O_APPEND` and read-only ones are not
 * in question: appending goes on at the end, and reading takes what is there. A copy on another computer (another device or inode) is the reopen's matter
 * (csrc/common/reopen.h).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { fileKind } from "../ffi/files.ts";
import type { Image } from "./image_handle.ts";

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
const MappedForWritingSchema = z.object({
  start: z.string(),
  name: z.string(),
  writable: z.literal(true),
  fileSize: z.number(),
  fileMtimeNs: z.string(),
});
const DetailsSchema = z.object({
  fds: z.array(z.looseObject({})).default([]),
  regions: z.array(z.looseObject({})).default([]),
});

/** A file held open for writing that is not as the snapshot left it. */
export interface ChangedFile extends FileWrittenInPlace {
  /** Its size at the snapshot and now. */
  savedSize: number;
  size: number;
  /** Its modification time at the snapshot and now, in ns since the epoch. */
  savedMtimeNs: bigint;
  mtimeNs: bigint;
}

/** A file a process of the image held open for writing in place (not appending), once each. */
export interface FileWrittenInPlace {
  /** The virtual pid of a process that holds it, and its descriptor there (-1: mapped). */
  vpid: number;
  fd: number;
  path: string;
  /** How that process holds it: "fd 5", or "mapped shared for writing at 0x7f..." */
  held: string;
}

function* openForWritingInPlace(image: Pick<Image, "manifest">) {
  const seen = new Set<string>();
  for (const process of image.manifest.processes) {
    const details = DetailsSchema.safeParse(process.details);
    if (!details.success) continue;
    for (const raw of details.data.fds) {
      const file = OpenFileSchema.safeParse(raw);
      if (!file.success) continue; // not a regular file reopened by path
      const { name, flags } = file.data;
      if ((flags & O_ACCMODE) === 0 || (flags & O_APPEND) || seen.has(name)) continue;
      seen.add(name);
      yield { vpid: process.vpid, held: `fd ${file.data.fd}`, ...file.data };
    }
    for (const raw of details.data.regions) {
      const region = MappedForWritingSchema.safeParse(raw);
      if (!region.success || seen.has(region.data.name)) continue;
      const { start, name, fileSize, fileMtimeNs } = region.data;
      seen.add(name);
      const held = `mapped shared for writing at 0x${start}`;
      const fd = -1, fileDev = null, fileIno = null;
      yield { vpid: process.vpid, fd, name, held, fileSize, fileMtimeNs, fileDev, fileIno };
    }
  }
}

/**
 * The files the image's processes held open for writing in place: what clones of it would all
 * write at once (a database's files), each clone's memory believing it alone does.
 */
export function filesWrittenInPlace(image: Pick<Image, "manifest">): FileWrittenInPlace[] {
  return [...openForWritingInPlace(image)].map(({ vpid, fd, name, held }) => ({
    vpid,
    fd,
    path: name,
    held,
  }));
}

/** The files of the image's processes, open for writing in place, that changed since. */
export function changedOpenFiles(image: Image): ChangedFile[] {
  const changed: ChangedFile[] = [];
  for (const file of openForWritingInPlace(image)) {
    const { vpid, fd, name, held, fileDev, fileIno, fileSize, fileMtimeNs } = file;
    let now;
    try {
      now = fileKind(name);
    } catch {
      continue; // missing or unreadable: the reopen names it
    }
    // Another file there (a copy): the reopen's matter; a mapping's, the restorer's, which
    // maps a copy only if its size and time are the same.
    if (fileDev !== null && (now.dev !== BigInt(fileDev) || now.ino !== BigInt(fileIno))) continue;
    if (now.size === fileSize && now.mtimeNs === BigInt(fileMtimeNs)) continue;
    changed.push({
      vpid,
      fd,
      path: name,
      held,
      savedSize: fileSize,
      size: now.size,
      savedMtimeNs: BigInt(fileMtimeNs),
      mtimeNs: now.mtimeNs,
    });
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
    const held = file.fd < 0 ? file.held : `${file.held}, open for writing`;
    return `'${file.path}' (process ${file.vpid}, ${held}): ` +
      `modified at ${when}, after the snapshot (${size})`;
  });
}
