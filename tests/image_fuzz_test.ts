/**
 * The image readers against damaged input: thousands of mutations of every file of an image
 * (flipped bytes, written words, cuts), each read by the reader that takes it at a restore. A
 * reader must answer with its own error (or read the damage as data) and never crash, hang or
 * read outside the file. Seeded, so that a failure can be replayed.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ControlDataError,
  ControlError,
  createTableFromImage,
  describeProcess,
} from "../ffi/control.ts";
import { ImageError, launch, readImage } from "../mod.ts";

const MUTATIONS = 1000;

/** xorshift: the same mutations on every run. */
function random(seed: number): (below: number) => number {
  let s = seed >>> 0 || 1;
  return (below) => {
    s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
    return s % below;
  };
}

/** `bytes` damaged one way or another, mostly within the first `hot` bytes and the last 64 KiB. */
function mutate(bytes: Uint8Array, rand: (below: number) => number, hot: number): Uint8Array {
  const out = bytes.slice();
  const at = () =>
    rand(2) ? rand(Math.min(hot, out.length)) : out.length - 1 - rand(Math.min(65536, out.length));
  switch (rand(4)) {
    case 0:
      for (let i = rand(8) + 1; i > 0; i--) out[at()] ^= 1 << rand(8);
      break;
    case 1: {
      const view = new DataView(out.buffer);
      const where = Math.min(at() & ~3, out.length - 8);
      const words = [0xffffffff, 0x80000000, 0x7fffffff, 0, 1, 4096, rand(0x7fffffff)];
      view.setUint32(where, words[rand(words.length)], true);
      if (rand(2)) view.setUint32(where + 4, words[rand(words.length)], true);
      break;
    }
    case 2:
      return out.subarray(0, rand(out.length));
    default:
      for (let i = rand(64) + 1, from = at(); i > 0 && from < out.length; i--) {
        out[from++] = rand(256);
      }
  }
  return out;
}

function expectOwnError(
  what: string,
  read: () => unknown,
  ...errors: (new (...a: never[]) => Error)[]
) {
  try {
    read();
  } catch (e) {
    assert.ok(errors.some((E) => e instanceof E), `${what}: ${e}`);
  }
}

Deno.test({
  name: "thousands of damaged process files, tables and manifests get each reader's own error",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // In memory where there is a tmpfs for it: the mutations are written, not kept.
    const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
    const dir = await Deno.makeTempDir({
      prefix: "amber-fuzz-",
      dir: shm ? "/dev/shm" : undefined,
    });
    try {
      const image = await (async () => {
        await using app = await launch(["sleep", "60"], { detach: true });
        return await app.snapshot({ dir: join(dir, "sleep.amber"), stop: true });
      })();
      const processFile = join(image.dir, image.manifest.processes[0].file);
      const readers = [
        {
          file: processFile,
          hot: 8192,
          times: MUTATIONS,
          read: (path: string) =>
            expectOwnError(
              path,
              () => describeProcess(path),
              ControlError,
              ControlDataError,
            ),
        },
        {
          file: join(image.dir, "tables.bin"),
          hot: 96 * 1024,
          // Each is a new tables file of almost 1 MiB: fewer, so as not to load the machine.
          times: MUTATIONS / 4,
          read: (path: string) => {
            const tables = join(dir, "tables");
            expectOwnError(
              path,
              () => createTableFromImage(path, tables, "f", "fuzz"),
              ControlError,
            );
            try {
              Deno.removeSync(tables);
            } catch {
              // It was refused before it was made.
            }
          },
        },
      ];
      const started = performance.now();
      for (const [n, { file, hot, times, read }] of readers.entries()) {
        const rand = random(0x5eed + n);
        const bytes = Deno.readFileSync(file);
        const spoiled = join(dir, `spoiled-${n}`);
        for (let i = 0; i < times; i++) {
          Deno.writeFileSync(spoiled, mutate(bytes, rand, hot));
          read(spoiled);
        }
      }
      const manifest = Deno.readFileSync(join(image.dir, "manifest.json"));
      const rand = random(0xface);
      for (let i = 0; i < MUTATIONS; i++) {
        Deno.writeFileSync(
          join(image.dir, "manifest.json"),
          mutate(manifest, rand, manifest.length),
        );
        await readImage(image.dir).catch((e) => assert.ok(e instanceof ImageError, String(e)));
      }
      const seconds = (performance.now() - started) / 1000;
      assert.ok(seconds < 60, `The mutations took ${seconds} s`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
