/**
 * Sending an image stream to an agent: one HTTP/1.1 POST with a Content-Length, written
 * straight to a TCP connection with Nagle's algorithm off. (A streamed `fetch` body goes out
 * in chunked encoding, whose small writes meet delayed acknowledgements on a real link and
 * stall for tens of milliseconds per chunk.) Only `http://` agents for now.
 *
 * @module
 */

import { AgentError } from "../vne/errors.ts";
import type { PackedImage } from "./stream.ts";

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

/** POSTs `image` to `url` with these headers; rejects after `timeoutMs`. */
export async function upload(
  url: URL,
  image: PackedImage,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Reply> {
  if (url.protocol !== "http:") {
    throw new RangeError(`Unsupported agent URL '${url.href}': expected http://HOST:PORT`);
  }
  const conn = await Deno.connect({
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || 80),
  });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    conn.setNoDelay(true);
    const lines = [
      `POST ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      `Content-Length: ${image.length}`,
      "Connection: close",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    for await (const frame of image.frames()) await writeAll(conn, frame);
    return await readReply(conn);
  } catch (cause) {
    throw new AgentError(
      `Cannot send the image to agent '${url.origin}': ${
        cause instanceof Error ? cause.message : cause
      }`,
      0,
      { cause },
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}
