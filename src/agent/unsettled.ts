/**
 * The source's agent finishes the migrations that their `migrate` left unfinished (it failed
 * after the commit point, or before it without reaching the target, or it was killed), without
 * waiting for someone to run it again (docs/migration.md): a committed one's original is ended
 * and the target told to release its copy; any other's original goes on and the target is told
 * to end its copy. It does exactly what the retry would (handoff.ts `settle`), under the same
 * lock as a `migrate` of the application, so that it never acts on a migration under way; a
 * released copy stays recorded for the retry, which then reports where the application runs.
 * The target is asked with the agent's own token (a cluster's agents share one). Tried again,
 * each second at first and then less often, while the target cannot be reached.
 *
 * @module
 */

import { settle } from "../migrate/handoff.ts";
import { readOutcome, recordedApps, underWay, withMigrationLock } from "../migrate/outcome.ts";

const FIRST_MS = 1_000;
const LAST_MS = 16_000;

/** The unfinished migrations of this computer's applications, and when each is tried next. */
export class Unsettled {
  readonly #token: string;
  readonly #log: (line: string) => void;
  #next = new Map<string, { at: number; waitMs: number }>();
  #running = new Set<string>();

  constructor(token: string, log: (line: string) => void) {
    this.#token = token;
    this.#log = log;
  }

  /** Starts settling each recorded migration that is due and not being settled already. */
  async tick(): Promise<void> {
    const now = Date.now();
    for (const app of await recordedApps()) {
      if (this.#running.has(app) || (this.#next.get(app)?.at ?? 0) > now) continue;
      this.#running.add(app);
      this.#settle(app).finally(() => this.#running.delete(app));
    }
  }

  async #settle(app: string): Promise<void> {
    try {
      await withMigrationLock(app, async () => {
        const o = await readOutcome(app);
        if (!o || o.state === "released" || await underWay(app, o)) return;
        const released = await settle(app, o, this.#token, { keepReleased: true });
        this.#log(
          released
            ? `Migration ${o.migration} of '${app}' finished: it runs on agent '${released.agent}'`
            : `Migration ${o.migration} of '${app}' abandoned: it runs on here`,
        );
      });
      this.#next.delete(app);
    } catch (error) {
      const waitMs = Math.min(2 * (this.#next.get(app)?.waitMs ?? FIRST_MS / 2), LAST_MS);
      this.#next.set(app, { at: Date.now() + waitMs, waitMs });
      this.#log(`Migration of '${app}': ${error instanceof Error ? error.message : error}`);
    }
  }
}
