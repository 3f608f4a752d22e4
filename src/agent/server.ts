/**
 * The agent: one per computer, an authenticated HTTP API (served by front.ts, which bounds what
 * a peer may take: limits.ts) for work that crosses computers. It receives streamed images and restores them, answers for the VNE registry, and,
 * given etcd, mirrors the VNE registry between computers (see mirror.ts).
 *
 * ```
 * GET    /v1/health                        {"name","version"}
 * GET    /v1/vnes                          the VNEs this computer knows (listVnes)
 * POST   /v1/vnes  {"name","subnet"}       create a VNE
 * DELETE /v1/vnes/<name>                   remove a VNE (refused while in use)
 * POST   /v1/restore?name=N&replaces=ID    body: an image stream (stream.ts, either version,
 *        [&parent=IMAGE]                   usually chunked); restores it, detached; with
 *                                          parent, a stream of changed pages on top of IMAGE
 * POST   /v1/images?name=N                 body: a version 2 image stream (a migration's
 *                                          pre-copy round); kept, not restored: {"image"}
 * DELETE /v1/images/<image>                drops a kept image
 * POST   /v1/restore?...&migration=M       as above, restored held for migration M: it runs
 *                                          only once the source commits (docs/migration.md)
 * POST   /v1/migrations/<M>/commit         releases M's held copy {"name","id","agent"}
 * DELETE /v1/migrations/<M>                ends M's held copy (refused, 409, once committed)
 * ```
 *
 * A kept image serves one restore as its parent, and is removed with it (whether it succeeds or
 * fails): a lazily restored application maps its pages, which stay valid once the files are
 * gone. What a stopped agent left half-received is removed when the next one starts.
 *
 * Every request needs `Authorization: Bearer <token>`; answers are JSON, errors
 * `{"error": "..."}` with a 4xx or 5xx status.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { isDomainError } from "../errors.ts";
import { randomHex } from "../names.ts";
import { stateDir } from "../paths.ts";
import { restore } from "../restore.ts";
import { sharedVpidsWarning, sharingVpids } from "../vpid_range.ts";
import { completeStreamedImage } from "../migrate/incoming.ts";
import { unpackImage } from "../migrate/stream.ts";
import { formatIp, parseIp } from "../vne/address.ts";
import { VneError, VneInUseError } from "../vne/errors.ts";
import { checkVneName, createVne, listVnes, removeVne } from "../vne/registry.ts";
import { authorized } from "./auth.ts";
import { Etcd } from "./etcd.ts";
import { Mirror } from "./mirror.ts";
import {
  HandOffCommittedError,
  HandOffGoneError,
  HandOffPendingError,
  HandOffs,
  MigrationId,
} from "./handoff.ts";
import { Unsettled } from "./unsettled.ts";
import { NameOwnedError } from "./app_owners.ts";
import { Ownership } from "./lease.ts";
import type { App } from "../app.ts";
import { pauseAt } from "../migrate/faults.ts";
import { transport, type TransportOptions } from "./transport.ts";
import { serveFront } from "./front.ts";
import { type AgentLimits, resolveLimits } from "./limits.ts";

/** How an agent runs. */
export interface AgentOptions extends TransportOptions {
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
  /** Caps on connections and deadlines for requests; see {@linkcode AgentLimits}. */
  limits?: AgentLimits;
}

/** A running agent. */
export interface Agent {
  /** The address it listens on. */
  addr: Deno.NetAddr;
  /** Resolves when it has stopped. */
  finished: Promise<void>;
}

const VneBody = z.object({ name: z.string(), subnet: z.string() });
const AppName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const ImageId = z.string().regex(/^[0-9a-f]{8,32}$/);
const RestoreQuery = z.object({
  name: AppName,
  replaces: z.string().regex(/^[0-9a-f]{0,32}$/).default(""),
  parent: ImageId.optional(),
  migration: MigrationId.optional(),
});
const KeepQuery = z.object({ name: AppName });

