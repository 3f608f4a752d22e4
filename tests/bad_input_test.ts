/**
 * Bad input gets a clear error and loses nothing: damaged, foreign and incompatible images are
 * refused before anything starts, and a process killed during a snapshot leaves no image that
 * looks whole.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ImageError, IncompatibleImageError, inspect, list, SnapshotError } from "../mod.ts";
import { ControlError, createTableFromImage } from "../ffi/control.ts";
import { imageVne } from "../ffi/vne.ts";
import { removeExitRecord } from "../src/exited.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

async function counterImage(s: Parameters<Parameters<typeof scenarioTest>[1]>[0]) {
  const app = await s.launch([prog("counter"), "20"], "counter");
  await s.waitFor(/^count 2 /m);
  return await s.freeze(app);
}

async function appsNamedLike(prefix: string): Promise<string[]> {
  return (await list()).map((a) => a.name).filter((n) => n.startsWith(prefix));
}

scenarioTest(
  "a --stop --verify snapshot whose page changes on disk before the image is named fails, keeps no image, and the application runs on; an intact one is verified",
  async (s) => {
    const app = await s.launch([prog("counter"), "20"], "verify");
    await s.waitFor(/^count 2 /m);
    const dir = join(s.dir, "damaged.amber");
    let damaged = "";
    // While the files are flushed, before they are read back, a page of a process file changes
    // on the disk (what a misplaced write by Amber would leave).
    const damage = () => {
      if (damaged) return;
      const tmp = [...Deno.readDirSync(s.dir)].find((e) => e.name.startsWith("damaged.amber.tmp-"));
      const file = tmp &&
        [...Deno.readDirSync(join(s.dir, tmp.name))].find((e) => /^process-\d+\.img$/.test(e.name));
      if (!tmp || !file) return;
      damaged = file.name;
      using f = Deno.openSync(join(s.dir, tmp.name, file.name), { read: true, write: true });
      const page = new Uint8Array(4096);
      f.seekSync(4096, Deno.SeekMode.Start);
      f.readSync(page);
      page[100] ^= 0xff;
      f.seekSync(4096, Deno.SeekMode.Start);
      f.writeSync(page);
    };
    await assert.rejects(
      app.snapshot({
        dir,
        stop: true,
        verify: true,
        onProgress: (p) => p.phase === "sync" && damage(),
      }),
      (e: Error) => {
        assert.ok(e instanceof SnapshotError, String(e));
        assert.match(e.message, new RegExp(`'${damaged.replace(".", "\\.")}' does not match`));
        return true;
      },
    );
    assert.ok(damaged, "no process file was damaged");
    assert.equal(existsSync(dir), false, "a damaged image took its name");
    const from = (await s.text()).length;
    await s.waitFor(new RegExp(`[^]{${from}}[^]*^count \\d+ `, "m"), "the counter going on");
    const image = await app.snapshot({
      dir: join(s.dir, "intact.amber"),
      stop: true,
      verify: true,
    });
    await s.restore(image);
  },
);

scenarioTest(
  "a corrupt image is refused, naming the damaged file, and nothing starts",
  async (s) => {
    const image = await counterImage(s);
    const file = image.manifest.processes[0].file;
    const path = join(image.dir, file);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length >> 1] ^= 0xff;
    await Deno.writeFile(path, bytes);
    await assert.rejects(s.restore(image.dir, { name: "corrupt-x" }), (e: Error) => {
      assert.ok(e instanceof ImageError, String(e));
      assert.match(e.message, new RegExp(file.replace(".", "\\.")));
      return true;
    });
    assert.deepEqual(await appsNamedLike("corrupt-x"), [], "no application was left behind");
  },
);

/** Flips one byte of a process file at `at(header)`, the header's first 1280 bytes as a view. */
async function flipByte(path: string, at: (header: DataView) => number): Promise<void> {
  using f = await Deno.open(path, { read: true, write: true });
  const header = new Uint8Array(1280);
  await f.read(header);
  const where = at(new DataView(header.buffer));
  const byte = new Uint8Array(1);
  await f.seek(where, Deno.SeekMode.Start);
  await f.read(byte);
  byte[0] ^= 0x5a;
  await f.seek(where, Deno.SeekMode.Start);
  await f.write(byte);
}

