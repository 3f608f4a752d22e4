/**
 * Applications whose state directory was removed or replaced while they ran: their supervisor
 * runs on, but Amber's directory no longer leads to it. Each supervisor's command line names
 * its application directory, so they are found through /proc: listed, ended, and their name
 * is not taken by a second copy of the application.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { Table } from "../ffi/control.ts";
import { AmberError } from "./errors.ts";
import { appsDir, TABLES_FILE } from "./paths.ts";
import { poll } from "./wait.ts";

/** An application whose supervisor runs, though its directory is gone or another's. */
export interface Orphan {
  /** Its name (the last part of its directory). */
  name: string;
  /** The application directory its supervisor was started with. */
  dir: string;
  /** Its supervisor's pid. */
  supervisorPid: number;
}

interface Proc {
  pid: number;
  ppid: number;
  argv: string[];
}

/** This user's processes, with their parent and command line. */
function processes(): Proc[] {
  const uid = Deno.uid();
  const out: Proc[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.statSync(`/proc/${entry.name}`).uid !== uid) continue;
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      out.push({ pid: Number(entry.name), ppid, argv });
    } catch {
      // It ended meanwhile.
    }
  }
  return out;
}

function isSupervisor({ argv }: Proc): boolean {
  return basename(argv[0] ?? "") === "amber-supervisor" && ["run", "restore"].includes(argv[1]);
}

/**
 * The application directories of this user's running supervisors, whatever their state
 * directory (src/vpid_range.ts avoids their ranges too).
 */
export function supervisedDirs(): string[] {
  return [...new Set(processes().filter(isSupervisor).map((p) => p.argv[2]).filter(Boolean))];
}

/** The supervisor pid that the tables in `dir` name, or null if there are none. */
function supervisorOf(dir: string): number | null {
  try {
    using table = Table.open(join(dir, TABLES_FILE));
    return table.info().supervisorPid;
  } catch {
    return null;
  }
}

/**
 * Every application of this state directory whose supervisor runs but whose directory does not
 * lead to it.
 */
export function orphans(): Orphan[] {
  const apps = appsDir();
  const all = processes();
  const supervisors = all.filter(isSupervisor);
  const found: Orphan[] = [];
  for (const s of supervisors) {
    const dir = s.argv[2];
    if (dirname(dir) !== apps) continue;
    // A supervisor's fork that has not run its program yet has the same command line.
    if (supervisors.some((other) => other.pid === s.ppid && other.argv[2] === dir)) continue;
    const named = supervisorOf(dir);
    if (named === s.pid || named === 0) continue; // its own, or one still starting
    found.push({ name: basename(dir), dir, supervisorPid: s.pid });
  }
  return found;
}

/** Every process that descends from `pid`. */
function descendants(pid: number): number[] {
  const all = processes();
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    const next = all.filter((p) => frontier.includes(p.ppid)).map((p) => p.pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // It ended meanwhile.
  }
}

/**
 * Ends an orphaned application: SIGKILL to every process under its supervisor (which is the
 * subreaper of the tree, so daemons are there too), then to the supervisor.
 */
export async function endOrphan(orphan: Orphan): Promise<void> {
  const ended = await poll(() => {
    const family = descendants(orphan.supervisorPid);
    family.forEach(kill);
    if (family.length === 0) kill(orphan.supervisorPid);
    return Promise.resolve(!processes().some((p) => p.pid === orphan.supervisorPid));
  }, 10_000);
  if (!ended) {
    throw new AmberError(`Application '${orphan.name}' did not end within 10 s of SIGKILL`);
  }
}

/**
 * Throws if an application named `name` still runs from `dir` though its directory is gone:
 * a second copy under its name (or its virtual IP) must not start beside it.
 */
export function refuseOrphanName(name: string, dir: string): void {
  const orphan = orphans().find((o) => o.dir === dir);
  if (orphan) {
    throw new AmberError(
      `An application named '${name}' still runs (supervisor pid ${orphan.supervisorPid}) ` +
        `though its state directory was removed or replaced: end it with 'amber kill ${name}' ` +
        `first`,
    );
  }
}
