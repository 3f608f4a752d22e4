/**
 * The single-stream forms of an image, for sending it to another computer.
 *
 * Version 1 is an image directory, file after file, each size known up front:
 *
 * ```
 * AMBER-IMAGE-STREAM 1\n
 * {"name":"manifest.json","size":812}\n  <812 bytes>
 * {"name":"process-4200001.img","size":1052672}\n  <1052672 bytes>
 * ...
 * {"end":true,"files":3}\n
 * ```
 *
 * Version 2 carries files while they are being written (a migration's process files, read
 * from the agents as they write them: outgoing.ts), in chunks, the files interleaved; each
 * file ends with a frame that gives its size, and, for a process file streamed by its agent,
 * says that its header came last, as a trailer:
 *
 * ```
 * AMBER-IMAGE-STREAM 2\n
 * {"name":"process-4200001.img","length":65536}\n  <65536 bytes>
 * {"name":"process-4200002.img","length":1048576}\n  <1048576 bytes>
 * ...
 * {"name":"process-4200001.img","size":1057624,"trailer":true}\n
 * {"name":"tables.bin","length":812}\n  <812 bytes>
 * {"name":"tables.bin","size":812}\n
 * {"end":true,"files":3}\n
 * ```
 *
 * Each header is one line of JSON, validated with zod; names are relative paths inside the
 * image. A stream without its end line is incomplete, and unpacking it fails; so does one in
 * which a file's size is not what its chunks added up to, or a file is left without its end.
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { z } from "npm:zod@4.6.7";
import { ImageError } from "../errors.ts";

const MAGIC = "AMBER-IMAGE-STREAM 1\n";
const MAGIC_V2 = "AMBER-IMAGE-STREAM 2\n";
const MAX_HEADER = 4096;
/** The largest chunk a version 2 stream carries. */
export const MAX_CHUNK = 16 << 20;

const Name = z.string().min(1).max(1024).refine(
  (n) => !n.startsWith("/") && !n.split("/").some((p) => p === ".." || p === "." || p === ""),
  { message: "expected a relative path inside the image" },
);
const FileHeader = z.object({ name: Name, size: z.int().nonnegative() });
const EndHeader = z.object({ end: z.literal(true), files: z.int().nonnegative() });
const Header = z.union([FileHeader, EndHeader]);

const ChunkHeader = z.object({ name: Name, length: z.int().positive().max(MAX_CHUNK) });
const FileEndHeader = z.object({
  name: Name,
  size: z.int().nonnegative(),
  trailer: z.boolean().default(false),
});
const HeaderV2 = z.union([ChunkHeader, FileEndHeader, EndHeader]);

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

/**
 * Writes the version 2 stream through `send`, which gets the parts of one frame (its header,
 * then its bytes) and must send them together, in order, after those of the calls before it
 * (calls may overlap). Chunks of different files may come in any order; each file is then ended
 * once.
 */
export class ImageStreamWriter {
  #send: (parts: Uint8Array[]) => Promise<void>;
  #sizes = new Map<string, number>();
  #ended = new Set<string>();
  #started = false;
  /** Bytes sent so far, headers included. */
  bytes = 0;

  constructor(send: (parts: Uint8Array[]) => Promise<void>) {
    this.#send = send;
  }

  #frame(header: object, data?: Uint8Array): Promise<void> {
    const head = encoder.encode(
      (this.#started ? "" : MAGIC_V2) + JSON.stringify(header) + "\n",
    );
    this.#started = true;
    this.bytes += head.length + (data?.length ?? 0);
    return this.#send(data ? [head, data] : [head]);
  }

  #open(name: string): void {
    const parsed = Name.safeParse(name);
    if (!parsed.success) throw new RangeError(`Invalid file name in an image: '${name}'`);
    if (this.#ended.has(name)) throw new RangeError(`File '${name}' was ended already`);
  }

  /** Sends `data` as the next bytes of the file `name`. */
  async chunk(name: string, data: Uint8Array): Promise<void> {
    this.#open(name);
    let size = this.#sizes.get(name) ?? 0;
    this.#sizes.set(name, size);
    for (let off = 0; off < data.length; off += MAX_CHUNK) {
      const part = data.subarray(off, Math.min(data.length, off + MAX_CHUNK));
      this.#sizes.set(name, size += part.length);
      await this.#frame({ name, length: part.length }, part);
    }
  }

