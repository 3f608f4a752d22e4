/**
 * Applications whose processes run as different users: a server started by root whose child
 * drops to nobody (and may exec). Each process keeps exactly the access it had: the child's
 * library reaches the tables through an inherited descriptor, its process file is handed to it
 * by the coordinator (the image directory stays private to root), and it comes back as nobody.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { createTableFromImage, fileHash, Table } from "../ffi/control.ts";
import { newAppId } from "../src/names.ts";
import { makeAppDir } from "../src/paths.ts";
import { Supervisor } from "../src/supervisor.ts";
import { completeStreamedImage } from "../src/migrate/incoming.ts";
import { streamSnapshot } from "../src/migrate/outgoing.ts";
import { unpackImage } from "../src/migrate/stream.ts";
import type { Image } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const ROOT = Deno.uid() === 0;

/** A private directory for images, inside a scenario directory that nobody may search. */
async function privateDir(s: Scenario): Promise<string> {
  await Deno.chmod(s.dir, 0o755); // the child, nobody, must see `go`
  const dir = join(s.dir, "private");
  await Deno.mkdir(dir, { mode: 0o700 });
  return dir;
}

/** `argv` launched and ready, with a private directory for its images. */
async function readyApp(s: Scenario, argv: string[], tag: string) {
  const images = await privateDir(s);
  const app = await s.launch(argv, tag);
  await s.waitFor(/^ready$/m);
  return { app, images };
}

/** An image of `argv` once it is ready, taken with stop, in a private directory. */
async function frozenImage(s: Scenario, argv: string[], tag: string): Promise<Image> {
  const { app, images } = await readyApp(s, argv, tag);
  return await app.snapshot({ dir: join(images, `${tag}.amber`), stop: true });
}

/** Snapshot without stop, end the original, restore; snapshot that with stop, restore; go. */
async function twoCycles(s: Scenario, mode: string): Promise<void> {
  const { app, images } = await readyApp(s, [prog("switch_user"), s.dir, mode], `switch-${mode}`);
  const first = await app.snapshot({ dir: join(images, "first.amber") });
  await app.kill();
  for await (const entry of Deno.readDir(first.dir)) {
    const info = await Deno.stat(join(first.dir, entry.name));
    assert.equal(info.uid, 0, `${entry.name} belongs to uid ${info.uid}`);
    assert.equal(info.mode! & 0o777, 0o600, `${entry.name} has mode ${info.mode!.toString(8)}`);
  }
  const again = await s.restore(first);
  assert.equal(again.processes().length, 2);
  // Incremental: the child, nobody, may not read the parent image, and writes all its pages.
  const second = await again.snapshot({
    dir: join(images, "second.amber"),
    parent: first,
    stop: true,
  });
  await s.restore(second, { lazy: true }); // pages read when touched, by processes of two users
  await s.pass();
}

scenarioTest(
  "a child that switched to nobody comes back as nobody, with and without stop, twice",
  async (s) => {
    if (!ROOT) return; // it needs root to switch users
    await twoCycles(s, "fork");
  },
);

scenarioTest(
  "a child that switched to nobody and exec'd stays under Amber and comes back as nobody",
  async (s) => {
    if (!ROOT) return;
    await twoCycles(s, "exec");
  },
);

scenarioTest(
  "a process running without Amber's library is named and the snapshot refused; it runs on",
  async (s) => {
    if (!ROOT) return;
    const { app, images } = await readyApp(s, [prog("switch_user"), s.dir, "bare"], "switch-bare");
    await assert.rejects(
      app.snapshot({ dir: join(images, "bare.amber"), stop: true }),
      /process \d+ \(pid \d+, sleep\) runs without Amber's library.*it keeps running/,
    );
    assert.deepEqual(app.processes().map((p) => p.alive), [true, true]);
  },
);

const NOBODY = 65534;

/**
 * What a user who owns an image can do to it: rewrite the recorded credentials of every
 * process, fix the file's hash in the manifest (hashes prove integrity, not authorship), and
 * own it all, as if she had written it. With `uid` null she removes the file instead.
 */
async function takeOver(image: string, uid: number | null, gid = 0): Promise<void> {
  const path = join(image, "credentials.bin");
  const manifestPath = join(image, "manifest.json");
  const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  const entry = manifest.files.find((f: { name: string }) => f.name === "credentials.bin");
  if (uid === null) {
    await Deno.remove(path);
    manifest.files = manifest.files.filter((f: { name: string }) => f !== entry);
  } else {
    await rewrite(path, uid, gid);
    entry.hash = await fileHash(path);
  }
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  await giveToNobody(image);
}

