/**
 * Finding applications that run on this computer: {@linkcode open} one by name, or
 * {@linkcode list} them all.
 *
 * @module
 */

import { ControlError } from "../ffi/control.ts";
import { Errno } from "../ffi/errno.ts";
import { App } from "./app.ts";
import { openAppTable } from "./app_table.ts";
import { isStale, processesOf, type ProcessInfo } from "./processes.ts";
import { type ExitRecord, exitRecordNames, readExitRecord } from "./exited.ts";
import { AppNotFoundError } from "./errors.ts";
import { appDir, appsDir } from "./paths.ts";
import { checkAppName } from "./names.ts";
import { orphans } from "./orphans.ts";
import { exists } from "./wait.ts";

/** One application as {@linkcode list} reports it. */
export interface AppListing {
  /** The application, for further calls. */
  app: App;
  /** Its name. */
  name: string;
  /** Its application ID ("" if its tables cannot be read). */
  id: string;
  /** Its virtual hostname ("" for the real one). */
  hostname: string;
  /** True if its supervisor is gone: only its directory is left; `kill` removes it. */
  stale: boolean;
  /**
   * Set if it runs though its state directory was removed or replaced (src/orphans.ts): its
   * supervisor's pid. Its processes are not known then; `kill` ends them all.
   */
  orphanedSupervisor?: number;
  /** Its processes. */
  processes: ProcessInfo[];
  /**
   * Set when the application has ended (a detached one leaves this record): when, and its
   * status. It is listed until `kill` removes it.
   */
  exited?: ExitRecord;
}

/**
 * The application called `name`: a running one, or one that has ended and left its record
 * (see {@linkcode App.exited}).
 *
 * @example Find an application by name, as another process would
 * ```ts
 * import { launch, open } from "@amber/amber";
 *
 * const started = await launch(["sleep", "60"], { detach: true });
 * const app = await open(started.name);
 * console.log(app.processes());
 * await app.kill();
 * ```
 */
export async function open(name: string): Promise<App> {
  const dir = appDir(checkAppName(name));
  if (!(await exists(dir))) {
    if (await readExitRecord(name)) return new App({ name, id: "", dir });
    throw new AppNotFoundError(name);
  }
  const app = new App({ name, id: "", dir });
  let id = "";
  try {
    id = app.info().appId;
  } catch {
    // A directory whose tables cannot be read: a stale or half-started application.
  }
  return new App({ name, id, dir });
}

function isAppName(name: string): boolean {
  try {
    checkAppName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every application on this computer, with its processes, sorted by name.
 *
 * @example Print every application and how many processes it has
 * ```ts
 * import { list } from "@amber/amber";
 *
 * for (const { name, stale, processes } of await list()) {
 *   console.log(name, stale ? "stale" : `${processes.length} processes`);
 * }
 * ```
 */
export async function list(): Promise<AppListing[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(appsDir())) {
    if (entry.isDirectory && isAppName(entry.name)) names.push(entry.name);
  }
  const running = new Set(names);
  for (const name of await exitRecordNames()) if (!running.has(name)) names.push(name);
  names.sort();
  const listings: AppListing[] = [];
  for (const name of names) {
    const app = new App({ name, id: "", dir: appDir(name) });
    if (!running.has(name)) {
      const exited = await readExitRecord(name);
      if (exited) {
        listings.push({ app, name, id: "", hostname: "", stale: false, processes: [], exited });
      }
      continue;
    }
    try {
      using table = openAppTable(app);
      const info = table.info();
      const rows = table.rows();
      listings.push({
        app: new App({ name, id: info.appId, dir: app.dir }),
        name,
        id: info.appId,
        hostname: info.hostname,
        stale: isStale(rows),
        processes: processesOf(rows),
      });
    } catch (cause) {
      // Tables another version of Amber made (their layout differs): listed as stale, so that
      // one old application does not stop every command from listing the others.
      const foreign = cause instanceof ControlError && cause.errno === Errno.EPROTO;
      if (!(cause instanceof AppNotFoundError) && !foreign) throw cause;
      if (await exists(app.dir)) {
        listings.push({ app, name, id: "", hostname: "", stale: true, processes: [] });
      }
    }
  }
  for (const orphan of orphans()) {
    const { name, dir, supervisorPid } = orphan;
    const app = new App({ name, id: "", dir });
    listings.push({
      app,
      name,
      id: "",
      hostname: "",
      stale: false,
      processes: [],
      orphanedSupervisor: supervisorPid,
    });
  }
  return listings;
}
