/**
 * A request's body as a stream read from its connection: as many bytes as `Content-Length`
 * says, or chunks (`Transfer-Encoding: chunked`) to the last one, each no more than the route
 * allows. A body that breaks its framing or its limit errors the stream with an HttpError, which
 * the front answers in place of the handler's answer.
 *
 * @module
 */

import { type Head, HttpError } from "./http1.ts";
import type { Wire } from "./wire.ts";

const PIECE = 1 << 20;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,15})(;[\t\x20-\x7e]*)?$/;
const decoder = new TextDecoder();

/** A body being read: its stream, and whether it was read to its end. */
export interface Body {
  stream: ReadableStream<Uint8Array>;
  /** Whether every byte of the body (and, chunked, its trailer) was read. */
  readonly done: boolean;
  /** What ended it early: a broken frame, a limit, a slow peer. */
  readonly failure: HttpError | undefined;
}

/**
 * The body of `head` read from `wire`, at most `limit` bytes; `first` runs before the first
 * byte is waited for (to send `100 Continue`). Throws HttpError(413) at once when the body's
 * announced length is over the limit.
 */
export function readBody(
  wire: Wire,
  head: Head,
  limit: number,
  maxLineBytes: number,
  first: () => Promise<void>,
): Body {
  if (typeof head.length === "number" && head.length > limit) {
    throw new HttpError(413, `Expected a body of at most ${limit} bytes, found ${head.length}`);
  }
  let done = head.length === 0;
  let failure: HttpError | undefined;
  let total = 0;
  let left = typeof head.length === "number" ? head.length : 0; // of the current chunk
  let started = false;
  const chunked = head.length === "chunked";

  async function line(): Promise<string> {
    const bytes = await wire.until("\r\n", maxLineBytes, 400);
    if (bytes === null) throw new HttpError(400, "The request body ended early");
    return decoder.decode(bytes);
  }

  async function next(): Promise<Uint8Array | null> {
    if (!started) {
      started = true;
      await first();
    }
    if (chunked && left === 0) {
      const size = CHUNK_LINE.exec(await line());
      if (!size) throw new HttpError(400, "Expected a chunk size line in the request body");
      left = parseInt(size[1], 16);
      if (left === 0) {
        while ((await line()) !== ""); // the trailer's fields, ignored
        return null;
      }
      if (total + left > limit) {
        throw new HttpError(413, `Expected a body of at most ${limit} bytes`);
      }
    }
    if (left === 0) return null;
    // A chunked body's rest is unknown: the pace asks for its bytes whatever its chunks' size.
    const data = await wire.read(Math.min(left, PIECE), chunked ? Infinity : left);
    if (data === null) throw new HttpError(400, "The request body ended early");
    left -= data.length;
    total += data.length;
    if (chunked && left === 0 && (await line()) !== "") {
      throw new HttpError(400, "Expected CRLF after a chunk of the request body");
    }
    return data;
  }

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const data = await next();
        if (data === null) {
          done = true;
          controller.close();
        } else controller.enqueue(data);
      } catch (error) {
        failure = error instanceof HttpError
          ? error
          : new HttpError(400, `Cannot read the request body: ${String(error)}`);
        controller.error(failure);
      }
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get done() {
      return done;
    },
    get failure() {
      return failure;
    },
  };
}