  /** Ends the file `name` (which may have had no chunk: an empty file). */
  async endFile(name: string, options: { trailer?: boolean } = {}): Promise<void> {
    this.#open(name);
    const size = this.#sizes.get(name) ?? 0;
    this.#sizes.delete(name);
    this.#ended.add(name);
    await this.#frame({ name, size, ...(options.trailer ? { trailer: true } : {}) });
  }

  /** Ends the stream; every file must have been ended. */
  async end(): Promise<void> {
    const open = [...this.#sizes.keys()];
    if (open.length) throw new RangeError(`Files not ended: ${open.join(", ")}`);
    await this.#frame({ end: true, files: this.#ended.size });
  }
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

/** What {@linkcode unpackImage} found in a stream. */
export interface Unpacked {
  /** The stream's version: 1 (a whole image directory) or 2 (files as they were written). */
  version: 1 | 2;
  /** Bytes received. */
  received: number;
  /** Files whose header came last, as a trailer (version 2), to be put in order. */
  trailers: string[];
}

function parseHeader<T>(text: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ImageError(`Image stream header is not JSON: '${text.slice(0, 200)}'`);
  }
  const header = schema.safeParse(value);
  if (!header.success) {
    throw new ImageError(
      `Image stream header '${text.slice(0, 200)}' is not valid: ${
        header.error.issues[0]?.message
      }`,
    );
  }
  return header.data;
}

async function createFile(dir: string, name: string): Promise<Deno.FsFile> {
  const path = join(dir, name);
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
}

async function unpackV1(reader: Reader, dir: string): Promise<Unpacked> {
  for (let files = 0;; files++) {
    const header = parseHeader(await reader.line(), Header);
    if ("end" in header) {
      if (header.files !== files) {
        throw new ImageError(`Image stream says ${header.files} files, it held ${files}`);
      }
      return { version: 1, received: reader.received, trailers: [] };
    }
    using file = await createFile(dir, header.name);
    await reader.copy(header.size, (chunk) => writeAll(file, chunk));
  }
}

async function unpackV2(reader: Reader, dir: string): Promise<Unpacked> {
  const open = new Map<string, { file: Deno.FsFile; size: number }>();
  const ended = new Set<string>();
  const trailers: string[] = [];
  try {
    for (;;) {
      const header = parseHeader(await reader.line(), HeaderV2);
      if ("end" in header) {
        if (open.size) {
          throw new ImageError(
            `Image stream ended with files not complete: ${[...open.keys()].join(", ")}`,
          );
        }
        if (header.files !== ended.size) {
          throw new ImageError(`Image stream says ${header.files} files, it held ${ended.size}`);
        }
        return { version: 2, received: reader.received, trailers };
      }
      if (ended.has(header.name)) {
        throw new ImageError(`Image stream has more of '${header.name}' after its end`);
      }
      let entry = open.get(header.name);
      if (!entry) {
        entry = { file: await createFile(dir, header.name), size: 0 };
        open.set(header.name, entry);
      }
      if ("length" in header) {
        const file = entry.file;
        await reader.copy(header.length, (chunk) => writeAll(file, chunk));
        entry.size += header.length;
        continue;
      }
      if (header.size !== entry.size) {
        throw new ImageError(
          `Image stream says '${header.name}' has ${header.size} bytes, it carried ${entry.size}`,
        );
      }
      entry.file.close();
      open.delete(header.name);
      ended.add(header.name);
      if (header.trailer) trailers.push(header.name);
    }
  } finally {
    for (const { file } of open.values()) file.close();
  }
}

/**
 * Writes the image that `stream` carries (either version) into `dir` (which must not exist;
 * created mode 0700, files 0600). Throws {@linkcode ImageError} if the stream is not an image
 * stream, ends early or does not add up; `dir` may then hold part of it, for the caller to
 * remove. A version 2 stream's files with a trailer are left as they came: see
 * {@linkcode Unpacked}.
 */
export async function unpackImage(
  stream: ReadableStream<Uint8Array>,
  dir: string,
): Promise<Unpacked> {
  const reader = new Reader(stream);
  try {
    const magic = (await reader.line()) + "\n";
    if (magic !== MAGIC && magic !== MAGIC_V2) throw new ImageError("Not an Amber image stream");
    await Deno.mkdir(dir, { mode: 0o700 });
    return magic === MAGIC ? await unpackV1(reader, dir) : await unpackV2(reader, dir);
  } finally {
    reader.cancel();
  }
}
