/**
 * Sending an image stream to an agent while it is being made: one HTTP/1.1 POST whose body
 * goes out in chunked transfer encoding, in large chunks (see {@linkcode Upload}), written
 * straight to a TCP connection with Nagle's algorithm off. (A streamed `fetch` body cuts its
 * chunks as it likes, and its small writes meet delayed acknowledgements on a real link,
 * stalling for tens of milliseconds per chunk.) Only `http://` agents for now.
 *
 * @module
 */

import { AgentError } from "../vne/errors.ts";

/** An agent's answer: its status and body. */
export interface Reply {
  status: number;
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

async function readReply(conn: Deno.Conn): Promise<Reply> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
    const text = decoder.decode(concat(parts, total));
    const headEnd = text.indexOf("\r\n\r\n");
    if (headEnd < 0) continue;
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
    if (length && encoder.encode(text.slice(headEnd + 4)).length >= Number(length[1])) break;
  }
  const text = decoder.decode(concat(parts, total));
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m) throw new AgentError(`The agent's answer is not HTTP: '${text.slice(0, 100)}'`, 0);
  const headEnd = text.indexOf("\r\n\r\n");
  return { status: Number(m[1]), body: headEnd < 0 ? "" : text.slice(headEnd + 4) };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) out.set(p, off), off += p.length;
  return out;
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** How much of the body goes out as one HTTP chunk: see {@linkcode Upload}. */
const BATCH = 16 << 20;

/**
 * One POST of a body made as it goes. {@linkcode Upload.send} adds bytes to the body (calls
 * are serialized); {@linkcode Upload.finish} ends it and waits for the answer;
 * {@linkcode Upload.abort} drops the connection, so that the agent sees the body end early.
 *
 * The body goes out in HTTP chunks of 16 MiB, gathered in one buffer while the one before is
 * being written (two buffers at most). Chunk boundaries are costly: when the agent reads the
 * body more slowly than the network brings it (it writes every byte to disk), its HTTP server
 * pauses for milliseconds at each one; with 1 MiB chunks, 512 MiB took 8 s instead of 1.4 s.
 */
export class Upload {
  #conn: Deno.TcpConn;
  #origin: string;
  #timer: ReturnType<typeof setTimeout>;
  #lock: Promise<void> = Promise.resolve();
  #current: Uint8Array = new Uint8Array(0);
  #spare: Uint8Array | undefined;
  #used = 0;
  #inFlight: Promise<void> = Promise.resolve();
  #failure: AgentError | undefined;
  #closed = false;

  private constructor(conn: Deno.TcpConn, origin: string, timeoutMs: number) {
    this.#conn = conn;
    this.#origin = origin;
    this.#timer = setTimeout(
      () => this.#fail(new Error(`it took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  }

  /** Connects to `url` and sends the request's head; the upload must end within `timeoutMs`. */
  static async start(
    url: URL,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Upload> {
    if (url.protocol !== "http:") {
      throw new RangeError(`Unsupported agent URL '${url.href}': expected http://HOST:PORT`);
    }
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || 80),
      });
    } catch (cause) {
      throw new AgentError(`Cannot reach agent '${url.origin}': ${message(cause)}`, 0, { cause });
    }
    const upload = new Upload(conn, url.origin, timeoutMs);
    conn.setNoDelay(true);
    const lines = [
      `POST ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Transfer-Encoding: chunked",
      "Connection: close",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    const head = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
    await upload.#serialized(() => writeAll(conn, head));
    return upload;
  }

  /** Adds `parts`, in order, to the body. */
  send(parts: Uint8Array[]): Promise<void> {
    return this.#serialized(async () => {
      for (const part of parts) {
        for (let off = 0; off < part.length;) {
          if (this.#current.length === 0) this.#current = new Uint8Array(BATCH);
          const n = Math.min(part.length - off, BATCH - this.#used);
          this.#current.set(part.subarray(off, off + n), this.#used);
          this.#used += n;
          off += n;
          if (this.#used === BATCH) await this.#flush();
        }
      }
    });
  }

  /** Ends the body and waits for the agent's answer. */
  async finish(): Promise<Reply> {
    try {
      await this.#serialized(async () => {
        await this.#flush();
        await this.#inFlight;
        await writeAll(this.#conn, encoder.encode("0\r\n\r\n"));
      });
      return await readReply(this.#conn);
    } catch (cause) {
      throw this.#fail(cause);
    } finally {
      this.abort();
    }
  }

  /** Drops the connection (idempotent). */
  abort(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  #fail(cause: unknown): AgentError {
    this.#failure ??= cause instanceof AgentError ? cause : new AgentError(
      `Cannot send the image to agent '${this.#origin}': ${message(cause)}`,
      0,
      { cause },
    );
    this.abort();
    return this.#failure;
  }

  /** Runs `write` once the writes before it are done; a failure fails every one after it. */
  async #serialized(write: () => Promise<void>): Promise<void> {
    const before = this.#lock;
    let done!: () => void;
    this.#lock = new Promise((resolve) => done = resolve);
    try {
      await before;
      if (this.#failure) throw this.#failure;
      await write();
    } catch (cause) {
      throw this.#fail(cause);
    } finally {
      done();
    }
  }

  /** Sends what was gathered as one chunk once the one before has gone; gathers in the other. */
  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    const data = this.#current.subarray(0, this.#used);
    await this.#inFlight; // the other buffer is free again
    const conn = this.#conn;
    this.#inFlight = (async () => {
      await writeAll(conn, encoder.encode(`${data.length.toString(16)}\r\n`));
      await writeAll(conn, data);
      await writeAll(conn, encoder.encode("\r\n"));
    })();
    this.#inFlight.catch(() => {}); // seen by the next flush, or by finish
    [this.#current, this.#spare] = [this.#spare ?? new Uint8Array(BATCH), this.#current];
    this.#used = 0;
  }
}
