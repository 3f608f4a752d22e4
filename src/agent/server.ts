/**
 * The agent: one per computer, an authenticated HTTP API (Deno.serve) for work that crosses
 * computers. It receives streamed images and restores them, answers for the VNE registry, and,
 * given etcd, mirrors the VNE registry between computers (see mirror.ts).
 *
 * ```
 * GET    /v1/health                        {"name","version"}
 * GET    /v1/vnes                          the VNEs this computer knows (listVnes)
 * POST   /v1/vnes  {"name","subnet"}       create a VNE
 * DELETE /v1/vnes/<name>                   remove a VNE (refused while in use)
 * POST   /v1/restore?name=N&replaces=ID    body: an image stream (stream.ts, either version,
 *                                          usually chunked); restores it, detached
 * ```
 *
 * Every request needs `Authorization: Bearer <token>`; answers are JSON, errors
 * `{"error": "..."}` with a 4xx or 5xx status.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import { AmberError } from "../errors.ts";
import { randomHex } from "../names.ts";
import { stateDir } from "../paths.ts";
import { restore } from "../restore.ts";
import { completeStreamedImage } from "../migrate/incoming.ts";
import { unpackImage } from "../migrate/stream.ts";
import { formatIp, parseIp } from "../vne/address.ts";
import { VneError, VneInUseError } from "../vne/errors.ts";
import { checkVneName, createVne, listVnes, removeVne } from "../vne/registry.ts";
import { authorized } from "./auth.ts";
import { Etcd } from "./etcd.ts";
import { Mirror } from "./mirror.ts";

/** How an agent runs. */
export interface AgentOptions {
  /** Where to listen: `HOST:PORT`. */
  listen: string;
  /** The shared token every request must carry. */
  token: string;
  /** The agent's name, as other computers see it; default: the machine's hostname. */
  name?: string;
  /** etcd's URL, for a VNE registry shared between computers. */
  etcd?: string;
  /** This computer's IPv4 address as other computers reach it; default: the listen host. */
  advertise?: string;
  /** How often the registry is mirrored, in ms; default 50. */
  mirrorMs?: number;
  /** Stops the agent. */
  signal?: AbortSignal;
  /** Where the agent reports what it does; default: stderr. */
  log?: (line: string) => void;
}

/** A running agent. */
export interface Agent {
  /** The address it listens on. */
  addr: Deno.NetAddr;
  /** Resolves when it has stopped. */
  finished: Promise<void>;
}

const VneBody = z.object({ name: z.string(), subnet: z.string() });
const RestoreQuery = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
  replaces: z.string().regex(/^[0-9a-f]{0,32}$/).default(""),
});

const VERSION = "1";

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function failure(error: unknown): Response {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError || error instanceof TypeError || error instanceof z.ZodError) {
    return json({ error: message }, 400);
  }
  if (error instanceof VneInUseError) return json({ error: message }, 409);
  if (error instanceof VneError) return json({ error: message }, 404);
  return json({ error: message }, error instanceof AmberError ? 422 : 500);
}

function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new RangeError(
      `Invalid listen address '${listen}': expected HOST:PORT, as 127.0.0.1:7070`,
    );
  }
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

/** Starts an agent; see {@linkcode AgentOptions}. */
export function serveAgent(options: AgentOptions): Promise<Agent> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { hostname, port } = parseListen(options.listen);
  const name = options.name ?? Deno.hostname();
  const replaces = new Map<string, string>();
  let mirror: Mirror | undefined;
  if (options.etcd) {
    const advertise = parseIp(options.advertise ?? hostname);
    if (advertise === 0) {
      throw new RangeError(
        `Expected --advertise with an address other computers reach, found '${
          formatIp(advertise)
        }'`,
      );
    }
    mirror = new Mirror({ etcd: new Etcd(options.etcd), host: name, advertise, replaces, log });
  }
  const appLog = join(stateDir(), "agent-apps.log");

  async function receive(request: Request, url: URL): Promise<Response> {
    const query = RestoreQuery.parse(Object.fromEntries(url.searchParams));
    if (!request.body) return json({ error: "Expected an image stream as the request body" }, 400);
    const incoming = join(stateDir(), "incoming");
    await Deno.mkdir(incoming, { recursive: true, mode: 0o700 });
    const dir = join(incoming, `${query.name}-${randomHex(8)}`);
    log(`Receiving '${query.name}'`);
    try {
      const { version, received, trailers } = await unpackImage(request.body, dir);
      if (version === 2) await completeStreamedImage(dir, trailers);
      log(`Received '${query.name}' (${received} bytes); restoring`);
      // Lazily: the memory is mapped from the received image, read when first touched, so the
      // application runs again sooner (the mappings keep the files even once removed below).
      const app = await restore(dir, {
        name: query.name,
        detach: true,
        lazy: true,
        output: appLog,
        replaces: query.replaces,
      });
      if (query.replaces) replaces.set(app.id, query.replaces);
      await mirror?.sync();
      log(`Restored '${app.name}' (${app.id})`);
      return json({ name: app.name, id: app.id, agent: name });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  async function handle(request: Request): Promise<Response> {
    if (!(await authorized(request, options.token))) {
      return json({ error: "Missing or wrong bearer token" }, 401);
    }
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      if (request.method === "GET" && path === "/v1/health") {
        return json({ name, version: VERSION });
      }
      if (request.method === "GET" && path === "/v1/vnes") return json(listVnes());
      if (request.method === "POST" && path === "/v1/vnes") {
        const body = VneBody.parse(await request.json());
        const created = createVne(body.name, body.subnet);
        await mirror?.sync();
        return json(created, 201);
      }
      const vne = /^\/v1\/vnes\/([^/]+)$/.exec(path);
      if (request.method === "DELETE" && vne) {
        const vneName = checkVneName(decodeURIComponent(vne[1]));
        removeVne(vneName);
        if (options.etcd) await new Etcd(options.etcd).delete(`/amber/vne/def/${vneName}`);
        return json({ removed: vneName });
      }
      if (request.method === "POST" && path === "/v1/restore") return await receive(request, url);
      return json({ error: `No such endpoint: ${request.method} ${path}` }, 404);
    } catch (error) {
      log(`${request.method} ${path} failed: ${error instanceof Error ? error.message : error}`);
      return failure(error);
    }
  }

  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let syncing = false;
    const tick = async () => {
      if (!syncing && mirror) {
        syncing = true;
        try {
          await mirror.sync();
        } catch (error) {
          log(`Mirror: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          syncing = false;
        }
      }
      if (!options.signal?.aborted) timer = setTimeout(tick, options.mirrorMs ?? 50);
    };
    try {
      const server = Deno.serve({
        hostname,
        port,
        signal: options.signal,
        onListen: () => {},
        onError: (error) => failure(error),
      }, handle);
      options.signal?.addEventListener("abort", () => clearTimeout(timer));
      if (mirror) tick();
      log(
        `Agent '${name}' listening on ${options.listen}` +
          (options.etcd ? `, registry ${options.etcd}` : ""),
      );
      resolve({ addr: server.addr as Deno.NetAddr, finished: server.finished });
    } catch (error) {
      reject(error);
    }
  });
}
