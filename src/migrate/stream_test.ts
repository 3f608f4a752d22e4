import assert from "node:assert/strict";
import { join } from "node:path";
import { ImageError } from "../errors.ts";
import { ImageStreamWriter, packImage, unpackImage } from "./stream.ts";

const encoder = new TextEncoder();

/** A version 2 stream made by `write`, as one byte array. */
async function v2(write: (w: ImageStreamWriter) => Promise<void>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const writer = new ImageStreamWriter((frame) => {
    for (const part of frame) parts.push(part.slice());
    return Promise.resolve();
  });
  await write(writer);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), off += p.length;
  assert.equal(out.length, writer.bytes);
  return out;
}

/** `bytes` as a stream that comes in pieces of `piece` bytes, as from a network. */
function streamOf(bytes: Uint8Array, piece = 7): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; off += piece) pieces.push(bytes.slice(off, off + piece));
  return ReadableStream.from(pieces);
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  try {
    await body(join(root, "image"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const processBytes = encoder.encode("pages of process one, then its header");

async function sample(w: ImageStreamWriter): Promise<void> {
  await w.chunk("process-1.img", processBytes.subarray(0, 10));
  await w.chunk("tables.bin", encoder.encode("tables"));
  await w.chunk("process-1.img", processBytes.subarray(10));
  await w.endFile("tables.bin");
  await w.endFile("empty.bin");
  await w.chunk("sub/dir/file", encoder.encode("nested"));
  await w.endFile("sub/dir/file");
  await w.endFile("process-1.img", { trailer: true });
  await w.end();
}

Deno.test("a version 2 stream of interleaved chunks unpacks to the same files", async () => {
  const bytes = await v2(sample);
  await withDir(async (dir) => {
    const unpacked = await unpackImage(streamOf(bytes), dir);
    assert.deepEqual(unpacked, { version: 2, received: bytes.length, trailers: ["process-1.img"] });
    assert.deepEqual(await Deno.readFile(join(dir, "process-1.img")), processBytes);
    assert.equal(await Deno.readTextFile(join(dir, "tables.bin")), "tables");
    assert.equal(await Deno.readTextFile(join(dir, "empty.bin")), "");
    assert.equal(await Deno.readTextFile(join(dir, "sub/dir/file")), "nested");
    assert.equal((await Deno.stat(join(dir, "tables.bin"))).mode! & 0o777, 0o600);
  });
});

Deno.test("a version 2 stream cut anywhere is refused", async () => {
  const bytes = await v2(sample);
  for (let cut = 0; cut < bytes.length; cut += 5) {
    await withDir(async (dir) => {
      await assert.rejects(unpackImage(streamOf(bytes.subarray(0, cut)), dir), ImageError);
    });
  }
});

Deno.test("a version 2 stream whose sizes do not add up is refused", async () => {
  const text = 'AMBER-IMAGE-STREAM 2\n{"name":"a","length":3}\nabc{"name":"a","size":4}\n' +
    '{"end":true,"files":1}\n';
  await withDir(async (dir) => {
    await assert.rejects(
      unpackImage(streamOf(encoder.encode(text)), dir),
      /says 'a' has 4 bytes, it carried 3/,
    );
  });
  const unended = 'AMBER-IMAGE-STREAM 2\n{"name":"a","length":3}\nabc{"end":true,"files":0}\n';
  await withDir(async (dir) => {
    await assert.rejects(unpackImage(streamOf(encoder.encode(unended)), dir), /not complete: a/);
  });
  const escape = 'AMBER-IMAGE-STREAM 2\n{"name":"../a","length":1}\nx';
  await withDir(async (dir) => {
    await assert.rejects(unpackImage(streamOf(encoder.encode(escape)), dir), /relative path/);
  });
});

Deno.test("the version 2 writer refuses a file's bytes after its end, and an end with files open", async () => {
  await v2(async (w) => {
    await w.endFile("a");
    await assert.rejects(w.chunk("a", encoder.encode("x")), RangeError);
    await w.chunk("b", encoder.encode("x"));
    await assert.rejects(w.end(), /Files not ended: b/);
  });
});

Deno.test("a version 1 stream of an image directory still unpacks", async () => {
  const source = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(source, "manifest.json"), "{}");
    await Deno.writeTextFile(join(source, "process-1.img"), "process");
    const packed = await packImage(source);
    const parts: Uint8Array[] = [];
    for await (const frame of packed.frames()) parts.push(frame.slice());
    await withDir(async (dir) => {
      const unpacked = await unpackImage(ReadableStream.from(parts), dir);
      assert.deepEqual(unpacked, { version: 1, received: packed.length, trailers: [] });
      assert.equal(await Deno.readTextFile(join(dir, "process-1.img")), "process");
    });
  } finally {
    await Deno.remove(source, { recursive: true });
  }
});
