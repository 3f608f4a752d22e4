/**
 * The single-stream form of an image directory, for sending it to another computer:
 *
 * ```
 * AMBER-IMAGE-STREAM 1\n
 * {"name":"manifest.json","size":812}\n  <812 bytes>
 * {"name":"process-4200001.img","size":1052672}\n  <1052672 bytes>
 * ...
 * {"end":true,"files":3}\n
 * ```
 *
 * Each header is one line of JSON, validated with zod; names are relative paths inside the
 * image. A stream without its end line is incomplete, and unpacking it fails.
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { z } from "zod";
import { ImageError } from "../errors.ts";

const MAGIC = "AMBER-IMAGE-STREAM 1\n";
const MAX_HEADER = 4096;

const FileHeader = z.object({
  name: z.string().min(1).max(1024).refine(
    (n) => !n.startsWith("/") && !n.split("/").some((p) => p === ".." || p === "." || p === ""),
    { message: "expected a relative path inside the image" },
  ),
  size: z.int().nonnegative(),
});
const EndHeader = z.object({ end: z.literal(true), files: z.int().nonnegative() });
const Header = z.union([FileHeader, EndHeader]);

const encoder = new TextEncoder();

async function listFiles(root: string, dir = root): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) names.push(...await listFiles(root, path));
    else if (entry.isFile) names.push(relative(root, path));
  }
  return names.sort();
}

/** An image directory in stream form: its length in bytes, and its frames, read on demand. */
export interface PackedImage {
  length: number;
  frames: () => AsyncGenerator<Uint8Array>;
}

/** The image directory `dir` as one stream; files are read as the stream is consumed. */
export async function packImage(dir: string): Promise<PackedImage> {
  const names = await listFiles(dir);
  // The manifest first, so that a receiver knows early what is coming.
  names.sort((a, b) => Number(b === "manifest.json") - Number(a === "manifest.json"));
  const heads: Uint8Array[] = [];
  let length = MAGIC.length;
  for (const name of names) {
    const { size } = await Deno.stat(join(dir, name));
    heads.push(encoder.encode(JSON.stringify({ name, size }) + "\n"));
    length += heads[heads.length - 1].length + size;
  }
  const end = encoder.encode(JSON.stringify({ end: true, files: names.length }) + "\n");
  length += end.length;
  async function* frames(): AsyncGenerator<Uint8Array> {
    yield encoder.encode(MAGIC);
    for (const [i, name] of names.entries()) {
      using file = await Deno.open(join(dir, name));
      yield heads[i];
      const size = JSON.parse(new TextDecoder().decode(heads[i])).size as number;
      let sent = 0;
      const chunk = new Uint8Array(1 << 20);
      for (;;) {
        const n = await file.read(chunk);
        if (n === null) break;
        sent += n;
        yield chunk.subarray(0, n);
      }
      if (sent !== size) throw new ImageError(`File '${name}' changed while it was sent`);
    }
    yield end;
  }
  return { length, frames };
}

/** Reads a stream's bytes on demand: lines, and exact counts. */
class Reader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf = new Uint8Array(0);
  received = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async #fill(): Promise<boolean> {
    const { done, value } = await this.#reader.read();
    if (done) return false;
    this.received += value.length;
    const joined = new Uint8Array(this.#buf.length + value.length);
    joined.set(this.#buf);
    joined.set(value, this.#buf.length);
    this.#buf = joined;
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const nl = this.#buf.indexOf(10);
      if (nl >= 0) {
        const text = new TextDecoder().decode(this.#buf.subarray(0, nl));
        this.#buf = this.#buf.slice(nl + 1);
        return text;
      }
      if (this.#buf.length > MAX_HEADER) throw new ImageError("Image stream header is too long");
      if (!(await this.#fill())) {
        throw new ImageError("Image stream ended in the middle of a header");
      }
    }
  }

  /** Copies exactly `size` bytes to `sink`. */
  async copy(size: number, sink: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) {
        throw new ImageError(`Image stream ended with ${left} bytes of a file still to come`);
      }
      const take = Math.min(left, this.#buf.length);
      await sink(this.#buf.subarray(0, take));
      this.#buf = this.#buf.slice(take);
      left -= take;
    }
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/**
 * Writes the image that `stream` carries into `dir` (which must not exist; created mode
 * 0700, files 0600). Throws {@linkcode ImageError} if the stream is not an image stream or
 * ends early; `dir` may then hold part of it, for the caller to remove.
 */
export async function unpackImage(
  stream: ReadableStream<Uint8Array>,
  dir: string,
): Promise<number> {
  const reader = new Reader(stream);
  try {
    if ((await reader.line()) + "\n" !== MAGIC) throw new ImageError("Not an Amber image stream");
    await Deno.mkdir(dir, { mode: 0o700 });
    for (let files = 0;; files++) {
      const text = await reader.line();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new ImageError(`Image stream header is not JSON: '${text.slice(0, 200)}'`);
      }
      const header = Header.safeParse(value);
      if (!header.success) {
        throw new ImageError(
          `Image stream header '${text.slice(0, 200)}' is not valid: ${
            header.error.issues[0]?.message
          }`,
        );
      }
      if ("end" in header.data) {
        if (header.data.files !== files) {
          throw new ImageError(`Image stream says ${header.data.files} files, it held ${files}`);
        }
        return reader.received;
      }
      const path = join(dir, header.data.name);
      await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
      using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      await reader.copy(header.data.size, async (chunk) => {
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
      });
    }
  } finally {
    reader.cancel();
  }
}
