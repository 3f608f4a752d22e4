/**
 * What a restore on this computer would refuse about an image that is whole, found from the
 * image's process descriptions alone, so that a snapshot can refuse before anything is ended
 * (snapshot.ts: a `--stop` snapshot then lets the application go on), a restore refuses up front
 * instead of half-way, and `amber inspect` does not call such an image restorable (image.ts).
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { describeProcess } from "../ffi/control.ts";
import { restoreCeiling } from "./credentials.ts";
import { RestoreError } from "./errors.ts";
import { appDir, restorerPath } from "./paths.ts";
import { PathLimit, pathTooLong } from "./path_limits.ts";

const Regions = z.object({
  regions: z.array(z.object({ start: z.string(), end: z.string(), name: z.string() }).loose())
    .default([]),
});

let restorerRange: { start: bigint; end: bigint } | undefined;

/**
 * Where the restorer is loaded (a static program at a fixed address, which replaces each process
 * with itself and then maps the program's memory back around itself): its loadable segments.
 */
function restorerSpan(): { start: bigint; end: bigint } {
  if (restorerRange) return restorerRange;
  const elf = Deno.readFileSync(restorerPath());
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true), phnum = view.getUint16(0x38, true);
  let start = -1n, end = 0n;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== 1) continue; // PT_LOAD
    const vaddr = view.getBigUint64(at + 0x10, true), memsz = view.getBigUint64(at + 0x28, true);
    if (start < 0n || vaddr < start) start = vaddr;
    if (vaddr + memsz > end) end = vaddr + memsz;
  }
  restorerRange = { start: start & ~4095n, end: (end + 4095n) & ~4095n };
  return restorerRange;
}

/**
 * Why the restorer could not restore a process described by `details` (its regions): memory
 * where the restorer must be loaded. Null if it could.
 */
export function restorerOverlap(vpid: number, details: unknown): string | null {
  const parsed = Regions.safeParse(details);
  if (!parsed.success) return null;
  const self = restorerSpan();
  for (const r of parsed.data.regions) {
    const start = BigInt(`0x${r.start}`), end = BigInt(`0x${r.end}`);
    if (start < self.end && end > self.start) {
      return `process ${vpid} has memory at 0x${r.start}-0x${r.end}${
        r.name ? ` (${r.name})` : ""
      }, ` +
        `where Amber's restorer must be loaded (0x${self.start.toString(16)}-` +
        `0x${self.end.toString(16)}): a restore would refuse it`;
    }
  }
  return null;
}

/** Why a restore here would refuse an image with these processes; null if it would not. */
export function unrestorable(processes: { vpid: number; details: unknown }[]): string | null {
  for (const p of processes) {
    const why = restorerOverlap(p.vpid, p.details);
    if (why) return why;
  }
  return null;
}

/**
 * For a snapshot: why a restore of the process files just written in `dir` would be refused;
 * with `stop` (the application is ended after), also a restore under the application's own
 * name. Null if it would not.
 */
export function unrestorableSnapshot(name: string, dir: string, stop: boolean): string | null {
  const tooLong = stop
    ? pathTooLong(
      appDir(name),
      PathLimit.RESTORED_APP_DIR,
      "the application directory that a restore under its name makes",
    )
    : null;
  if (tooLong) return `${tooLong} (snapshot it without --stop, and restore it with --name)`;
  const processes = [];
  for (const entry of Deno.readDirSync(dir)) {
    const m = /^process-(\d+)\.img$/.exec(entry.name);
    if (m) processes.push({ vpid: Number(m[1]), details: describeProcess(join(dir, entry.name)) });
  }
  return unrestorable(processes);
}

/**
 * Why a restore here, by this user and under the image's own name, would refuse the image in
 * `dir` before it starts, beyond its files and machine (image.ts checks those): the credentials
 * it asks for, the lengths of its paths. Null if it would not.
 */
export async function restoreRefusal(dir: string, name: string): Promise<string | null> {
  try {
    await restoreCeiling(dir);
  } catch (cause) {
    if (cause instanceof RestoreError) return cause.message;
    throw cause;
  }
  return pathTooLong(dir, PathLimit.IMAGE_DIR) ??
    pathTooLong(appDir(name), PathLimit.RESTORED_APP_DIR, `the directory of '${name}' it makes`);
}
