/**
 * Each application's own range of virtual pids (csrc/common/table.h, vpid_base). Programs name
 * shared files by their pid (a JVM's /tmp/hsperfdata_USER/PID, pid files, lock files holding a
 * pid that `kill(pid, 0)` checks, Unix sockets): two applications that both had a process
 * 4200001 would write, remove and trust each other's files. So a new application takes a range
 * no application on this computer holds (of this state directory, or run by this user with
 * another), picked at random among the free ones, which also keeps applications started on
 * different computers (or by other users) apart with high odds. A restore keeps its image's range: clones of one image share theirs
 * ({@linkcode sharingVpids} names who with).
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { ControlError, Table, VpidRanges } from "../ffi/control.ts";
import { Errno } from "../ffi/errno.ts";
import { supervisedDirs } from "./orphans.ts";
import { isStale } from "./processes.ts";
import { appsDir, TABLES_FILE } from "./paths.ts";

/** An application on this computer and the first pid of its range. */
export interface VpidRangeHolder {
  /** The application's name. */
  name: string;
  /** Its directory: in this state directory, or another one's (run by this user). */
  dir: string;
  /** Its first virtual pid (its supervisor's). */
  base: number;
  /** Its supervisor is gone: it runs no process. */
  stale: boolean;
}

/**
 * The ranges of the applications on this computer whose tables can be read: those of this state
 * directory, and those whose supervisor this user runs with another one.
 */
export function vpidRangeHolders(): VpidRangeHolder[] {
  const dirs = new Set<string>();
  for (const entry of Deno.readDirSync(appsDir())) {
    if (entry.isDirectory) dirs.add(resolve(appsDir(), entry.name));
  }
  for (const dir of supervisedDirs()) dirs.add(resolve(dir));
  const holders: VpidRangeHolder[] = [];
  for (const dir of dirs) {
    const name = basename(dir);
    try {
      using table = Table.open(join(dir, TABLES_FILE));
      const base = table.info().vpidBase;
      holders.push({ name, dir, base, stale: isStale(table.rows()) });
    } catch (cause) {
      // An older Amber's tables (EPROTO): every one of its applications had the first range.
      if (cause instanceof ControlError && cause.errno === Errno.EPROTO) {
        holders.push({ name, dir, base: VpidRanges.PID_MIN, stale: false });
      }
      // Otherwise one being started or removed (no tables yet, or no longer): none to avoid.
    }
  }
  return holders;
}

/** The first pid of range `k`. */
function baseOf(k: number): number {
  return VpidRanges.PID_MIN + k * VpidRanges.SIZE;
}

/** Do the ranges starting at `a` and `b` overlap? */
function overlap(a: number, b: number): boolean {
  return Math.abs(a - b) < VpidRanges.SIZE;
}

/** A random integer in [0, n). */
function randomBelow(n: number): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] % n;
}

/**
 * A range for a new application: one that overlaps none of `taken` (bases), picked at random.
 * Never the first range (4200000), every application's before ranges were per application:
 * an older Amber's applications and images keep it.
 */
export function pickVpidBase(
  taken: readonly number[] = vpidRangeHolders().map((h) => h.base),
  random: (n: number) => number = randomBelow,
): number {
  const blocked = new Set<number>(); // the ranges (k) a taken one overlaps
  for (const b of taken) {
    const at = (b - VpidRanges.PID_MIN) / VpidRanges.SIZE;
    for (let k = Math.floor(at); k <= Math.ceil(at); k++) if (overlap(b, baseOf(k))) blocked.add(k);
  }
  for (let i = 0; i < 32; i++) {
    const k = 1 + random(VpidRanges.COUNT - 1);
    if (!blocked.has(k)) return baseOf(k);
  }
  const free: number[] = []; // many taken: draw among the free ones
  for (let k = 1; k < VpidRanges.COUNT; k++) if (!blocked.has(k)) free.push(k);
  if (free.length === 0) {
    throw new RangeError(
      `Every range of virtual pids is taken (${taken.length} applications): end some`,
    );
  }
  return baseOf(free[random(free.length)]);
}

/**
 * The applications on this computer that run with the virtual pids of `apps` (restored from one
 * image: the same range), `apps` among them, sorted (one of another state directory with its
 * name and that directory); fewer than two: none share. Clones
 * of one image, or an image restored beside the application it was taken from, are so: their
 * pid-named files are the same files.
 */
export function sharingVpids(apps: readonly string[]): { names: string[]; base: number } {
  const holders = vpidRangeHolders();
  const here = (h: VpidRangeHolder) => dirname(h.dir) === resolve(appsDir());
  const restored = (h: VpidRangeHolder) => here(h) && apps.includes(h.name);
  const base = holders.find(restored)?.base;
  if (base === undefined) return { names: [], base: 0 };
  const names = holders.filter((h) => restored(h) || (!h.stale && overlap(h.base, base)))
    .map((h) => here(h) ? h.name : `${h.name} (in ${dirname(dirname(h.dir))})`).sort();
  return { names: names.length > 1 ? names : [], base };
}

/** The warning for applications that have the same virtual pids (fewer than two: ""). */
export function sharedVpidsWarning(names: readonly string[], base: number): string {
  if (names.length < 2) return "";
  const list = names.map((o) => `'${o}'`).join(", ");
  return `Warning: ${list} have the same virtual pids (${base + 1}, ${base + 2}, ...): a ` +
    `restore keeps its image's (clones of one image, a copy beside its original, or, rarely, ` +
    `an image from another computer whose range one here has). A program that names files by ` +
    `its pid in a directory they share (a JVM's /tmp/hsperfdata_USER, pid files, lock files) ` +
    `takes the other's files for its own: give each its own directory where the program lets ` +
    `you choose it (TMPDIR, a pid file's path) or a private /tmp, turn such files off (a JVM: ` +
    `-XX:-UsePerfData), or run one at a time.`;
}
