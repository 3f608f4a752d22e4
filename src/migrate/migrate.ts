/**
 * {@linkcode migrate}: move a running application to another computer. The application is
 * frozen, and its image is streamed to the target computer's agent as its processes write it
 * (outgoing.ts: no whole copy of it on this computer); the agent restores it held. The hand-off
 * is a commit with one owner (docs/migration.md): once the target holds its copy, this computer
 * records the outcome durably, ends the original and only then tells the target to let its copy
 * go on and take the virtual IP over. On any failure before the commit point, the original goes
 * on exactly where it was frozen and the target's copy is ended; after it, a later `migrate` of
 * the same application finishes the hand-off (handoff.ts).
 *
 * With pre-copy (the default), a first round sends the whole image, which the target keeps,
 * and lets the application go on (not held); this computer keeps only the index of its pages
 * (their hashes). The frozen round is then an incremental snapshot on top of that index: only
 * the pages that changed since cross while the application is held, and the target restores
 * them on top of the image it kept. Note that the first round freezes the application too,
 * while its processes write their files, which is as long as sending them takes: pre-copy
 * takes the restore out of the freeze, and no more, until processes write their files while
 * they run.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import type { App } from "../app.ts";
import { open } from "../apps.ts";
import { AmberError } from "../errors.ts";
import { randomHex } from "../names.ts";
import { stateDir } from "../paths.ts";
import { bearer } from "../agent/auth.ts";
import { AgentError, MigrationError } from "../vne/errors.ts";
import { abandon, commitTarget, endOriginal, settle } from "./handoff.ts";
import { pauseAt } from "./faults.ts";
import { disownHeld } from "./hold.ts";
import {
  forgetOutcome,
  type Outcome,
  readOutcome,
  recordOutcome,
  withMigrationLock,
} from "./outcome.ts";
import { streamPredump, streamSnapshot } from "./outgoing.ts";
import { type Reply, Upload } from "./upload.ts";

/** Options for {@linkcode migrate}. */
export interface MigrateOptions {
  /** The target agent's shared token. */
  token: string;
  /** The application's name on the target; default: the same name. */
  name?: string;
  /** How long the whole migration may take, in ms; default 120 000. */
  timeoutMs?: number;
  /**
   * Send the memory first while the application runs, and only what changed since while it is
   * frozen; default true. False: everything crosses while it is frozen, in one round.
   */
  precopy?: boolean;
}

/** Where an application went. */
export interface Migration {
  /** Its name on the target computer. */
  name: string;
  /** Its new application ID. */
  id: string;
  /** The target agent's name. */
  agent: string;
  /** How long the application was frozen, in ms (from freeze to running on the target). */
  frozenMs: number;
  /** Bytes sent in the pre-copy round (0 without pre-copy). */
  precopyBytes: number;
  /**
   * How long the pre-copy round froze the application, in ms (0 without pre-copy): its
   * processes write their files frozen, as in any snapshot, at the speed the target takes them.
   */
  precopyFrozenMs: number;
  /** Bytes sent while the application was frozen. */
  frozenBytes: number;
}

