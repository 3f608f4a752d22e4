/**
 * A peer without the token cannot starve the agent: a flood of idle connections is closed past
 * the caps, a head or a body sent a byte at a time is closed at its deadline, oversized heads
 * and bodies are refused, and all the while an authorized request is answered in time.
 */

import assert from "node:assert/strict";
import { serveAgent } from "../src/agent/server.ts";
import type { AgentLimits } from "../src/agent/limits.ts";
import { bearer } from "../src/agent/auth.ts";
import { limitedTest, sleep } from "./support.ts";
import net from "node:net";

const TOKEN = "0123456789abcdef-flood";
const encoder = new TextEncoder();

/** A socket of the test's, and when the agent closed it (its read ended). */
interface Peer {
  conn?: Deno.TcpConn;
  /** A connection from another address of loopback's. */
  socket?: net.Socket;
  /** Resolves with the time the agent closed the connection, and what it sent before. */
  closed: Promise<{ at: number; text: string }>;
  isClosed: boolean;
  /** What the agent sent so far. */
  text: string;
}

/** An agent on 127.0.0.1 and the sockets a test opens to it; all closed when disposed. */
class Bench implements AsyncDisposable {
  readonly peers: Peer[] = [];
  readonly client = Deno.createHttpClient({});
  #stop = new AbortController();
  #agent: Awaited<ReturnType<typeof serveAgent>>;
  #stopped = false;

  private constructor(agent: Awaited<ReturnType<typeof serveAgent>>, stop: AbortController) {
    this.#agent = agent;
    this.#stop = stop;
  }

  static async start(limits: AgentLimits): Promise<Bench> {
    const stop = new AbortController();
    const agent = await serveAgent({
      listen: "127.0.0.1:0",
      token: TOKEN,
      signal: stop.signal,
      log: () => {},
      limits,
    });
    return new Bench(agent, stop);
  }

  get base(): string {
    return `http://127.0.0.1:${this.#agent.addr.port}`;
  }

  /** Opens a connection that watches for the agent closing it. */
  async connect(): Promise<Peer & { conn: Deno.TcpConn }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#agent.addr.port });
    const peer: Peer & { conn: Deno.TcpConn } = {
      conn,
      closed: Promise.resolve({ at: 0, text: "" }),
      isClosed: false,
      text: "",
    };
    peer.closed = (async () => {
      const buf = new Uint8Array(4096);
      let text = "";
      try {
        for (let n; (n = await conn.read(buf)) !== null;) {
          text += new TextDecoder().decode(buf.subarray(0, n));
          peer.text = text;
        }
      } catch {
        // Reset by the agent, or closed by the test.
      }
      peer.isClosed = true;
      return { at: Date.now(), text };
    })();
    this.peers.push(peer);
    return peer;
  }

  /** Opens an idle connection from `address` (another of loopback's), watched as above. */
  async connectFrom(address: string): Promise<Peer> {
    const socket = net.connect({
      host: "127.0.0.1",
      port: this.#agent.addr.port,
      localAddress: address,
    });
    await new Promise<void>((resolve, reject) =>
      socket.once("connect", resolve).once("error", reject)
    );
    const peer: Peer = {
      conn: undefined,
      socket,
      closed: Promise.resolve({ at: 0, text: "" }),
      isClosed: false,
      text: "",
    };
    peer.closed = new Promise((resolve) => {
      socket.on("error", () => {});
      socket.once("close", () => {
        peer.isClosed = true;
        resolve({ at: Date.now(), text: "" });
      });
    });
    this.peers.push(peer);
    return peer;
  }

  /** An authorized request, answered within `ms`. */
  async call(path: string, ms = 5_000): Promise<Response> {
    const response = await fetch(`${this.base}${path}`, {
      client: this.client,
      headers: bearer(TOKEN),
      signal: AbortSignal.timeout(ms),
    });
    await response.body?.cancel();
    return response;
  }

  /** Stops the agent and waits for it, within `ms`. */
  async stop(ms = 10_000): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#agent.finished,
      new Promise((_, reject) => timer = setTimeout(() => reject(new Error("agent hung")), ms)),
    ]).finally(() => clearTimeout(timer));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const peer of this.peers) {
      peer.socket?.destroy();
      try {
        peer.conn?.close();
      } catch {
        // Closed already.
      }
    }
    await Promise.allSettled(this.peers.map((p) => p.closed));
    if (!this.#stopped) await this.stop().catch(() => {});
    this.client.close();
  }
}

