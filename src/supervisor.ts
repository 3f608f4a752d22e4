/**
 * Starting `amber-supervisor`, the per-application subreaper, and giving up on one whose start
 * failed. The supervisor's command lines:
 *
 * ```
 * amber-supervisor run <appdir> [--detach] [--output FILE] -- PROGRAM ARGS...
 * amber-supervisor restore <appdir> <imagedir> [--detach] [--lazy] [--output FILE] [--as U:G:GS]
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import type { Table, TableRow } from "../ffi/control.ts";
import { PidFlag } from "../ffi/control.ts";
import { removeAppDir, supervisorPath } from "./paths.ts";
import { poll } from "./wait.ts";

/** How a supervisor is started. */
export interface SupervisorOptions {
  /** Daemonize: the supervisor's own command returns at once. */
  detach?: boolean;
  /** Append the program's stdout and stderr to this file instead of inheriting them. */
  output?: string;
  /** Restore only: map saved pages from the image, to be read when first touched. */
  lazy?: boolean;
  /** Restore only: `UID:GID:GROUPS`, the image owner's; no process gets more (credentials.ts). */
  as?: string;
  /** Run only: the kernel-side layer (docs/seccomp.md); default: on where Amber may install it
   * without no_new_privs (CAP_SYS_ADMIN), else off. */
  seccomp?: "on" | "off";
}

/** A supervisor this Deno process started. */
export class Supervisor {
  /** The supervisor's process (for a detached one, the process that daemonized and left). */
  readonly child: Deno.ChildProcess;
  /** Whether it was started with `--detach`. */
  readonly detached: boolean;
  #status: Deno.CommandStatus | undefined;

  private constructor(child: Deno.ChildProcess, detached: boolean) {
    this.child = child;
    this.detached = detached;
    child.status.then((status) => this.#status = status);
  }

  /** Starts `amber-supervisor <mode> <modeArgs...> [--detach] [--output F] [-- tail...]`. */
  static spawn(
    mode: "run" | "restore",
    modeArgs: readonly string[],
    options: SupervisorOptions,
    tail: readonly string[] = [],
  ): Supervisor {
    const args = [mode, ...modeArgs];
    if (options.detach) args.push("--detach");
    if (options.lazy) args.push("--lazy");
    if (options.as !== undefined) args.push("--as", options.as);
    if (options.output !== undefined) args.push("--output", resolve(options.output));
    if (tail.length > 0) args.push("--", ...tail);
    const child = new Deno.Command(supervisorPath(), {
      args,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      env: options.seccomp ? { AMBER_SECCOMP: options.seccomp } : undefined,
    }).spawn();
    return new Supervisor(child, options.detach ?? false);
  }

  /** Its exit status once it has exited, else undefined. */
  get exited(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /** Kills it if it still runs, and waits for it (at most 5 s). */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await poll(() => this.#status !== undefined, 5_000, 5);
  }
}

/** The application's supervisor row, if it has registered. */
export function supervisorRow(table: Table): TableRow | undefined {
  return table.rows().find((row) => row.kind === "pid" && (row.flags & PidFlag.SUPERVISOR) !== 0);
}

/**
 * Undoes a start that failed: kills the application's processes, its supervisor, and removes
 * its directory, so that nothing is left behind.
 */
export async function abandon(
  dir: string,
  table: Table | undefined,
  supervisor: Supervisor | undefined,
): Promise<void> {
  let daemonPid = 0;
  if (table) {
    try {
      table.signalApp(9);
    } catch {
      // No process of it is left.
    }
    try {
      daemonPid = table.info().supervisorPid;
    } catch {
      // The tables are unreadable; the supervisor's own process is all we can stop.
    }
  }
  await supervisor?.stop();
  if (supervisor?.detached && daemonPid > 0) {
    try {
      Deno.kill(daemonPid, "SIGKILL");
    } catch {
      // It has exited already.
    }
  }
  await removeAppDir(dir);
}
