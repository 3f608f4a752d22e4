/**
 * {@linkcode migrate}: move a running application to another computer. The application is
 * frozen, and its image is streamed to the target computer's agent as its processes write it
 * (outgoing.ts: no whole copy of it on this computer); the agent restores it and takes its
 * virtual IP over; only once it runs there is the original ended. On any failure before that,
 * the original goes on exactly where it was frozen.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import { open } from "../apps.ts";
import { AmberError } from "../errors.ts";
import { stateDir } from "../paths.ts";
import { bearer } from "../agent/auth.ts";
import { AgentError, MigrationError } from "../vne/errors.ts";
import { openVneTable, prune } from "../vne/registry.ts";
import { resumeHeld } from "./hold.ts";
import { streamSnapshot } from "./outgoing.ts";
import { type Reply, Upload } from "./upload.ts";

/** Options for {@linkcode migrate}. */
export interface MigrateOptions {
  /** The target agent's shared token. */
  token: string;
  /** The application's name on the target; default: the same name. */
  name?: string;
  /** How long the whole migration may take, in ms; default 120 000. */
  timeoutMs?: number;
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
}

const Answer = z.object({ name: z.string(), id: z.string(), agent: z.string() });
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

/** The agent's answer to the image: where the application runs now; throws AgentError. */
function restored(agent: string, reply: Reply): z.infer<typeof Answer> {
  if (reply.status !== 200) {
    throw agentRefusal(agent, reply.status, reply.body, "could not restore the image");
  }
  let value: unknown;
  try {
    value = JSON.parse(reply.body);
  } catch {
    value = undefined;
  }
  const answer = Answer.safeParse(value);
  if (!answer.success) {
    throw new AgentError(
      `Agent '${agent}' answered with unexpected JSON: '${reply.body.slice(0, 300)}'`,
      reply.status,
    );
  }
  return answer.data;
}

/**
 * Moves the application `name` to the computer whose agent is at `agent` (a URL such as
 * `http://10.0.0.3:7070`). Its virtual IP goes with it; its listening sockets listen there;
 * established TCP connections are closed, and their clients reconnect to the same virtual
 * address. On failure the application runs on here and a {@linkcode MigrationError} says why.
 *
 * @example Drain this computer: move every application elsewhere
 * ```ts ignore
 * import { list, migrate } from "./mod.ts";
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
  const timeoutMs = options.timeoutMs ?? 120_000;
  const app = await open(name);
  const work = join(stateDir(), "outgoing");
  await Deno.mkdir(work, { recursive: true, mode: 0o700 });
  const url = new URL("/v1/restore", agent);
  url.searchParams.set("name", options.name ?? name);
  url.searchParams.set("replaces", app.id);
  const headers = {
    ...bearer(options.token),
    "content-type": "application/x-amber-image-stream",
  };
  let upload: Upload;
  try {
    await checkAgent(agent, options.token, timeoutMs);
    upload = await Upload.start(url, headers, timeoutMs);
  } catch (cause) {
    throw new MigrationError(`Cannot migrate '${name}': ${message(cause)}`, { cause });
  }
  const started = performance.now();
  try {
    await streamSnapshot(app, upload, { work, timeoutMs });
  } catch (cause) {
    // A snapshot's own failure says that the application keeps running: said once.
    const why = message(cause).replace(/; it keeps running$/, "");
    throw new MigrationError(`Cannot migrate '${name}': ${why}; it runs on here`, { cause });
  }
  let answer;
  try {
    answer = restored(agent, await upload.finish());
  } catch (cause) {
    try {
      resumeHeld(app);
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
  const frozenMs = performance.now() - started;
  try {
    await app.kill();
    using table = openVneTable();
    prune(table);
  } catch (cause) {
    if (!(cause instanceof AmberError)) throw cause;
    throw new MigrationError(
      `'${name}' runs on agent '${answer.agent}' as '${answer.name}', but the original here could ` +
        `not be ended: ${cause.message}`,
      { cause },
    );
  }
  return { ...answer, frozenMs };
}