/** The image and its files become nobody's, and the directory she keeps them in. */
async function giveToNobody(image: string): Promise<void> {
  for await (const file of Deno.readDir(image)) {
    await Deno.chown(join(image, file.name), NOBODY, NOBODY);
  }
  await Deno.chown(image, NOBODY, NOBODY);
  await Deno.chown(dirname(image), NOBODY, NOBODY);
}

async function rewrite(path: string, uid: number, gid: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  const RECORD = 8 + 24 + 64 * 4 + 16 * 16 + 8; // struct amber_creds_rec
  assert.ok(bytes.length > 0 && bytes.length % RECORD === 0, "credentials.bin has records");
  for (let at = 0; at < bytes.length; at += RECORD) {
    view.setUint32(at + 4, 0, true); // no supplementary groups
    for (let k = 0; k < 3; k++) view.setUint32(at + 8 + 4 * k, uid, true);
    for (let k = 0; k < 3; k++) view.setUint32(at + 20 + 4 * k, gid, true);
  }
  await Deno.writeFile(path, bytes);
}

scenarioTest(
  "root restoring a user's image whose credentials she edited to root refuses it",
  async (s) => {
    if (!ROOT) return;
    const image = await frozenImage(s, [prog("switch_user"), s.dir, "report"], "switch-attack");
    await takeOver(image.dir, 0, 0);
    await assert.rejects(
      s.restore(image.dir),
      /process \d+ would run with uid 0, which the image's owner \(nobody, uid 65534\) does not have/,
    );
  },
);

scenarioTest(
  "root restoring a root process's image that a user took over runs it as her, whatever it says",
  async (s) => {
    if (!ROOT) return;
    const image = await frozenImage(s, [prog("switch_user"), s.dir, "report"], "switch-owned");
    await takeOver(image.dir, null); // no recorded credentials; its memory still says root
    await s.restore(image.dir);
    const text = await s.pass();
    assert.match(text, /^uid 65534 euid 65534 gid 65534$/m);
  },
);

/** What the user does to her own file while root holds her image: it points at /etc/shadow. */
async function linkToShadow(s: Scenario): Promise<void> {
  const data = join(s.dir, "user", "data");
  await Deno.remove(data);
  await Deno.symlink("/etc/shadow", data);
}

scenarioTest("a file the restored process holds comes back as the same file", async (s) => {
  if (!ROOT) return;
  const image = await frozenImage(s, [prog("file_swap"), s.dir], "file-same");
  await takeOver(image.dir, null); // hers: restored as her
  await s.restore(image.dir);
  await s.pass();
});

scenarioTest(
  "a saved file a user replaced with a link to /etc/shadow is refused, her image or root's",
  async (s) => {
    if (!ROOT) return;
    const image = await frozenImage(s, [prog("file_swap"), s.dir], "file-link");
    await linkToShadow(s);
    const refused =
      /descriptor 3: .*\/user\/data is not the file it had open \(replaced since the snapshot, by a symbolic link\)/;
    await assert.rejects(s.restore(image.dir), refused); // root's image: no link is followed
    await takeOver(image.dir, null);
    await assert.rejects(s.restore(image.dir), refused); // hers: reopened as her, no link
  },
);

scenarioTest("a saved file replaced by another one is refused, naming it", async (s) => {
  if (!ROOT) return;
  const image = await frozenImage(s, [prog("file_swap"), s.dir], "file-other");
  const data = join(s.dir, "user", "data");
  await Deno.remove(data); // its inode number may well be the next file's
  await Deno.writeTextFile(data, "HELLO"); // the same size, another file
  await Deno.utime(data, 0, 0);
  await assert.rejects(
    s.restore(image.dir),
    /descriptor 3: .*\/user\/data is not the file it had open \(replaced since the snapshot\)/,
  );
});

scenarioTest(
  "a file opened as root by a process that became nobody is refused at the snapshot",
  async (s) => {
    if (!ROOT) return;
    const { app, images } = await readyApp(s, [prog("file_swap"), s.dir, "shadow"], "file-shadow");
    await assert.rejects(
      app.snapshot({ dir: join(images, "file.amber"), stop: true }),
      /process \d+: descriptor 3 is a file this process could not open again as itself.*\(\/etc\/shadow\).*it keeps running/,
    );
    assert.equal(app.processes()[0].alive, true);
  },
);

