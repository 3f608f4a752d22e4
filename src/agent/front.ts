/**
 * The agent's front: its own TCP listener (TLS is relayed behind it: tls_relay.ts) and
 * HTTP/1.1 (http1.ts), so that it can bound what a peer takes before it is known to hold the
 * token.
 * `Deno.serve` keeps any number of connections, and waits as long as a peer likes for a head or
 * a body sent a byte at a time, so a few hundred idle sockets starved every other client.
 *
 * Here (limits.ts gives the numbers): connections are capped in all and per peer address, the
 * oldest idle one closed to make room (slots.ts); a connection has `headTimeoutMs` for its TLS
 * handshake and first request's head, `idleTimeoutMs` for each next one, and a body must keep a
 * pace (wire.ts); heads and bodies
 * have a largest size. A connection past a deadline is closed; a request over a size is answered
 * 431 or 413 and its connection closed. The handler sees a standard `Request` and returns a
 * `Response`, as with `Deno.serve`; answers are small (JSON) and are sent whole, with a
 * `Content-Length`.
 *
 * @module
 */

import { readBody } from "./body.ts";
import { answerHead, errorAnswer, type Head, HttpError, parseHead } from "./http1.ts";
import type { AgentLimits } from "./limits.ts";
import { type Slot, Slots } from "./slots.ts";
import { TlsRelay } from "./tls_relay.ts";
import { Pacer, Wire } from "./wire.ts";

/** Where and how the front listens. */
export interface FrontOptions {
  hostname: string;
  port: number;
  /** PEM certificate and key, for TLS. */
  tls?: { cert: string; key: string };
  limits: Required<AgentLimits>;
  /** The largest body a request to `path` with `method` may have. */
  bodyLimit: (method: string, path: string) => number;
  /** Stops accepting, closes idle connections, lets requests in progress end. */
  signal?: AbortSignal;
  log: (line: string) => void;
}