scenarioTest(
  "a corrupted page fails an eager restore, named, and ends a lazily restored application",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "bigpage");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    const file = image.manifest.processes[0].file;
    // The header says where the page data is (data_off at byte 72, data_len at 80): one byte
    // of the page in the middle of it changes; the file's metadata stays intact.
    await flipByte(join(image.dir, file), (header) => {
      const dataOff = Number(header.getBigUint64(72, true));
      const dataLen = Number(header.getBigUint64(80, true));
      assert.ok(dataLen >= 64 * 2 ** 20, `the image holds the 64 MiB (${dataLen} bytes of pages)`);
      return dataOff + Math.floor(dataLen / 2 / 4096) * 4096 + 100;
    });
    await assert.rejects(s.restore(image.dir, { name: "bigpage-eager" }), (e: Error) => {
      assert.ok(e instanceof ImageError, String(e));
      // The restorer checks each page as it reads it, and names the one that failed.
      assert.match(
        e.message,
        new RegExp(`'${file.replace(".", "\\.")}'.*checksum.*its page at 0x[0-9a-f]+$`),
      );
      return true;
    });
    assert.deepEqual(await appsNamedLike("bigpage-eager"), [], "no application was left behind");
    await assert.rejects(inspect(image.dir), ImageError); // inspect checks every file whole
    // A lazy restore starts at once and checks the pages in the background: the application is
    // ended, the page named (the restore itself fails instead if the check was quicker).
    await lazyRestoreEnds(s, image.dir, "bigpage-lazy");
  },
);

/**
 * Restores the image at `dir` lazily, as `name`: either the restore fails or the application is
 * ended, with an error that names a damaged page of a process file.
 */
async function lazyRestoreEnds(s: Scenario, dir: string, name: string): Promise<void> {
  const lazy = await s.restore(dir, { name, lazy: true, detach: true }).catch((e: Error) => e);
  const damaged = /image damaged: page 0x[0-9a-f]+ of process-\d+\.img|page at 0x[0-9a-f]+$/;
  if (lazy instanceof Error) {
    assert.ok(lazy instanceof ImageError, String(lazy));
    assert.match(lazy.message, damaged);
    removeExitRecord(name); // a detached restore that failed leaves one
    return;
  }
  let record = await lazy.exited();
  for (let i = 0; i < 200 && !record; i++) {
    await sleep(50);
    record = await lazy.exited();
  }
  assert.match(record?.error ?? "no exit record", damaged);
}

scenarioTest(
  "a process file whose table of page hashes is damaged fails an eager restore, and a lazy one or its application, named",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "16"], "lazymeta");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    const file = image.manifest.processes[0].file;
    // hashes_off at byte 1264, npages at 1272: the hash of the middle page (of the 16 MiB the
    // program wrote, which a lazy restore maps) changes, not the page.
    await flipByte(join(image.dir, file), (header) => {
      const npages = Number(header.getBigUint64(1272, true));
      assert.ok(npages >= 4096, `the image holds the 16 MiB (${npages} pages)`);
      return Number(header.getBigUint64(1264, true)) + Math.floor(npages / 2) * 8;
    });
    // An eager restore checks the table up front with the rest of the metadata.
    await assert.rejects(s.restore(image.dir, { name: "lazymeta" }), (e: Error) => {
      assert.ok(e instanceof ImageError, String(e));
      assert.match(e.message, new RegExp(`'${file.replace(".", "\\.")}'.*checksum`));
      return true;
    });
    assert.deepEqual(await appsNamedLike("lazymeta"), [], "no application was left behind");
    // A lazy restore maps the table unread: the entry fails against its page in the background
    // (or up front, if the check was quicker), the application ended, the page named.
    await lazyRestoreEnds(s, image.dir, "lazytable");
  },
);

/** Ways to spoil a compact tables.bin: its header is magic (8), version, size, npages, pad (4
 * each), then npages page indexes (4 each), then the pages. */
const SPOILED_TABLES: [string, (bytes: Uint8Array) => Uint8Array][] = [
  ["cut short by a byte", (b) => b.subarray(0, b.length - 1)],
  ["a byte too long", (b) => Uint8Array.of(...b, 0)],
  ["only its header", (b) => b.subarray(0, 24)],
  ["more pages than the table has", (b) => setWord(b, 16, 0xffffffff)],
  ["one page fewer than it holds", (b) => setWord(b, 16, word(b, 16) - 1)],
  ["a page index outside the table", (b) => setWord(b, 24 + 4, 1 << 20)],
  ["a page twice", (b) => setWord(b, 24 + 4, word(b, 24))],
];