const Answer = z.object({ name: z.string(), id: z.string(), agent: z.string() });
const KeptAnswer = z.object({ image: z.string().regex(/^[0-9a-f]{8,32}$/) });
const ErrorAnswer = z.object({ error: z.string() });

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Asks the agent whether it is there and takes the token, before anything is frozen. */
async function checkAgent(agent: string, token: string, timeoutMs: number): Promise<void> {
  let status: number;
  let text: string;
  try {
    const response = await fetch(new URL("/v1/health", agent), {
      headers: bearer(token),
      signal: AbortSignal.timeout(Math.min(timeoutMs, 10_000)),
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    throw new AgentError(`Cannot reach agent '${agent}': ${message(cause)}`, 0, { cause });
  }
  if (status !== 200) throw agentRefusal(agent, status, text, "does not take the request");
}

function agentRefusal(agent: string, status: number, text: string, what: string): AgentError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const why = ErrorAnswer.safeParse(value);
  return new AgentError(
    `Agent '${agent}' ${what} (${status}): ${why.success ? why.data.error : text.slice(0, 300)}`,
    status,
  );
}

/**
 * The agent's answer to an image (`schema`: where the application runs now, or what the agent
 * kept); throws AgentError.
 */
function answered<T>(agent: string, reply: Reply, schema: z.ZodType<T>, what: string): T {
  if (reply.status !== 200) throw agentRefusal(agent, reply.status, reply.body, what);
  let value: unknown;
  try {
    value = JSON.parse(reply.body);
  } catch {
    value = undefined;
  }
  const answer = schema.safeParse(value);
  if (!answer.success) {
    throw new AgentError(
      `Agent '${agent}' answered with unexpected JSON: '${reply.body.slice(0, 300)}'`,
      reply.status,
    );
  }
  return answer.data;
}

/** What the pre-copy round left: the image the target keeps, and its index here. */
interface Precopy {
  image: string;
  index: string;
  bytes: number;
  frozenMs: number;
}

/**
 * The pre-copy round: the application's memory, read while it runs on (it is not frozen at
 * all), goes to the target, which keeps it; its index stays here, in a directory under `work`.
 * Throws MigrationError; the application runs on either way.
 */
async function precopyRound(
  app: App,
  agent: string,
  headers: Record<string, string>,
  options: { name: string; work: string; timeoutMs: number },
): Promise<Precopy> {
  const url = new URL("/v1/images", agent);
  url.searchParams.set("name", options.name);
  const index = join(options.work, `${app.name}-${randomHex(8)}.index`);
  try {
    const upload = await Upload.start(url, headers, options.timeoutMs);
    const sent = await streamPredump(app, upload, { work: options.work, keepIndex: index });
    const reply = await upload.finish();
    const { image } = answered(agent, reply, KeptAnswer, "could not keep the pre-copy image");
    return { image, index, bytes: sent.bytes, frozenMs: sent.frozenMs };
  } catch (cause) {
    await Deno.remove(index, { recursive: true }).catch(() => {});
    const why = message(cause).replace(/; it keeps running$/, "");
    throw new MigrationError(`Cannot migrate '${app.name}': ${why}; it runs on here`, { cause });
  }
}

/** Asks the agent to drop the image it kept (best effort: it drops it itself once used). */
async function dropKept(agent: string, token: string, image: string): Promise<void> {
  try {
    const response = await fetch(new URL(`/v1/images/${image}`, agent), {
      method: "DELETE",
      headers: bearer(token),
      signal: AbortSignal.timeout(5_000),
    });
    await response.body?.cancel();
  } catch {
    // The agent is gone; it drops what it kept when it starts again.
  }
}

/**
 * Moves the application `name` to the computer whose agent is at `agent` (a URL such as
 * `http://10.0.0.3:7070`). Its virtual IP goes with it; its listening sockets listen there;
 * established TCP connections are closed, and their clients reconnect to the same virtual
 * address. On failure the application runs on here and a {@linkcode MigrationError} says why.
 *
 * @example Drain this computer: move every application elsewhere
 * ```ts ignore
 * import { list, migrate } from "@amber/amber";
 *
 * const token = (await Deno.readTextFile("/etc/amber/token")).trim();
 * for (const { name } of await list()) {
 *   await migrate(name, "http://computer3:7070", { token });
 * }
 * ```
 */
export async function migrate(
  name: string,
  agent: string,
  options: MigrateOptions,
): Promise<Migration> {
  try {
    new URL(agent);
  } catch {
    throw new RangeError(`Invalid agent URL '${agent}': expected one such as http://10.0.0.3:7070`);
  }
  // One at a time per application, and never while its agent settles an earlier one.
  return await withMigrationLock(name, () => migrateLocked(name, agent, options));
}

async function migrateLocked(
  name: string,
  agent: string,
  options: MigrateOptions,
): Promise<Migration> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pending = await readOutcome(name);
  const settled = pending && await settle(name, pending, options.token);
  if (settled) {
    return { ...settled, frozenMs: 0, frozenBytes: 0, precopyBytes: 0, precopyFrozenMs: 0 };
  }
  const app = await open(name);
  const work = join(stateDir(), "outgoing");
  await Deno.mkdir(work, { recursive: true, mode: 0o700 });
  const headers = {
    ...bearer(options.token),
    "content-type": "application/x-amber-image-stream",
  };
  try {
    await checkAgent(agent, options.token, timeoutMs);
  } catch (cause) {
    throw new MigrationError(`Cannot migrate '${name}': ${message(cause)}`, { cause });
  }
  const newName = options.name ?? name;
  const precopy = (options.precopy ?? true)
    ? await precopyRound(app, agent, headers, { name: newName, work, timeoutMs })
    : undefined;
  try {
    const migration = await frozenRound(
      app,
      agent,
      headers,
      { ...options, work, timeoutMs },
      precopy,
    );
    return {
      ...migration,
      precopyBytes: precopy?.bytes ?? 0,
      precopyFrozenMs: precopy?.frozenMs ?? 0,
    };
  } catch (cause) {
    if (precopy) await dropKept(agent, options.token, precopy.image);
    throw cause;
  } finally {
    if (precopy) await Deno.remove(precopy.index, { recursive: true }).catch(() => {});
  }
}

