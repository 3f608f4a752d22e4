/**
 * The target's side of a migration's hand-off (docs/migration.md). A copy restored for a
 * migration is held (its processes do not run) and recorded, durably, under
 * `<state>/handoffs/<migration>.json`; only the source decides what becomes of it: commit
 * releases it and lets it take the virtual IP over, abort ends it. Both are idempotent, and
 * survive this agent's restart: the held copy runs on its own supervisor, and the record says
 * what it is.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import type { App } from "../app.ts";
import { open } from "../apps.ts";
import { AppNotFoundError } from "../errors.ts";
import { stateDir } from "../paths.ts";
import { MigrationError } from "../vne/errors.ts";
import { isRestoredHeld, releaseRestored } from "../migrate/hold.ts";
import { readRecord, removeRecord, writeRecord } from "../migrate/record.ts";

export const MigrationId = z.string().regex(/^[0-9a-f]{16}$/);

const HandOffRecord = z.object({
  migration: MigrationId,
  name: z.string(),
  id: z.string(),
  /** The original's application ID, whose virtual IP a released copy takes over. */
  replaces: z.string(),
  state: z.enum(["held", "released"]),
});
export type HandOff = z.infer<typeof HandOffRecord>;

/** A migration the source's agent does not know, or whose copy is gone. */
export class HandOffGoneError extends MigrationError {}

/** A committed migration whose copy cannot take its virtual IP over yet (etcd unreachable). */
export class HandOffPendingError extends MigrationError {}

/** A migration that committed: it cannot be aborted any more. */
export class HandOffCommittedError extends MigrationError {}

function dir(): string {
  return join(stateDir(), "handoffs");
}

function recordPath(migration: string): string {
  return join(dir(), `${MigrationId.parse(migration)}.json`);
}

/** The application a hand-off restored, if it still runs here. */
async function copyOf(h: HandOff): Promise<App | undefined> {
  try {
    const app = await open(h.name);
    // Recorded before its restore began (no ID yet): the copy of that name still held.
    if (h.id === "") return app.id !== "" && isRestoredHeld(app) ? app : undefined;
    return app.id === h.id ? app : undefined;
  } catch (cause) {
    if (cause instanceof AppNotFoundError) return undefined;
    throw cause;
  }
}

/** The target's hand-offs; `replaces` is the agent's map the VNE mirror reads. */
export class HandOffs {
  #replaces: Map<string, string>;
  #takeOver: (app: App) => Promise<void>;
  /** The application IDs of the held copies, and the names of those being restored. */
  #held = new Set<string>();
  #restoring = new Set<string>();
  /** Committed migrations whose copies may still be held. */
  #pending = new Set<string>();

  /**
   * `takeOver` makes a released copy the owner of its virtual IP before it runs (with etcd:
   * its claims, under this agent's lease); it throws {@linkcode HandOffPendingError} if it
   * cannot yet.
   */
  constructor(replaces: Map<string, string>, takeOver: (app: App) => Promise<void>) {
    this.#replaces = replaces;
    this.#takeOver = takeOver;
  }

  /** Whether `appId` (named `name`) is a copy held for a migration: it claims nothing yet. */
  isHeld(appId: string, name: string): boolean {
    return this.#held.has(appId) || this.#restoring.has(name);
  }

  /**
   * At the agent's start: released copies that still run take their virtual IP over again (a
   * restart may have come before the mirror published it); records of copies that ended go.
   */
  async load(): Promise<void> {
    let names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir())) if (e.name.endsWith(".json")) names.push(e.name);
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) return;
      throw cause;
    }
    names = names.sort();
    for (const name of names) {
      const path = join(dir(), name);
      const h = await readRecord(path, HandOffRecord);
      if (!h) continue;
      const copy = await copyOf(h);
      if (!copy) {
        if (h.state === "released") await removeRecord(path);
        continue; // a held copy that is gone: the source's retry is told so
      }
      if (h.state === "held") this.#held.add(copy.id);
      else this.#pending.add(h.migration); // committed, maybe not released: see `releasePending`
    }
  }

  /**
   * Releases the copies of committed migrations that are still held (the agent stopped, or could
   * not take their virtual IP over yet), without waiting for the source to ask again.
   */
  async releasePending(): Promise<void> {
    for (const migration of [...this.#pending]) {
      try {
        await this.commit(migration);
        this.#pending.delete(migration);
      } catch (cause) {
        if (cause instanceof HandOffGoneError) this.#pending.delete(migration);
      }
    }
  }

  /**
   * Records that the copy of `migration` is being restored, held, as `name`: if this agent
   * stops meanwhile, an abort still finds it (and ends it) by that name.
   */
  async restoring(migration: string, name: string, replaces: string): Promise<void> {
    this.#restoring.add(name);
    await writeRecord(
      recordPath(migration),
      {
        migration,
        name,
        id: "",
        replaces,
        state: "held",
      } satisfies HandOff,
    );
  }

  /** Records the copy just restored held for `migration`. */
  async held(migration: string, app: App, replaces: string): Promise<void> {
    this.#held.add(app.id);
    this.#restoring.delete(app.name);
    await writeRecord(
      recordPath(migration),
      {
        migration,
        name: app.name,
        id: app.id,
        replaces,
        state: "held",
      } satisfies HandOff,
    );
  }

  /** The source committed: the held copy goes on and takes the virtual IP over. */
  async commit(migration: string): Promise<HandOff> {
    const path = recordPath(migration);
    const h = await readRecord(path, HandOffRecord);
    if (!h) throw new HandOffGoneError(`No migration '${migration}' on this computer`);
    const app = await copyOf(h);
    if (!app) {
      throw new HandOffGoneError(
        `The copy of migration '${migration}' ('${h.name}', ${h.id}) is gone from this computer`,
      );
    }
    if (h.replaces) this.#replaces.set(app.id, h.replaces);
    const released = { ...h, id: app.id, state: "released" as const };
    // Recorded first: a restart then knows the copy is the owner, whether it was released yet
    // or not, and releases it (see `load`).
    await writeRecord(path, released);
    this.#held.delete(app.id);
    if (isRestoredHeld(app)) {
      this.#pending.add(migration);
      await this.#takeOver(app);
      releaseRestored(app);
    }
    this.#pending.delete(migration);
    return released;
  }

  /** The source aborted: the held copy, which never ran, is ended. Refused once committed. */
  async abort(migration: string): Promise<void> {
    const path = recordPath(migration);
    const h = await readRecord(path, HandOffRecord);
    if (!h) return;
    if (h.state === "released") {
      throw new HandOffCommittedError(
        `Migration '${migration}' committed: '${h.name}' runs here now, it is not aborted`,
      );
    }
    const app = await copyOf(h);
    if (app) await app.kill();
    this.#held.delete(app?.id ?? h.id);
    this.#restoring.delete(h.name);
    await removeRecord(path);
  }
}
