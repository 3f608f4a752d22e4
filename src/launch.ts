/**
 * {@linkcode launch}: start a program under Amber, as a new application.
 *
 * @module
 */

import { join } from "node:path";
import { AppState, createTable, Table } from "../ffi/control.ts";
import { pickVpidBase } from "./vpid_range.ts";
import { App, withSupervisor } from "./app.ts";
import { ProgramError } from "./errors.ts";
import { checkHostname, defaultAppName, newAppId } from "./names.ts";
import { refuseOrphanName } from "./orphans.ts";
import { appDir, makeAppDir, supervisorPath, TABLES_FILE } from "./paths.ts";
import { removeExitRecord } from "./exited.ts";
import { checkInterposable, resolveProgram } from "./program.ts";
import { abandon, Supervisor, supervisorRow } from "./supervisor.ts";
import { checkTimeout, sleep } from "./wait.ts";
import { joinVne } from "./vne/join.ts";

/** Options for {@linkcode launch}. */
export interface LaunchOptions {
  /** The application's name; default: the program's base name and 4 hex digits. */
  name?: string;
  /** The virtual hostname the program sees; default: the real one. */
  hostname?: string;
  /** Run detached: the program outlives this Deno process, its stdin is /dev/null. */
  detach?: boolean;
  /** Append the program's stdout and stderr to this file; default: inherit them. */
  output?: string;
  /** How long the program may take to start, in ms; default 10 000. */
  timeoutMs?: number;
  /** The virtual network environment to run in (see `createVne`). */
  vne?: string;
  /** Its virtual IP in that VNE; default: the lowest free one. Needs `vne`. */
  ip?: string;
  /** The kernel-side layer that translates raw system calls (docs/seccomp.md): "on" also where
   * it needs no_new_privs (setuid programs inside then stop working); "off" never; default: on
   * where Amber has CAP_SYS_ADMIN. */
  seccomp?: "on" | "off";
}

const POLL_MS = 5;

/**
 * Starts `argv` (a program and its arguments) under Amber as a new application, and returns
 * once the program runs.
 *
 * @example Run a program and wait for it
 * ```ts
 * import { launch } from "@amber/amber";
 *
 * const app = await launch(["sh", "-c", "exit 3"]);
 * console.log(await app.wait()); // { code: 3 }
 * ```
 */
export async function launch(argv: readonly string[], options: LaunchOptions = {}): Promise<App> {
  if (argv.length === 0) {
    throw new TypeError("Expected a program to launch, found an empty argument list");
  }
  const timeoutMs = checkTimeout(options.timeoutMs ?? 10_000);
  const hostname = options.hostname === undefined ? "" : checkHostname(options.hostname);
  if (options.ip !== undefined && options.vne === undefined) {
    throw new TypeError(`Expected a VNE for the virtual IP '${options.ip}', found none`);
  }
  const program = argv[0];
  const path = resolveProgram(program);
  checkInterposable(program, path);
  supervisorPath();

  const name = options.name ?? defaultAppName(program);
  refuseOrphanName(name, appDir(name));
  const dir = makeAppDir(name);
  removeExitRecord(name); /* an ended application of that name is forgotten */
  const id = newAppId();
  let table: Table | undefined;
  let supervisor: Supervisor | undefined;
  try {
    // Its own virtual pids: none of another application's pid-named files is its (vpid_range.ts).
    createTable(join(dir, TABLES_FILE), id, name, hostname, pickVpidBase());
    if (options.vne !== undefined) {
      const vne = { vne: options.vne, ip: options.ip, hostname: options.hostname };
      joinVne({ name, id, tables: join(dir, TABLES_FILE) }, vne);
    }
    table = Table.open(join(dir, TABLES_FILE));
    supervisor = Supervisor.spawn("run", [dir], options, [path, ...argv.slice(1)]);
    await waitStarted(program, table, supervisor, timeoutMs);
  } catch (cause) {
    await abandon(dir, table, supervisor);
    throw cause;
  } finally {
    table?.close();
  }
  return withSupervisor(new App({ name, id, dir }), supervisor);
}

/** Polls the table until the program runs (or has run); throws ProgramError otherwise. */
async function waitStarted(
  program: string,
  table: Table,
  supervisor: Supervisor,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = supervisor.exited;
    const info = table.info();
    if (info.state === AppState.RUNNING || info.state === AppState.EXITED) return;
    if (info.state === AppState.FAILED) {
      throw new ProgramError(
        `Program '${program}' could not be started: ${info.error || "no reason was given"}`,
      );
    }
    const gone = exited !== undefined &&
      (!supervisor.detached || exited.code !== 0 || supervisorRow(table)?.alive === false);
    if (gone) {
      const why = info.error ? `: ${info.error}` : "";
      throw new ProgramError(
        `Program '${program}' could not be started: Amber's supervisor exited with status ` +
          `${exited.code} before it ran${why}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new ProgramError(`Program '${program}' did not start within ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
  }
}
