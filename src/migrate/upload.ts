/**
 * Sending an image stream to an agent while it is being made: one HTTP/1.1 POST whose body
 * goes out in chunked transfer encoding, written straight to a TCP connection with Nagle's
 * algorithm off. Each frame of the stream is one HTTP chunk, written as two writes: a small one
 * (the end of the chunk before, this chunk's size and the frame's header) and the frame's bytes
 * as they are, never copied. (A streamed `fetch` body cuts its chunks as it likes, and its small
 * writes meet delayed acknowledgements on a real link, stalling for tens of milliseconds per
 * chunk.) Only `http://` agents for now.
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

/**
 * One POST of a body made as it goes. {@linkcode Upload.send} writes one chunk (calls are
 * serialized); {@linkcode Upload.finish} ends the body and waits for the answer;
 * {@linkcode Upload.abort} drops the connection, so that the agent sees the body end early.
 */
export class Upload {
  #conn: Deno.TcpConn;
  #origin: string;
  #timer: ReturnType<typeof setTimeout>;
  #queue: Promise<void> = Promise.resolve();
  #chunks = 0;
  #failure: AgentError | undefined;
  #closed = false;

  private constructor(conn: Deno.TcpConn, origin: string, timeoutMs: number) {
    this.#conn = conn;
    this.#origin = origin;
    this.#timer = setTimeout(() => this.#fail(new Error(`it took longer than ${timeoutMs} ms`)), timeoutMs);
  }

  /** Connects to `url` and sends the request's head; the whole upload must end within `timeoutMs`. */
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
    await upload.#write([encoder.encode(lines.join("\r\n") + "\r\n\r\n")]);
    return upload;
  }

  /** Sends `parts`, in order, as one chunk of the body. */
  send(parts: Uint8Array[]): Promise<void> {
    const length = parts.reduce((sum, p) => sum + p.length, 0);
    if (length === 0) return this.#queue;
    const head = `${this.#chunks++ ? "\r\n" : ""}${length.toString(16)}\r\n`;
    const [first, ...rest] = parts;
    const lead = new Uint8Array(head.length + first.length);
    lead.set(encoder.encode(head));
    lead.set(first, head.length);
    return this.#write([lead, ...rest]);
  }

  /** Ends the body and waits for the agent's answer. */
  async finish(): Promise<Reply> {
    await this.#write([encoder.encode(`${this.#chunks ? "\r\n" : ""}0\r\n\r\n`)]);
    try {
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

  async #write(parts: Uint8Array[]): Promise<void> {
    const before = this.#queue;
    let done!: () => void;
    this.#queue = new Promise((resolve) => done = resolve);
    try {
      await before;
      if (this.#failure) throw this.#failure;
      for (const part of parts) await writeAll(this.#conn, part);
    } catch (cause) {
      throw this.#fail(cause);
    } finally {
      done();
    }
  }
}
