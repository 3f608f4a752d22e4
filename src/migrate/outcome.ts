/**
 * The source's record of a migration's hand-off (docs/migration.md), one per application under
 * `<state>/migrations/<name>.json`, written durably before each step that another side may act
 * on: `prepared` before the image goes out, `committed` (the commit point) once the target
 * holds its copy and before the original is ended, `aborted` before the original goes on after a
 * failure. A later `migrate` of the same application reads it first and finishes what it says,
 * and so does the source's agent on its own (settle.ts). Both act on a record only while they
 * hold its lock (`<name>.lock`, flock): a `migrate` holds it from its first read to its end.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { stateDir } from "../paths.ts";
import { readRecord, removeRecord, writeRecord } from "./record.ts";

const OutcomeRecord = z.object({
  /** The migration's ID, which the target's record has too. */
  migration: z.string().regex(/^[0-9a-f]{16}$/),
  /** The target agent's URL. */
  agent: z.string(),
  /** The original's application ID. */
  appId: z.string(),
  /** Its name on the target. */
  name: z.string(),
  /**
   * `released`: finished by the source's agent on its own (settle.ts): kept for the `migrate`
   * that was interrupted, so that its retry reports where the application runs.
   */
  state: z.enum(["prepared", "committed", "aborted", "released"]),
  /** The `migrate` process that wrote it (a record of one still running is not acted on). */
  pid: z.int().optional(),
  /** Once committed: the copy's application ID and the target agent's name. */
  id: z.string().optional(),
  agentName: z.string().optional(),
});
export type Outcome = z.infer<typeof OutcomeRecord>;

function dir(): string {
  return join(stateDir(), "migrations");
}

function path(app: string): string {
  return join(dir(), `${app}.json`);
}

/**
 * Runs `fn` holding the lock on `app`'s migration record: no other `migrate` of it, nor the
 * agent settling it, acts meanwhile. Waits for one that holds it; a dead holder holds nothing.
 */
export async function withMigrationLock<T>(app: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dir(), { recursive: true, mode: 0o700 });
  using file = await Deno.open(join(dir(), `${app}.lock`), {
    create: true,
    write: true,
    mode: 0o600,
  });
  await file.lock(true);
  return await fn();
}

/** The applications that have a migration record. */
export async function recordedApps(): Promise<string[]> {
  const apps = [];
  try {
    for await (const e of Deno.readDir(dir())) {
      if (e.isFile && e.name.endsWith(".json")) apps.push(e.name.slice(0, -".json".length));
    }
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) throw cause;
  }
  return apps.sort();
}

/** Records `outcome` for the application `app`; it survives a crash once this returns. */
export function recordOutcome(app: string, outcome: Outcome): Promise<void> {
  return writeRecord(path(app), { ...outcome, pid: Deno.pid });
}

/** Whether the process that wrote `outcome` is another one, still migrating the application. */
export async function underWay(app: string, outcome: Outcome): Promise<boolean> {
  if (outcome.pid === undefined || outcome.pid === Deno.pid) return false;
  try {
    const argv = (await Deno.readTextFile(`/proc/${outcome.pid}/cmdline`)).split("\0");
    return argv.includes("migrate") && argv.includes(app);
  } catch {
    return false;
  }
}

/** The recorded outcome of the application's last migration, if it is not finished. */
export function readOutcome(app: string): Promise<Outcome | undefined> {
  return readRecord(path(app), OutcomeRecord);
}

/** The migration is finished on both sides. */
export function forgetOutcome(app: string): Promise<void> {
  return removeRecord(path(app));
}
