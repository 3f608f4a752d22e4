/**
 * {@linkcode App}: one application running under Amber, as its tables describe it.
 *
 * @module
 */

import { join } from "node:path";
import {
  ControlError,
  ControlProcessGoneError,
  Table,
  type TableInfo,
  type TableRow,
} from "../ffi/control.ts";
import { Errno } from "../ffi/errno.ts";
import { openAppTable } from "./app_table.ts";
import { AmberError, AppNotFoundError } from "./errors.ts";
import { type ExitRecord, readExitRecord, removeExitRecord } from "./exited.ts";
import type { Image } from "./image.ts";
import { endOrphan, orphans } from "./orphans.ts";
import { removeAppDir, TABLES_FILE } from "./paths.ts";
import { isStale, processesOf, type ProcessInfo } from "./processes.ts";
import { type SnapshotOptions, takeSnapshot } from "./snapshot.ts";
import { type PeriodicOptions, type PeriodicSnapshots, periodicSnapshots } from "./periodic.ts";
import type { Supervisor } from "./supervisor.ts";
import { exists, poll } from "./wait.ts";

// Moved to processes.ts; still here for code that imports them from this module.
export { isStale, processesOf, type ProcessInfo };

/** How an application ended. */
export interface ExitStatus {
  /**
   * The exit status of its first process, or 128 + n if signal n ended it; null when the
   * application was not started by this Deno process, which cannot know it.
   */
  code: number | null;
  /** The signal number that ended it, if one did. */
  signal?: number;
}

/** What {@linkcode App} is made from; {@linkcode launch}, `open` and `restore` make them. */
export interface AppInit {
  /** The application's name. */
  name: string;
  /** Its application ID. */
  id: string;
  /** Its runtime directory. */
  dir: string;
}

/** The supervisor of each application this Deno process started (internal: not in the API). */
const supervisors = new WeakMap<App, Supervisor>();

/** Ties `app` to the supervisor this Deno process started for it; launch and restore do. */
export function withSupervisor(app: App, supervisor: Supervisor | undefined): App {
  if (supervisor) supervisors.set(app, supervisor);
  return app;
}

const KILL_WAIT_MS = 10_000;
const SIGKILL = 9;

/**
 * An application running under Amber: a process tree with its own virtual IDs. Get one from
 * `launch`, `open` or `restore`.
 *
 * @example Launch, look, end (`await using` kills it at the end of the scope)
 * ```ts
 * import { launch } from "@amber/amber";
 *
 * await using app = await launch(["sleep", "60"], { detach: true });
 * console.log(app.name, app.id, app.processes());
 * ```
 */
export class App implements AsyncDisposable {
  /** The application's name, unique on this computer. */
  readonly name: string;
  /** Its application ID: 16 hex digits. */
  readonly id: string;
  /** Its runtime directory. */
  readonly dir: string;

  /** Makes the handle of an application; {@linkcode launch}, `open` and `restore` call it. */
  constructor(init: AppInit) {
    this.name = init.name;
    this.id = init.id;
    this.dir = init.dir;
  }

  /** Its identity and state, as its supervisor keeps them. */
  info(): TableInfo {
    using table = openAppTable(this);
    return table.info();
  }

  /** Every live row of its translation tables. */
  tables(): TableRow[] {
    using table = openAppTable(this);
    return table.rows();
  }

  /** Its processes, with virtual and system pids. */
  processes(): ProcessInfo[] {
    return processesOf(this.tables());
  }

  /**
   * Waits until the application has ended. Its status is known when this Deno process started
   * it, or when it ran detached (it left its record, see {@linkcode App.exited}).
   */
  async wait(): Promise<ExitStatus> {
    const supervisor = supervisors.get(this);
    if (supervisor && !supervisor.detached) {
      const { code } = await supervisor.child.status;
      return code > 128 && code < 128 + 65 ? { code, signal: code - 128 } : { code };
    }
    await poll(async () => !(await this.#alive()), Infinity, 50);
    const record = await this.exited();
    if (!record) return { code: null };
    return record.signal ? { code: record.code, signal: record.signal } : { code: record.code };
  }

  /**
   * How and when the application ended, if it ran detached and has ended (its record stays
   * until `kill` removes it); undefined while it runs.
   */
  async exited(): Promise<ExitRecord | undefined> {
    return await this.#alive() ? undefined : await readExitRecord(this.name);
  }

  /**
   * Ends the application: SIGKILL to every process, then waits (at most 10 s) until its
   * supervisor has cleaned up. A stale application (its supervisor is gone) is just removed.
   * Ending an application that has already ended removes its record (see `exited`).
   */
  async kill(): Promise<void> {
    // Supervisors from this directory that its tables do not name: an older Amber's (tables this
    // one cannot read), which the tables' signal would not reach; ended through /proc.
    for (const orphan of orphans().filter((o) => o.dir === this.dir)) await endOrphan(orphan);
    const ended = await poll(async () => {
      if (!(await this.#alive())) return true;
      // Sent again on every round: a process that was forked, or not yet known as the
      // application's (its supervisor checks descent), when the first went out is not missed.
      const stale = this.#killAndCheck();
      if (stale) await removeAppDir(this.dir);
      return stale;
    }, KILL_WAIT_MS);
    if (!ended) {
      throw new AmberError(
        `Application '${this.name}' did not end within ${KILL_WAIT_MS / 1000} s of SIGKILL`,
        { reason: "timeout" },
      );
    }
    const supervisor = supervisors.get(this);
    if (supervisor && !supervisor.detached) await supervisor.child.status;
    if (!(await this.#alive())) removeExitRecord(this.name);
  }

  /** Freezes the application and writes its image; see `SnapshotOptions`. */
  snapshot(options: SnapshotOptions): Promise<Image> {
    return takeSnapshot(this, options);
  }

  /** Snapshots the application periodically, keeping the last few; see `PeriodicOptions`. */
  snapshotEvery(options: PeriodicOptions): PeriodicSnapshots {
    return periodicSnapshots(this, options);
  }

  /** Kills the application. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  /** Sends SIGKILL to its processes if `signal`; returns whether the application is stale. */
  #killAndCheck(): boolean {
    try {
      using table = openAppTable(this);
      try {
        table.signalApp(SIGKILL);
      } catch (cause) {
        if (!(cause instanceof ControlProcessGoneError)) throw cause;
      }
      return isStale(table.rows());
    } catch (cause) {
      if (cause instanceof AppNotFoundError) return true;
      // Tables another version of Amber made: nothing in them can be trusted to signal by, so
      // the application is stale to this one, which removes its directory.
      if (cause instanceof ControlError && cause.errno === Errno.EPROTO) return true;
      throw cause;
    }
  }

  /** Whether this application (not a later one of the same name) still has its directory. */
  async #alive(): Promise<boolean> {
    if (!(await exists(this.dir))) return false;
    if (!this.id) return true;
    try {
      using table = Table.open(join(this.dir, TABLES_FILE));
      return table.info().appId === this.id;
    } catch {
      return true;
    }
  }
}
