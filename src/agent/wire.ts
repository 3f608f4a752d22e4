/**
 * One connection's bytes as the agent reads them: a buffer of what came in ahead of its use
 * (the rest of a packet after a head), lines and heads up to a size, and, while a body comes
 * in, a pace it must keep ({@linkcode Pacer}): a peer that sends a byte now and then holds a
 * connection, and everything the agent keeps for it, for as long as it likes.
 *
 * @module
 */

import { HttpError } from "./http1.ts";

/** The most one read takes: a body's. */
const READ_SIZE = 1 << 20;
/** What reads of heads and lines take: an idle connection holds this much. */
const LINE_READ_SIZE = 16 << 10;

/**
 * The pace a body must keep: while the agent waits for it, each window of `windowMs` of
 * waiting must bring `minBytes`, or all that is left of the body. Only the time spent waiting
 * counts: while the agent writes what it read to disk, the peer is not the one that is slow.
 */
export class Pacer {
  #windowMs: number;
  #minBytes: number;
  #onSlow: () => void;
  #waited = 0;
  #bytes = 0;

  constructor(windowMs: number, minBytes: number, onSlow: () => void) {
    this.#windowMs = windowMs;
    this.#minBytes = minBytes;
    this.#onSlow = onSlow;
  }

  /** `read`, failed (and `onSlow` called) when the peer keeps below the pace; `left`: bytes to come, when known. */
  async read<T>(read: Promise<T>, left = Infinity): Promise<T> {
    read.catch(() => {}); // a read cut by onSlow rejects once no one waits for it
    for (;;) {
      const start = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"expired">((resolve) =>
        timer = setTimeout(() => resolve("expired"), Math.max(0, this.#windowMs - this.#waited))
      );
      const result = await Promise.race([read, expired]).finally(() => clearTimeout(timer));
      this.#waited += Date.now() - start;
      if (result !== "expired") return result;
      this.#check(left);
    }
  }

  /** Counts `n` bytes received; closes a window that is over. */
  got(n: number, left: number): void {
    this.#bytes += n;
    if (this.#waited >= this.#windowMs) this.#check(left);
  }

  #check(left: number): void {
    if (this.#bytes < Math.min(this.#minBytes, left)) {
      this.#onSlow();
      throw new HttpError(
        408,
        `The request body came slower than ${this.#minBytes} bytes in ${this.#windowMs} ms`,
      );
    }
    this.#waited = 0;
    this.#bytes = 0;
  }
}

/** A connection's incoming bytes, with what was read ahead of its use. */
export class Wire {
  #conn: Deno.Conn;
  #ahead: Uint8Array = new Uint8Array(0);
  #scratch = new Uint8Array(0);
  /** Set while a body is read: the pace it must keep. */
  pacer: Pacer | undefined;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whether bytes read ahead wait (a pipelined request). */
  get buffered(): boolean {
    return this.#ahead.length > 0;
  }

  /** Up to `max` bytes, or null at the end; `left`: bytes the body still owes, when known. */
  async read(max: number, left = Infinity): Promise<Uint8Array | null> {
    if (this.#ahead.length > 0) {
      const out = this.#ahead.subarray(0, max);
      this.#ahead = this.#ahead.subarray(out.length);
      return out;
    }
    // Read into one buffer and copied out at the size that came: a buffer of the largest size
    // for each read costs more (zeroed) than the copy.
    const size = Math.min(max, READ_SIZE);
    if (this.#scratch.length < size) this.#scratch = new Uint8Array(size);
    const buf = this.#scratch.subarray(0, size);
    const read = this.#conn.read(buf);
    const n = this.pacer ? await this.pacer.read(read, left) : await read;
    if (n === null) return null;
    this.pacer?.got(n, left);
    return buf.slice(0, n);
  }

  /**
   * The bytes up to the next `end` (not included), at most `max` of them, or null at the end
   * of the stream before any byte; throws HttpError(`status`) past `max`.
   */
  async until(end: string, max: number, status: number): Promise<Uint8Array | null> {
    const mark = new TextEncoder().encode(end);
    let data = this.#ahead;
    this.#ahead = new Uint8Array(0);
    let from = 0;
    for (;;) {
      const at = indexOf(data, mark, from);
      if (at > max || (at < 0 && data.length > max)) {
        throw new HttpError(status, `Expected at most ${max} bytes`);
      }
      if (at >= 0) {
        this.#ahead = data.subarray(at + mark.length);
        return data.subarray(0, at);
      }
      from = Math.max(0, data.length - mark.length + 1);
      const more = await this.read(LINE_READ_SIZE);
      if (more === null) {
        if (data.length === 0) return null;
        throw new HttpError(400, "The request ended early");
      }
      const joined = new Uint8Array(data.length + more.length);
      joined.set(data);
      joined.set(more, data.length);
      data = joined;
    }
  }
}

function indexOf(data: Uint8Array, mark: Uint8Array, from: number): number {
  outer: for (let i = from; i + mark.length <= data.length; i++) {
    for (let j = 0; j < mark.length; j++) if (data[i + j] !== mark[j]) continue outer;
    return i;
  }
  return -1;
}
