/**
 * {@linkcode restore}: thaw an image into a new application with the same virtual IDs and new
 * system IDs.
 *
 * @module
 */

import { join } from "node:path";
import { AppState, ControlTimeoutError, createTableFromImage, Table } from "../ffi/control.ts";
import { App, withSupervisor } from "./app.ts";
import { IncompatibleImageError, isDomainError, RestoreError } from "./errors.ts";
import { changedFileLines, changedOpenFiles } from "./changed_files.ts";
import { type Image, pageDamage, verify } from "./image.ts";
import { checkAppName, checkHostname, newAppId } from "./names.ts";
import { refuseOrphanName } from "./orphans.ts";
import { PathLimit, pathTooLong } from "./path_limits.ts";
import { appDir, makeAppDir, restorerPath, supervisorPath, TABLES_FILE } from "./paths.ts";
import { removeExitRecord } from "./exited.ts";
import { abandon, Supervisor, supervisorRow } from "./supervisor.ts";
import { checkTimeout } from "./wait.ts";
import { restoreCeiling } from "./credentials.ts";
import { rejoinVne } from "./vne/join.ts";
import { type ProgressCallback, reporter } from "./progress.ts";

/** Options for {@linkcode restore}. */
export interface RestoreOptions {
  /** The new application's name; default: the name it had when it was frozen. */
  name?: string;
  /** Run detached: the application outlives this Deno process. */
  detach?: boolean;
  /** Append the program's stdout and stderr to this file; default: inherit them. */
  output?: string;
  /**
   * Map the saved memory from the image instead of reading it in: the restore returns at once
   * and pages come in when the program first touches them. The image must then stay where it
   * is while the application runs (its files stay open; a later snapshot saves everything).
   * Its time does not grow with the memory's size: the image's metadata is checked (every byte
   * but the pages and the table of page hashes, which is mapped unread) and so are the pages
   * read in (shared memory, stacks) before the program runs; the pages it maps, each against
   * its entry in that table, are checked afterwards, in the
   * background by the supervisor, and a damaged one ends the application (SIGKILL; a detached
   * one's exit record's `error` names the page and the file). Check an image whose storage may have been damaged
   * with `inspect` first, or restore it eagerly.
   */
  lazy?: boolean;
  /** How long the processes may take to come back, in ms; default 30 000. */
  timeoutMs?: number;
  /** For a migration: the application ID of the original, whose virtual IP this one takes. */
  replaces?: string;
  /**
   * Keep the restored processes held, not running, until `App.release` (a migration's target
   * before the source commits: docs/migration.md).
   */
  held?: boolean;
  /** The virtual hostname its processes see; default: the one they saw when frozen. */
  hostname?: string;
  /**
   * For an image in a VNE: the virtual IP the restored application takes (in the VNE's subnet
   * and free) instead of the one it had when frozen, as clones do. Sockets it had bound keep
   * their virtual ports; a real port taken here is replaced by another.
   */
  ip?: string;
  /**
   * Abandons the restore when it aborts before the application is back: whatever of it
   * started is ended and removed, and the restore rejects with a {@linkcode RestoreError}.
   */
  signal?: AbortSignal;
  /**
   * Told how far the restore is: "verify" while the image's files are checked (bytes of the
   * files, parents' included), "load" while the processes come back, then "done".
   */
  onProgress?: ProgressCallback;
  /**
   * Restore even if files the program held open (or mapped) for writing in place changed after the
   * snapshot (by default that is refused, naming them: the program would carry on from memory
   * that disagrees with them; see src/changed_files.ts).
   */
  acceptChangedFiles?: boolean;
}

const STEP_MS = 100;