/** A running front. */
export interface Front {
  addr: Deno.NetAddr;
  /** Resolves once the listener is closed and every request is answered. */
  finished: Promise<void>;
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
/** How often, at most, the front reports the connections it closed. */
const REPORT_MS = 10_000;

/** Serves `handler` on a listener of its own; see the module's documentation. */
export function serveFront(
  options: FrontOptions,
  handler: (request: Request) => Promise<Response>,
): Front {
  const { limits, log } = options;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const relay = options.tls ? new TlsRelay(options.tls.cert, options.tls.key) : undefined;
  const scheme = options.tls ? "https" : "http";
  const slots = new Slots(limits.maxConnections, limits.maxConnectionsPerPeer);
  const running = new Set<Promise<void>>();
  const closed = { refused: 0, evicted: 0, slow: 0 };
  let reportedAt = 0;
  let stopped = options.signal?.aborted ?? false;

  /** Counts a connection closed by a limit; says how many, at most every REPORT_MS. */
  function count(why: keyof typeof closed): void {
    closed[why]++;
    if (Date.now() - reportedAt < REPORT_MS) return;
    reportedAt = Date.now();
    log(
      `Closed connections: ${closed.refused} refused and ${closed.evicted} idle ones closed ` +
        `(caps ${limits.maxConnections}, ${limits.maxConnectionsPerPeer} per peer), ` +
        `${closed.slow} idle or slow past their deadline`,
    );
    closed.refused = closed.evicted = closed.slow = 0;
  }

  /** Writes `data` within headTimeoutMs, or closes: a peer that does not read holds nothing. */
  async function send(conn: Deno.Conn, data: Uint8Array, close: () => void): Promise<void> {
    const timer = setTimeout(close, limits.headTimeoutMs);
    try {
      for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    } finally {
      clearTimeout(timer);
    }
  }

  async function request(
    conn: Deno.Conn,
    wire: Wire,
    head: Head,
    isClosed: () => boolean,
    close: () => void,
  ): Promise<boolean> {
    const path = head.target.replace(/\?.*$/, "");
    const bodyless = head.method === "GET" || head.method === "HEAD";
    if (bodyless && head.length !== 0) {
      throw new HttpError(400, `Expected no body with ${head.method}`);
    }
    const body = head.length === 0 ? undefined : readBody(
      wire,
      head,
      options.bodyLimit(head.method, path),
      limits.maxHeadBytes,
      async () => {
        if (head.expectContinue) await send(conn, CONTINUE, close);
      },
    );
    let incoming: Request;
    try {
      incoming = new Request(`${scheme}://agent${head.target}`, {
        method: head.method,
        headers: head.headers,
        body: body?.stream,
      });
    } catch (error) {
      throw new HttpError(
        400,
        `Invalid request: ${error instanceof Error ? error.message : error}`,
      );
    }
    let response: Response;
    wire.pacer = new Pacer(limits.bodyWindowMs, limits.bodyMinBytes, () => {
      count("slow");
      close();
    });
    try {
      response = await handler(incoming);
    } catch (error) {
      response = new Response(
        JSON.stringify({ error: error instanceof Error ? error.message : String(error) }),
        { status: 500, headers: { "content-type": "application/json" } },
      );
    } finally {
      wire.pacer = undefined;
    }
    if (body?.failure) throw body.failure;
    const payload = new Uint8Array(await response.arrayBuffer());
    // A refused request (a peer without the token) keeps no connection.
    const keep = head.keepAlive && (body?.done ?? true) && !stopped && response.status < 400;
    if (isClosed()) return false;
    const answer = answerHead(response.status, response.headers, payload.length, !keep);
    await send(conn, answer, close);
    if (head.method !== "HEAD") await send(conn, payload, close);
    return keep;
  }

  /** Serves the requests on `conn`; `end` closes it once done (a relay lets its bytes out). */
  async function serve(
    conn: Deno.Conn,
    slot: Slot,
    isClosed: () => boolean,
    end: () => void,
  ): Promise<void> {
    const wire = new Wire(conn);
    try {
      for (let first = true;; first = false) {
        slot.busy = wire.buffered;
        if (stopped && !slot.busy) return;
        // The first deadline includes the TLS handshake, which the first read makes.
        const timer = setTimeout(() => {
          count("slow");
          slot.close();
        }, first ? limits.headTimeoutMs : limits.idleTimeoutMs);
        let head: Head;
        try {
          const bytes = await wire.until("\r\n\r\n", limits.maxHeadBytes, 431);
          if (bytes === null) return;
          slot.busy = true;
          head = parseHead(bytes);
        } finally {
          clearTimeout(timer);
        }
        if (!(await request(conn, wire, head, isClosed, slot.close))) return;
      }
    } catch (error) {
      if (error instanceof HttpError && !isClosed()) {
        await send(conn, errorAnswer(error.status, error.message), slot.close).catch(() => {});
      }
    } finally {
      end();
      slots.release(slot);
    }
  }

  /** Serves one accepted connection, relayed to TLS when the agent serves TLS. */
  async function connection(
    conn: Deno.TcpConn,
    slot: Slot,
    closers: (() => void)[],
    isClosed: () => boolean,
  ) {
    if (!relay) return await serve(conn, slot, isClosed, slot.close);
    const relayed = await relay.open(conn, closers, slot.close);
    if (!relayed || isClosed()) {
      // Closed meanwhile (made room for another): the relay's ends opened since go too.
      slot.close();
      slots.release(slot);
      return;
    }
    const { tls, done } = relayed;
    await serve(tls, slot, isClosed, () => {
      try {
        tls.close();
      } catch {
        // Closed already.
      }
    });
    await done;
  }

  async function accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopped || error instanceof Deno.errors.BadResource) return;
        // Out of descriptors, or a peer gone before its accept: the listener goes on.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      // Every end of the connection (its relay's too); each run once, at the first close or
      // (an end opened after it) at the next.
      const closers: (() => void)[] = [() => conn.close()];
      let closed = false;
      const close = () => {
        closed = true;
        for (const c of closers.splice(0)) {
          try {
            c();
          } catch {
            // Closed already.
          }
        }
      };
      const peer = conn.remoteAddr.hostname;
      const slot = slots.admit(peer, close, () => count("evicted"));
      if (!slot || stopped) {
        close();
        count("refused");
        continue;
      }
      conn.setNoDelay(true);
      const done = connection(conn, slot, closers, () => closed).finally(() =>
        running.delete(done)
      );
      running.add(done);
    }
  }

  const accepting = accept();
  options.signal?.addEventListener("abort", () => {
    stopped = true;
    try {
      listener.close();
    } catch {
      // Closed already.
    }
    for (const slot of slots.all()) if (!slot.busy) slot.close();
  }, { once: true });
  if (stopped) listener.close();
  const finished = (async () => {
    await accepting;
    await relay?.close();
    while (running.size > 0) await Promise.allSettled([...running]);
  })();
  return { addr: listener.addr as Deno.NetAddr, finished };
}