function word(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

function setWord(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(at, value, true);
  return out;
}

scenarioTest(
  "tables.bin holds only the pages a fresh table does not have, restores, and a damaged one is refused naming it",
  async (s) => {
    const image = await counterImage(s);
    const path = join(image.dir, "tables.bin");
    const bytes = await Deno.readFile(path);
    assert.ok(bytes.length < 64 * 1024, `tables.bin is ${bytes.length} bytes`);
    assert.ok(word(bytes, 16) >= 2, "the test spoils a second page index");
    for (const [what, spoil] of SPOILED_TABLES) {
      const spoiled = join(s.dir, "spoiled-tables.bin");
      await Deno.writeFile(spoiled, spoil(bytes));
      const tables = join(s.dir, "tables");
      for (
        const read of [
          () => createTableFromImage(spoiled, tables, "t", "t"),
          () => imageVne(spoiled),
        ]
      ) {
        assert.throws(read, (e: Error) => {
          assert.ok(e instanceof ControlError && e.code === "EPROTO", `${what}: ${e}`);
          assert.ok(e.message.includes(spoiled), `${what}: ${e.message}`);
          return true;
        });
      }
      assert.ok(!existsSync(tables), `${what}: no tables were made`);
    }
    await s.restore(image.dir);
  },
);

scenarioTest("a truncated image is refused", async (s) => {
  const image = await counterImage(s);
  const path = join(image.dir, image.manifest.processes[0].file);
  await Deno.truncate(path, (await Deno.stat(path)).size - 4096);
  await assert.rejects(s.restore(image.dir), ImageError);
});

scenarioTest("a directory that is not an image is refused", async (s) => {
  const dir = join(s.dir, "foreign");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify({ format: "tar" }));
  await assert.rejects(s.restore(dir), /not an Amber image/);
});

scenarioTest("an image from another kernel or CPU is refused before anything starts", async (s) => {
  const image = await counterImage(s);
  const manifestPath = join(image.dir, "manifest.json");
  const original = await Deno.readTextFile(manifestPath);
  const manifest = JSON.parse(original);
  manifest.machine.vdsoHash = "0123456789abcdef";
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
  await assert.rejects(s.restore(image.dir), IncompatibleImageError);
  const cpu = JSON.parse(original);
  cpu.machine.xcr0 = "ffffffffffffffff";
  await Deno.writeTextFile(manifestPath, JSON.stringify(cpu));
  await assert.rejects(
    s.restore(image.dir),
    (e: Error) => e instanceof IncompatibleImageError && /CPU/.test(e.message),
  );
});

scenarioTest(
  "a process killed during a snapshot fails it cleanly and leaves no image",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "768"], "dying");
    await s.waitFor(/^ready$/m);
    const dir = join(s.dir, "half.amber");
    const pid = app.processes()[0].pid;
    // Written in the handler, not by a copy (which would finish the image: tests/cow_test.ts).
    const snapshot = app.snapshot({ dir, copyOnWrite: false });
    await sleep(60);
    Deno.kill(pid, "SIGKILL");
    await assert.rejects(snapshot, SnapshotError);
    assert.ok(!existsSync(dir), "no image directory");
    const leftovers = [...Deno.readDirSync(s.dir)].filter((e) => e.name.startsWith("half.amber"));
    assert.deepEqual(leftovers, [], "no temporary directory either");
  },
);

scenarioTest("a coordinator killed mid-snapshot leaves the application running", async (s) => {
  const app = await s.launch([prog("big_counter"), "1024"], "orphaned");
  await s.waitFor(/^tick 1$/m);
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const coordinator = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "snapshot", app.name, "-o", join(s.dir, "never.amber")],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await sleep(400); // it is frozen or writing by now
  coordinator.kill("SIGKILL");
  await coordinator.status;
  const ticks = () => s.text().then((t) => t.match(/^tick \d+$/gm)?.length ?? 0);
  const before = await ticks();
  // The agents finish what they were writing, notice the coordinator is gone, and resume.
  for (let waited = 0; waited < 20_000 && (await ticks()) <= before + 5; waited += 200) {
    await sleep(200);
  }
  assert.ok((await ticks()) > before + 5, "the application did not resume");
  assert.ok(!existsSync(join(s.dir, "never.amber")), "no image that looks whole");
}, 60_000);

scenarioTest(
  "an image whose mapped file changed since the snapshot is refused before anything starts",
  async (s) => {
    const file = join(s.dir, "mapped.bin");
    await Deno.writeTextFile(file, "a".repeat(3 * 4096));
    const app = await s.launch([prog("mapped_file"), s.dir, file], "mapped");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    await Deno.writeTextFile(file, "z".repeat(3 * 4096 + 1));
    await assert.rejects(s.restore(image), (e: Error) => {
      assert.ok(e instanceof IncompatibleImageError, String(e));
      assert.match(e.message, /mapped\.bin/);
      return true;
    });
  },
);