/** Sends `text` a byte every `everyMs` until the connection fails; resolves with bytes sent. */
async function trickle(conn: Deno.Conn, text: string, everyMs: number): Promise<number> {
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i++) {
    try {
      await conn.write(bytes.subarray(i, i + 1));
    } catch {
      return i;
    }
    await sleep(everyMs);
  }
  return bytes.length;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !ok();) {
    if (Date.now() > deadline) throw new Error(`Expected ${what} within ${ms} ms`);
    await sleep(20);
  }
}

limitedTest(
  "a flood of idle connections is closed past the caps while authorized requests are answered",
  () => Bench.start({ maxConnections: 300, maxConnectionsPerPeer: 100, headTimeoutMs: 60_000 }),
  async (bench) => {
    const FLOOD = 800;
    for (let i = 0; i < FLOOD; i++) await bench.connect();
    // The head deadline is a minute away: only the caps can have closed them.
    const health = await bench.call("/v1/health");
    assert.equal(health.status, 200);
    assert.equal((await bench.call("/v1/vnes")).status, 200);
    await until(
      "all but the per-peer cap of the flood closed by the agent",
      () => bench.peers.filter((p) => !p.isClosed).length <= 100,
      10_000,
    );
    // Those left are the newest: the oldest were closed first.
    assert.ok(bench.peers.slice(0, FLOOD - 100).every((p) => p.isClosed));
    // Stopping closes the idle ones left.
    await bench.stop();
    await until("every flood connection closed", () => bench.peers.every((p) => p.isClosed), 5_000);
  },
  60_000,
);

limitedTest(
  "a flood from many addresses is closed past the overall cap while authorized requests are answered",
  () => Bench.start({ maxConnections: 200, maxConnectionsPerPeer: 100, headTimeoutMs: 60_000 }),
  async (bench) => {
    // Four peers, each within its own cap: only the overall one can close their connections.
    for (let i = 0; i < 400; i++) await bench.connectFrom(`127.0.0.${2 + (i % 4)}`);
    assert.equal((await bench.call("/v1/health")).status, 200);
    await until(
      "all but the overall cap of the flood closed by the agent",
      () => bench.peers.filter((p) => !p.isClosed).length < 200,
      10_000,
    );
    assert.ok(bench.peers.slice(0, 200).every((p) => p.isClosed), "the oldest closed first");
  },
  60_000,
);

limitedTest(
  "a head sent a byte at a time is closed at its deadline while authorized requests are answered",
  () => Bench.start({ headTimeoutMs: 1_000 }),
  async (bench) => {
    const start = Date.now();
    const loris = await bench.connect();
    const head = `GET /v1/health HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    const sent = trickle(loris.conn, head, 100);
    const idle = await Promise.all(Array.from({ length: 50 }, () => bench.connect()));
    for (let i = 0; i < 3; i++) {
      assert.equal((await bench.call("/v1/health")).status, 200);
      await sleep(100);
    }
    const closed = await loris.closed;
    assert.ok(closed.at - start >= 1_000, "not before its deadline");
    assert.ok(closed.at - start < 6_000, `closed ${closed.at - start} ms after it opened`);
    assert.ok((await sent) < head.length, "the agent did not wait for the whole head");
    assert.equal(closed.text, "", "a head never completed gets no answer");
    await Promise.all(idle.map((p) => p.closed));
    assert.ok(idle.every((p) => p.isClosed), "idle connections are closed at the deadline");

    // After an authorized request's answer, the next may come later than the first head's
    // deadline (idleTimeoutMs): a client's pooled connection is not closed under it.
    const kept = await bench.connect();
    const get = `GET /v1/health HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    await kept.conn.write(encoder.encode(get));
    await until("the first answer", () => /^HTTP\/1\.1 200 /.test(kept.text), 5_000);
    await sleep(1_500);
    assert.ok(!kept.isClosed, "a kept-alive connection waits longer than a first head");
    await kept.conn.write(encoder.encode(get));
    await until(
      "the second answer",
      () => kept.text.match(/HTTP\/1\.1 200 /g)?.length === 2,
      5_000,
    );
  },
  30_000,
);