const VERSION = "1";

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function failure(error: unknown): Response {
  const message = error instanceof Error ? error.message : String(error);
  // The client's mistakes (bad JSON is a SyntaxError) are 400, not the agent's 500.
  if (
    error instanceof RangeError || error instanceof TypeError || error instanceof SyntaxError ||
    error instanceof z.ZodError
  ) {
    return json({ error: message }, 400);
  }
  if (error instanceof VneInUseError) return json({ error: message }, 409);
  if (error instanceof HandOffCommittedError) return json({ error: message }, 409);
  if (error instanceof NameOwnedError) return json({ error: message }, 409);
  if (error instanceof HandOffGoneError) return json({ error: message }, 410);
  if (error instanceof HandOffPendingError) return json({ error: message }, 503);
  if (error instanceof VneError) return json({ error: message }, 404);
  return json({ error: message }, isDomainError(error) ? 422 : 500);
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
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
export async function serveAgent(options: AgentOptions): Promise<Agent> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { hostname, port } = parseListen(options.listen);
  const limits = resolveLimits(options.limits);
  const tls = await transport(hostname, options);
  const name = options.name ?? Deno.hostname();
  const replaces = new Map<string, string>();
  let mirror: Mirror | undefined;
  let ownership: Ownership | undefined;
  if (options.etcd) {
    const advertise = parseIp(options.advertise ?? hostname);
    if (advertise === 0) {
      throw new RangeError(
        `Expected --advertise with an address other computers reach, found '${
          formatIp(advertise)
        }'`,
      );
    }
    const etcd = new Etcd(options.etcd);
    ownership = new Ownership(etcd, name, replaces, log);
    await ownership.load();
    const fenced = ownership;
    mirror = new Mirror({
      etcd,
      host: name,
      advertise,
      replaces,
      log,
      ownership,
      claimsNothing: (appId, app) => fenced.isFenced(appId) || handoffs.isHeld(appId, app),
      publishing: (appId, app) => fenced.handFirst(appId, app),
    });
    const published = mirror;
    ownership.publish = () => published.sync();
  }
  const appLog = join(stateDir(), "agent-apps.log");
  // Images are only ever on their way in here: what a stopped agent was receiving is dropped.
  await Deno.remove(join(stateDir(), "incoming"), { recursive: true }).catch(() => {});

  const incoming = join(stateDir(), "incoming");
  /** A released copy runs only once etcd gives it its virtual IP (lease.ts). */
  async function takeOver(app: App): Promise<void> {
    if (!mirror) return;
    let why = "etcd does not give it to this computer";
    // A few seconds: after a cut, the lease is taken again within a second.
    for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
      try {
        await mirror.sync();
        if (await mirror.owns(app.id)) return;
      } catch (cause) {
        why = cause instanceof Error ? cause.message : String(cause);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new HandOffPendingError(`'${app.name}' cannot take its virtual IP over yet: ${why}`);
  }
  const handoffs = new HandOffs(replaces, takeOver);
  const unsettled = new Unsettled(options.token, log);
  await handoffs.load();
  /** Where a kept image (a pre-copy round's) is. */
  const keptDir = (image: string) => join(incoming, `kept-${image}`);

  async function keep(request: Request, url: URL): Promise<Response> {
    const query = KeepQuery.parse(Object.fromEntries(url.searchParams));
    if (!request.body) return json({ error: "Expected an image stream as the request body" }, 400);
    await Deno.mkdir(incoming, { recursive: true, mode: 0o700 });
    const image = randomHex(8);
    const dir = keptDir(image);
    log(`Receiving '${query.name}' (pre-copy)`);
    try {
      const { version, received, trailers } = await unpackImage(request.body, dir);
      if (version !== 2) throw new RangeError("Expected a version 2 image stream to keep");
      await completeStreamedImage(dir, trailers);
      log(`Received '${query.name}' (pre-copy, ${received} bytes); kept as ${image}`);
      return json({ image });
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  async function receive(request: Request, url: URL): Promise<Response> {
    const query = RestoreQuery.parse(Object.fromEntries(url.searchParams));
    const parent = query.parent === undefined ? undefined : keptDir(query.parent);
    // With etcd, one application of a name at a time across the computers (app_owners.ts).
    const reserved = await ownership?.reserve(query.name, query.replaces);
    try {
      if (!request.body) {
        return json({ error: "Expected an image stream as the request body" }, 400);
      }
      if (parent !== undefined && !(await isDir(parent))) {
        return json({ error: `No kept image '${query.parent}' on this computer` }, 404);
      }
      return await receiveImage(request.body, query, parent);
    } finally {
      reserved?.done();
      if (parent !== undefined) await Deno.remove(parent, { recursive: true }).catch(() => {});
    }
  }

  async function receiveImage(
    body: ReadableStream<Uint8Array>,
    query: z.infer<typeof RestoreQuery>,
    parent: string | undefined,
  ): Promise<Response> {
    await Deno.mkdir(incoming, { recursive: true, mode: 0o700 });
    const dir = join(incoming, `${query.name}-${randomHex(8)}`);
    log(`Receiving '${query.name}'`);
    try {
      const { version, received, trailers } = await unpackImage(body, dir);
      if (version === 2) await completeStreamedImage(dir, trailers, parent);
      else if (parent !== undefined) throw new RangeError("Expected a version 2 image stream");
      log(`Received '${query.name}' (${received} bytes); restoring`);
      if (query.migration !== undefined) {
        await handoffs.restoring(query.migration, query.name, query.replaces);
      }
      // Lazily: the memory is mapped from the received image, read when first touched, so the
      // application runs again sooner (the mappings keep the files even once removed below).
      const app = await restore(dir, {
        name: query.name,
        detach: true,
        lazy: true,
        output: appLog,
        replaces: query.replaces,
        held: query.migration !== undefined,
      });
      // Its pids came with it: an application here with the same ones shares its pid-named files.
      const shared = sharingVpids([app.name]);
      if (shared.names.length) log(sharedVpidsWarning(shared.names, shared.base));
      if (query.migration !== undefined) {
        await handoffs.held(query.migration, app, query.replaces);
        log(`Restored '${app.name}' (${app.id}) held for migration ${query.migration}`);
        await pauseAt("prepared");
        return json({ name: app.name, id: app.id, agent: name });
      }
      if (query.replaces) replaces.set(app.id, query.replaces);
      await mirror?.sync();
      log(`Restored '${app.name}' (${app.id})`);
      return json({ name: app.name, id: app.id, agent: name });
    } catch (error) {
      // A restore that failed left nothing: its record goes too.
      if (query.migration !== undefined) await handoffs.abort(query.migration).catch(() => {});
      throw error;
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
      if (request.method === "POST" && path === "/v1/images") return await keep(request, url);
      const commit = /^\/v1\/migrations\/([^/]+)\/commit$/.exec(path);
      if (request.method === "POST" && commit) {
        const h = await handoffs.commit(MigrationId.parse(decodeURIComponent(commit[1])));
        // The periodic round publishes it if etcd is not reachable now: the commit stands.
        await mirror?.sync().catch((e) => log(`Mirror: ${e instanceof Error ? e.message : e}`));
        log(`Released '${h.name}' (${h.id}): migration ${h.migration} committed`);
        await pauseAt("released");
        return json({ name: h.name, id: h.id, agent: name });
      }
      const migration = /^\/v1\/migrations\/([^/]+)$/.exec(path);
      if (request.method === "DELETE" && migration) {
        const id = MigrationId.parse(decodeURIComponent(migration[1]));
        await handoffs.abort(id);
        log(`Migration ${id} aborted`);
        return json({ aborted: id });
      }
      const kept = /^\/v1\/images\/([^/]+)$/.exec(path);
      if (request.method === "DELETE" && kept) {
        const image = ImageId.parse(decodeURIComponent(kept[1]));
        await Deno.remove(keptDir(image), { recursive: true }).catch(() => {});
        return json({ removed: image });
      }
      return json({ error: `No such endpoint: ${request.method} ${path}` }, 404);
    } catch (error) {
      log(`${request.method} ${path} failed: ${error instanceof Error ? error.message : error}`);
      return failure(error);
    }
  }

  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let syncing = false;
    let releasedAt = 0;
    let releasing = false;
    const tick = async () => {
      if (!releasing && Date.now() - releasedAt > 1_000) {
        releasedAt = Date.now();
        releasing = true;
        Promise.all([handoffs.releasePending(), unsettled.tick()])
          .catch((e) => log(`Hand-offs: ${e instanceof Error ? e.message : e}`))
          .finally(() => releasing = false);
      }
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
      const server = serveFront({
        hostname,
        port,
        tls: "cert" in tls ? tls : undefined,
        limits,
        // An image stream is as large as the application's memory: bounded by the disk.
        bodyLimit: (method, path) =>
          method === "POST" && (path === "/v1/restore" || path === "/v1/images")
            ? Number.MAX_SAFE_INTEGER
            : limits.maxBodyBytes,
        signal: options.signal,
        log,
      }, handle);
      options.signal?.addEventListener("abort", () => clearTimeout(timer));
      ownership?.start(options.signal);
      tick();
      log(
        `Agent '${name}' listening on ${options.listen}` +
          (options.etcd ? `, registry ${options.etcd}` : ""),
      );
      resolve({ addr: server.addr, finished: server.finished });
    } catch (error) {
      reject(error);
    }
  });
}