/** A program started by root through `launcher` as nobody: two cycles, then who it is. */
async function startedAsNobody(s: Scenario, launcher: string[]): Promise<void> {
  const { app, images } = await readyApp(
    s,
    [...launcher, prog("switch_user"), s.dir, "report"],
    launcher[0],
  );
  const first = await app.snapshot({ dir: join(images, "first.amber") });
  await app.kill();
  const again = await s.restore(first);
  const second = await again.snapshot({ dir: join(images, "second.amber"), stop: true });
  await s.restore(second);
  const text = await s.pass();
  assert.match(text, /^uid 65534 euid 65534 gid 65534$/m);
}

scenarioTest(
  "a program started by root through runuser comes back as the user it runs as, twice",
  async (s) => {
    if (ROOT) await startedAsNobody(s, ["runuser", "-u", "nobody", "--"]);
  },
);

scenarioTest(
  "a program started by root through setpriv comes back as the user it runs as, twice",
  async (s) => {
    const setpriv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    if (ROOT) await startedAsNobody(s, setpriv);
  },
);

scenarioTest(
  "a pid a process writes into its application's tables is not signalled by kill or snapshot",
  async (s) => {
    if (!ROOT) return;
    const images = await privateDir(s);
    await using victim = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const app = await s.launch([prog("forge_row"), s.dir, String(victim.pid)], "forge");
    await s.waitFor(/^ready$/m);
    assert.ok(app.processes().some((p) => p.pid === victim.pid), "the forged row is there");
    await assert.rejects(
      app.snapshot({ dir: join(images, "forged.amber") }),
      /its tables name a process that is not one of its own/,
    );
    await app.kill();
    const alive = await Deno.stat(`/proc/${victim.pid}/stat`).then(() => true, () => false);
    assert.ok(alive, "the victim was killed");
    victim.kill("SIGKILL");
  },
);

scenarioTest(
  "the restorer itself refuses credentials above its ceiling (the image may change after checks)",
  async (s) => {
    if (!ROOT) return;
    const image = await frozenImage(s, [prog("switch_user"), s.dir, "report"], "ceiling");
    // What restore() does after its own checks passed, when the image (hers) then says root.
    await giveToNobody(image.dir);
    const name = s.name("ceiling");
    const dir = makeAppDir(name);
    createTableFromImage(join(image.dir, "tables.bin"), join(dir, "tables"), newAppId(), name);
    using table = Table.open(join(dir, "tables"));
    await table.ipcRestore(image.dir);
    const supervisor = Supervisor.spawn("restore", [dir, image.dir], {
      output: s.output,
      as: `${NOBODY}:${NOBODY}:${NOBODY}`,
    });
    const { code } = await supervisor.child.status;
    assert.notEqual(code, 0);
    assert.match(
      table.info().error,
      /process \d+: its image asks for uid 0, which the image's owner \(uid 65534\) did not have/,
    );
  },
);

scenarioTest(
  "a migration's streamed snapshot of a two-user application hands the child its FIFO",
  async (s) => {
    if (!ROOT) return;
    const { app, images } = await readyApp(
      s,
      [prog("switch_user"), s.dir, "exec"],
      "switch-stream",
    );
    const work = join(images, "outgoing"); // the child, nobody, cannot reach its FIFO here
    await Deno.mkdir(work, { mode: 0o700 });
    const parts: Uint8Array[] = [];
    const sink = {
      send: (chunk: Uint8Array[]) => {
        for (const part of chunk) parts.push(part.slice());
        return Promise.resolve();
      },
      abort: () => {},
    };
    const sent = await streamSnapshot(app, sink, { work, timeoutMs: 30_000 });
    assert.equal(sent.processFiles, 2);
    await app.kill();
    const dir = join(images, "received.amber");
    const unpacked = await unpackImage(ReadableStream.from(parts), dir);
    await completeStreamedImage(dir, unpacked.trailers);
    await s.restore(dir);
    await s.pass();
  },
);

scenarioTest(
  "threads that changed their own credentials (a raw setresuid to nobody, a setfsuid) keep them, and the main thread stays root, running and after two restores",
  async (s) => {
    if (!ROOT) throw new Error("this test runs as root (its threads switch users)");
    await s.cycles([prog("thread_creds"), s.dir], "thread-creds");
  },
);