limitedTest(
  "a body sent slower than its pace is closed while authorized requests are answered",
  () => Bench.start({ bodyWindowMs: 1_000, bodyMinBytes: 1024 }),
  async (bench) => {
    const slow = await bench.connect();
    const body = JSON.stringify({ name: "slow", subnet: "10.9.0.0/24" }).padEnd(2000, " ");
    await slow.conn.write(encoder.encode(
      `POST /v1/vnes HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    ));
    const start = Date.now();
    // 20 bytes a second: the whole body would take 100 s.
    const sent = trickle(slow.conn, body, 50);
    for (let i = 0; i < 3; i++) {
      assert.equal((await bench.call("/v1/vnes")).status, 200);
      await sleep(200);
    }
    const closed = await slow.closed;
    assert.ok(closed.at - start >= 1_000, "not before a window is over");
    assert.ok(closed.at - start < 6_000, `closed ${closed.at - start} ms after its head`);
    assert.ok((await sent) < body.length, "the agent did not wait for the whole body");
    assert.doesNotMatch(closed.text, /^HTTP\/1\.1 20/, "the request was not served");
  },
  30_000,
);

limitedTest(
  "heads and bodies over their size and ambiguous framing are refused at once",
  () => Bench.start({ maxHeadBytes: 4096, maxBodyBytes: 1 << 16 }),
  async (bench) => {
    const auth = `Host: agent\r\nAuthorization: Bearer ${TOKEN}\r\n`;
    const cases: [string, RegExp][] = [
      [`GET /v1/health HTTP/1.1\r\n${auth}X-Pad: ${"a".repeat(8192)}\r\n\r\n`, / 431 /],
      [`POST /v1/vnes HTTP/1.1\r\n${auth}Content-Length: ${1 << 20}\r\n\r\n`, / 413 /],
      [
        `POST /v1/vnes HTTP/1.1\r\n${auth}Transfer-Encoding: chunked\r\n\r\n` +
        `20000\r\n${"a".repeat(0x20000)}\r\n0\r\n\r\n`,
        / 413 /,
      ],
      [
        `POST /v1/vnes HTTP/1.1\r\n${auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n`,
        / 400 /,
      ],
      [`GET /v1/health HTTP/1.1\n${auth}\r\n`, / 400 /],
      [`GET http://x/v1/health HTTP/1.1\r\n${auth}\r\n`, / 400 /],
      [`GET /v1/health HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`, / 400 /],
      [`GET /v1/health HTTP/1.1\r\nHost: agent\r\n\r\n`, / 401 /],
      [`TRACE /v1/health HTTP/1.1\r\n${auth}\r\n`, / 400 /],
    ];
    for (const [request, status] of cases) {
      const peer = await bench.connect();
      await peer.conn.write(encoder.encode(request)).catch(() => 0);
      const { text } = await peer.closed;
      assert.match(text.split("\r\n")[0], status, JSON.stringify(request.slice(0, 60)));
    }
    // A well-formed one on a kept-alive connection, twice.
    const peer = await bench.connect();
    const get = `GET /v1/health HTTP/1.1\r\n${auth}\r\n`;
    await peer.conn.write(
      encoder.encode(get + get.replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n")),
    );
    const { text } = await peer.closed;
    assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2, text);
  },
  30_000,
);
