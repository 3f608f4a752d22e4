/**
 * The source's side of a migration's hand-off (docs/migration.md): telling the target to
 * release or end its held copy, and finishing what an earlier, interrupted migration of the same
 * application recorded (outcome.ts) before anything else is done with it.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { open } from "../apps.ts";
import { AppNotFoundError } from "../errors.ts";
import { bearer } from "../agent/auth.ts";
import { AgentError, MigrationError } from "../vne/errors.ts";
import { openVneTable, prune } from "../vne/registry.ts";
import { isFrozenHeld, resumeHeld } from "./hold.ts";
import { forgetOutcome, type Outcome, recordOutcome, underWay } from "./outcome.ts";

/** How long the source keeps asking the target to release its copy, in ms. */
const COMMIT_MS = 15_000;
const ASK_MS = 5_000;

const Released = z.object({ name: z.string(), id: z.string(), agent: z.string() });
export type Released = z.infer<typeof Released>;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One request about migration `o` to its target agent; its status and body. */
async function ask(o: Outcome, token: string, method: string, path: string) {
  let response: Response;
  try {
    response = await fetch(new URL(`/v1/migrations/${o.migration}${path}`, o.agent), {
      method,
      headers: bearer(token),
      signal: AbortSignal.timeout(ASK_MS),
    });
  } catch (cause) {
    throw new AgentError(`Cannot reach agent '${o.agent}': ${message(cause)}`, 0, { cause });
  }
  const text = await response.text();
  if (response.ok) return JSON.parse(text) as unknown;
  let why = text.slice(0, 300);
  try {
    why = z.object({ error: z.string() }).parse(JSON.parse(text)).error;
  } catch {
    // Not an Amber answer: its text says it.
  }
  throw new AgentError(`Agent '${o.agent}' answered ${response.status}: ${why}`, response.status);
}

/**
 * Tells the target that migration `o` committed: its held copy goes on. Idempotent; asked again
 * while the agent cannot be reached or cannot take the virtual IP yet, up to
 * {@linkcode COMMIT_MS}.
 */
export async function commitTarget(o: Outcome, token: string): Promise<Released> {
  const deadline = Date.now() + COMMIT_MS;
  for (;;) {
    try {
      return Released.parse(await ask(o, token, "POST", "/commit"));
    } catch (cause) {
      // Unreachable, or not the owner of the virtual IP yet (503: etcd, lease.ts): again.
      const again = cause instanceof AgentError && (cause.status === 0 || cause.status === 503);
      if (!again || Date.now() >= deadline) throw cause;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Tells the target that migration `o` is abandoned: its held copy, which never ran, ends. */
export async function abortTarget(o: Outcome, token: string): Promise<void> {
  await ask(o, token, "DELETE", "");
}

/**
 * After a failure before the commit point: the outcome is recorded as aborted (so that no
 * commit is ever sent for it), the original goes on if it is still held, and the target is told;
 * if it cannot be, the record stays for the next `migrate` to tell it. Returns whether it was.
 * `afterCommitWrite`: a write of `committed` failed, and the original goes on only once
 * `aborted` is recorded over it.
 */
export async function abandon(
  app: string,
  o: Outcome,
  token: string,
  options: { afterCommitWrite?: boolean } = {},
): Promise<boolean> {
  try {
    await recordOutcome(app, { ...o, state: "aborted" });
  } catch (cause) {
    // Until a record says otherwise, the one on disk says prepared, and a later migrate aborts;
    // unless a write of `committed` failed half-way: then the original must stay frozen.
    if (options.afterCommitWrite) {
      throw new MigrationError(
        `Cannot migrate '${app}': its hand-off could not be recorded (${message(cause)}); it ` +
          `stays frozen until the migration is run again`,
        { cause },
      );
    }
  }
  try {
    const original = await open(app);
    if (original.id === o.appId && isFrozenHeld(original)) resumeHeld(original);
  } catch (cause) {
    if (!(cause instanceof AppNotFoundError)) throw cause;
  }
  try {
    await abortTarget(o, token);
  } catch {
    return false; // told by the next migrate of this application
  }
  await forgetOutcome(app);
  return true;
}

/** Whether an application named `app` runs on this computer. */
async function runsHere(app: string): Promise<boolean> {
  try {
    await open(app);
    return true;
  } catch (cause) {
    if (cause instanceof AppNotFoundError) return false;
    throw cause;
  }
}

/** Ends the original of a committed migration (frozen since, it never ran again). */
export async function endOriginal(app: string, o: Outcome): Promise<void> {
  try {
    const original = await open(app);
    if (original.id === o.appId) await original.kill();
  } catch (cause) {
    if (!(cause instanceof AppNotFoundError)) throw cause;
  }
  using table = openVneTable();
  prune(table);
}

/**
 * Finishes an earlier migration of `app` that its record says is not finished: committed, the
 * original is ended and the target's copy released (returned); else the original goes on and
 * the target's copy is ended (undefined: `app` may be migrated again). Throws MigrationError if
 * the target cannot be told. `keepReleased` (the source's agent, settling on its own): a
 * released copy is recorded as such rather than forgotten, for the interrupted `migrate`'s retry.
 */
export async function settle(
  app: string,
  o: Outcome,
  token: string,
  options: { keepReleased?: boolean } = {},
): Promise<Released | undefined> {
  if (await underWay(app, o)) {
    throw new MigrationError(
      `Cannot migrate '${app}': another migration of it is under way (process ${o.pid})`,
    );
  }
  if (o.state === "released") {
    // Finished by the source's agent: the interrupted migrate's retry learns where it runs,
    // unless a new application of that name runs here now (the original was ended).
    await forgetOutcome(app);
    if (await runsHere(app)) return undefined;
    return { name: o.name, id: o.id ?? "", agent: o.agentName ?? o.agent };
  }
  if (o.state === "committed") {
    await endOriginal(app, o);
    let released;
    try {
      released = await commitTarget(o, token);
    } catch (cause) {
      throw new MigrationError(
        `'${app}' was handed to agent '${o.agent}' (migration ${o.migration} committed), but ` +
          `the agent did not confirm its release: ${message(cause)}; run the migration again ` +
          `to finish it`,
        { cause },
      );
    }
    if (options.keepReleased) {
      await recordOutcome(app, {
        ...o,
        state: "released",
        name: released.name,
        id: released.id,
        agentName: released.agent,
      });
    } else {
      await forgetOutcome(app);
    }
    return released;
  }
  if (!(await abandon(app, o, token))) {
    throw new MigrationError(
      `Cannot migrate '${app}': its earlier migration ${o.migration} to agent '${o.agent}' was ` +
        `abandoned, and that agent cannot be told to end its held copy; it runs on here`,
    );
  }
  return undefined;
}
