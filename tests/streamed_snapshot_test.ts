/**
 * A migration's snapshot, streamed (src/migrate/outgoing.ts), on one computer: each process
 * writes its file into a FIFO, in order, its header last; the stream restores as an image once
 * the target side has put it in order; a reader that goes away mid-stream fails the snapshot,
 * and the program runs on (the SIGPIPE its agent got is taken back).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { completeStreamedImage } from "../src/migrate/incoming.ts";
import { streamSnapshot, type StreamTarget } from "../src/migrate/outgoing.ts";
import { unpackImage } from "../src/migrate/stream.ts";
import { prog, scenarioTest, sleep } from "./support.ts";

/** Keeps the stream in memory (small test programs only); fails once it holds `failAfter` bytes. */
class Collector implements StreamTarget {
  parts: Uint8Array[] = [];
  bytes = 0;
  aborted = false;
  readonly #failAfter: number;

  constructor(failAfter = Infinity) {
    this.#failAfter = failAfter;
  }

  send(parts: Uint8Array[]): Promise<void> {
    if (this.bytes >= this.#failAfter) return Promise.reject(new Error("The reader went away"));
    for (const part of parts) this.parts.push(part.slice()), this.bytes += part.length;
    return Promise.resolve();
  }

  abort(): void {
    this.aborted = true;
  }

  stream(): ReadableStream<Uint8Array> {
    return ReadableStream.from(this.parts);
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names;
}

scenarioTest(
  "a streamed snapshot of two processes restores as an image, memory and pipe intact",
  async (s) => {
    const app = await s.launch([prog("pipe_stream"), s.dir], "pipe");
    await s.waitFor(/^ready$/m);
    const work = join(s.dir, "outgoing");
    await Deno.mkdir(work);
    const sink = new Collector();
    const sent = await streamSnapshot(app, sink, { work, timeoutMs: 30_000 });
    assert.equal(sent.processFiles, 2);
    assert.equal(sent.bytes, sink.bytes);
    assert.deepEqual(await entries(work), [], "the FIFOs' directory is gone");
    await app.kill();

    const dir = join(s.dir, "received.amber");
    const unpacked = await unpackImage(sink.stream(), dir);
    assert.equal(unpacked.version, 2);
    assert.equal(unpacked.trailers.length, 2);
    const manifest = await completeStreamedImage(dir, unpacked.trailers);
    assert.deepEqual(manifest.files.map((f) => f.name).filter((n) => !n.startsWith("process-")), [
      "credentials.bin",
      "ipc.bin",
      "tables.bin",
    ]);
    assert.equal(manifest.processes.length, 2);
    await s.restore(dir);
    await s.pass();
  },
);

scenarioTest("a streamed snapshot restores 64 MiB of heap byte for byte", async (s) => {
  const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "heap");
  await s.waitFor(/^ready$/m);
  const sink = new Collector();
  await streamSnapshot(app, sink, { work: s.dir, timeoutMs: 30_000 });
  await app.kill();
  const dir = join(s.dir, "received.amber");
  const unpacked = await unpackImage(sink.stream(), dir);
  await completeStreamedImage(dir, unpacked.trailers);
  await s.restore(dir);
  await s.pass();
});

scenarioTest(
  "a streamed snapshot whose reader goes away fails, and the program runs on",
  async (s) => {
    const app = await s.launch([prog("big_counter"), "64"], "counter");
    await s.waitFor(/^tick 1$/m);
    const sink = new Collector(4 << 20);
    await assert.rejects(
      streamSnapshot(app, sink, { work: s.dir, timeoutMs: 30_000 }),
      /The reader went away/,
    );
    assert.ok(sink.aborted, "the stream was dropped");
    const ticks = async () =>
      Math.max(...[...(await s.text()).matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1])));
    const before = await ticks();
    await sleep(500);
    assert.ok((await ticks()) > before + 3, "the program goes on, not ended by SIGPIPE");
    assert.equal(app.processes().length, 1);
    // And its next snapshot is whole.
    const image = await app.snapshot({ dir: join(s.dir, "after.amber") });
    assert.equal(image.manifest.processes.length, 1);
    await sleep(200);
    assert.ok((await ticks()) > before + 5, "the program goes on after that snapshot");
  },
);