/**
 * Restores an image (an {@linkcode Image} or its directory) as a new application. The image is
 * verified first; nothing starts if it is damaged or was made on an incompatible machine.
 *
 * @example Clone two instances from one template image
 * ```ts
 * import { launch, restore } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const image = await app.snapshot({ dir: `${dir}/template.amber`, stop: true });
 * const a = await restore(image, { name: `${app.name}-a`, detach: true });
 * const b = await restore(image, { name: `${app.name}-b`, detach: true });
 * console.log(a.processes(), b.processes()); // the same virtual pids, different system pids
 * await a.kill();
 * await b.kill();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function restore(image: Image | string, options: RestoreOptions = {}): Promise<App> {
  const timeoutMs = checkTimeout(options.timeoutMs ?? 30_000);
  const report = reporter(options.onProgress);
  // Every file's metadata is checked here, and each page as the restorer reads it in; the pages a
  // lazy restore maps unread are checked once the program runs (csrc/supervisor/lazy_check.c),
  // and so is its table of page hashes, entry by entry against the pages.
  const checked = await verify(
    typeof image === "string" ? image : image.dir,
    options.lazy ? "lazy" : false,
    {
      onProgress: options.onProgress,
    },
  );
  const { dir: imageDir, manifest } = checked;
  const changed = options.acceptChangedFiles ? [] : changedOpenFiles(checked);
  if (changed.length) {
    throw new IncompatibleImageError(
      `Image '${imageDir}' cannot be restored as it is: files its program held open (or ` +
        `mapped) for writing changed after the snapshot, and its memory would disagree with ` +
        `them:\n  ` +
        `${changedFileLines(changed).join("\n  ")}\nPut them back as they were, or accept ` +
        `them (--accept-changed-files, acceptChangedFiles).`,
    );
  }
  const name = checkAppName(options.name ?? manifest.app.name);
  const as = await restoreCeiling(imageDir);
  const hostname = options.hostname === undefined ? undefined : checkHostname(options.hostname);
  const tooLong = pathTooLong(imageDir, PathLimit.IMAGE_DIR) ??
    pathTooLong(appDir(name), PathLimit.RESTORED_APP_DIR, "its application directory's path");
  if (tooLong) throw new RestoreError(`Cannot restore '${imageDir}' as '${name}': ${tooLong}`);
  supervisorPath();
  restorerPath();

  refuseOrphanName(name, appDir(name));
  const dir = makeAppDir(name);
  removeExitRecord(name); /* an ended application of that name is forgotten */
  const id = newAppId();
  let table: Table | undefined;
  let supervisor: Supervisor | undefined;
  try {
    createTableFromImage(join(imageDir, "tables.bin"), join(dir, TABLES_FILE), id, name);
    const joiner = { name, id, tables: join(dir, TABLES_FILE) };
    const host = hostname ?? manifest.app.hostname;
    rejoinVne(joiner, join(imageDir, "tables.bin"), host, options.replaces, options.ip);
    table = Table.open(join(dir, TABLES_FILE));
    if (hostname !== undefined) table.setHostname(hostname);
    if (options.held) table.setHeld(true);
    await table.ipcRestore(imageDir);
    supervisor = Supervisor.spawn("restore", [dir, imageDir], { ...options, as });
    const count = manifest.processes.length;
    report({ phase: "load", bytes: 0 });
    await waitRestored(name, table, supervisor, count, timeoutMs, options.signal);
    report({ phase: "done", bytes: 0 });
  } catch (cause) {
    const why = table ? tableError(table) : "";
    await abandon(dir, table, supervisor);
    const damage = await pageDamage(checked, why);
    if (damage) throw damage;
    if (isDomainError(cause)) throw cause;
    const detail = why || (cause instanceof Error ? cause.message : String(cause));
    throw new RestoreError(`Cannot restore '${imageDir}' as '${name}': ${detail}`, { cause });
  } finally {
    table?.close();
  }
  return withSupervisor(new App({ name, id, dir }), supervisor);
}

/** Why the restore failed, as the restorer or an agent wrote it into the tables. */
function tableError(table: Table): string {
  try {
    return table.agentError();
  } catch {
    return "";
  }
}

/** Waits in short steps, so that a supervisor that exits early is noticed at once. */
async function waitRestored(
  name: string,
  table: Table,
  supervisor: Supervisor,
  count: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = supervisor.exited;
    try {
      await table.waitRestored(count, Math.min(STEP_MS, Math.max(1, deadline - Date.now())));
      // An abort is acted on once every process is back: only then are they all known, by pid,
      // to be ended (a process still being restored is not in the tables yet).
      if (signal?.aborted) {
        throw new RestoreError(`Restore of '${name}' was interrupted: nothing of it is left`, {
          cause: signal.reason,
          reason: "interrupted",
        });
      }
      return;
    } catch (cause) {
      if (!(cause instanceof ControlTimeoutError)) throw cause;
    }
    const info = table.info();
    if (info.state === AppState.FAILED) {
      throw new RestoreError(`Cannot restore '${name}': ${info.error || "no reason was given"}`);
    }
    const gone = exited !== undefined &&
      (!supervisor.detached || exited.code !== 0 || supervisorRow(table)?.alive === false);
    if (gone) {
      throw new RestoreError(
        `Cannot restore '${name}': Amber's supervisor exited with status ${exited.code}` +
          (info.error ? `: ${info.error}` : ""),
      );
    }
    if (Date.now() >= deadline) {
      throw new RestoreError(
        `Cannot restore '${name}': its ${count} processes did not all come back within ` +
          `${timeoutMs} ms`,
        { reason: "timeout" },
      );
    }
  }
}