/**
 * The frozen round: the application is held while its image (with pre-copy: only what changed
 * since `precopy`) goes to the target, which restores it held; then the hand-off commits
 * (docs/migration.md): recorded here, the original ended, the target's copy released.
 */
async function frozenRound(
  app: App,
  agent: string,
  headers: Record<string, string>,
  options: MigrateOptions & { work: string; timeoutMs: number },
  precopy: Precopy | undefined,
): Promise<Omit<Migration, "precopyBytes" | "precopyFrozenMs">> {
  const { name } = app;
  const { work, timeoutMs, token } = options;
  const outcome: Outcome = {
    migration: randomHex(16),
    agent,
    appId: app.id,
    name: options.name ?? name,
    state: "prepared",
  };
  const url = new URL("/v1/restore", agent);
  url.searchParams.set("name", outcome.name);
  url.searchParams.set("replaces", app.id);
  url.searchParams.set("migration", outcome.migration);
  if (precopy) url.searchParams.set("parent", precopy.image);
  // Before anything goes out: a retry after a crash tells the target to end what it holds.
  await recordOutcome(name, outcome);
  let upload: Upload;
  try {
    upload = await Upload.start(url, headers, timeoutMs);
  } catch (cause) {
    await abandon(name, outcome, token);
    throw new MigrationError(`Cannot migrate '${name}': ${message(cause)}`, { cause });
  }
  const started = performance.now();
  let sent;
  try {
    sent = await streamSnapshot(app, upload, { work, timeoutMs, parentDir: precopy?.index });
  } catch (cause) {
    await abandon(name, outcome, token);
    // A snapshot's own failure says that the application keeps running: said once.
    const why = message(cause).replace(/; it keeps running$/, "");
    throw new MigrationError(`Cannot migrate '${name}': ${why}; it runs on here`, { cause });
  }
  let answer;
  try {
    answer = answered(agent, await upload.finish(), Answer, "could not restore the image");
  } catch (cause) {
    try {
      await abandon(name, outcome, token);
    } catch (resumeError) {
      throw new MigrationError(
        `Cannot migrate '${name}': ${message(cause)}; and it could not be resumed here: ` +
          message(resumeError),
        { cause },
      );
    }
    throw new MigrationError(`Cannot migrate '${name}': ${message(cause)}; it runs on here`, {
      cause,
    });
  }
  await pauseAt("confirmed");
  // The commit point: from here the original never runs again, even if this process dies.
  disownHeld(app);
  const committed: Outcome = {
    ...outcome,
    state: "committed",
    id: answer.id,
    agentName: answer.agent,
  };
  try {
    await recordOutcome(name, committed);
  } catch (cause) {
    await abandon(name, outcome, token, { afterCommitWrite: true });
    throw new MigrationError(
      `Cannot migrate '${name}': the hand-off could not be recorded: ${message(cause)}; it runs ` +
        `on here`,
      { cause },
    );
  }
  await pauseAt("committed");
  const unfinished = (what: string, cause: unknown) =>
    new MigrationError(
      `'${name}' is handed to agent '${answer.agent}' as '${answer.name}' (committed), but ${what}: ` +
        `${message(cause)}; run the migration again to finish it`,
      { cause },
    );
  try {
    await endOriginal(name, committed);
  } catch (cause) {
    if (!(cause instanceof AmberError)) throw cause;
    throw unfinished("the original here could not be ended", cause);
  }
  await pauseAt("ended");
  try {
    await commitTarget(committed, token);
  } catch (cause) {
    throw unfinished("the agent did not confirm the release of its copy", cause);
  }
  const frozenMs = performance.now() - started;
  await forgetOutcome(name);
  return { ...answer, frozenMs, frozenBytes: sent.bytes };
}
