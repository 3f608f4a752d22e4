/**
 * Amber's own files against another user and against faults: each test plants what an attacker
 * would, or makes the fault happen, and checks that Amber refuses with a clear message and that
 * nothing outside its files changed.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileHash } from "../ffi/control.ts";
import { type App, launch, type Manifest } from "../mod.ts";
import { CLI, type Outcome, run } from "./cli_run.ts";
import { exists, poll } from "../src/wait.ts";
import { limitedTest, prog, scenarioTest } from "./support.ts";

/** Runs `amber ARGS...` with `env` (and NO_COLOR). */
function amber(env: Record<string, string>, ...args: string[]): Promise<Outcome> {
  return run(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], { NO_COLOR: "1", ...env });
}

/** A scratch directory (mode 0755, so that `nobody` can enter it), removed afterwards. */
async function scratch(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "amber-safety-" });
  await Deno.chmod(path, 0o755);
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

const NOBODY = 65534;

Deno.test("a link planted where the state directory goes is refused, its target untouched", async () => {
  await using tmp = await scratch();
  const dir = tmp.path;
  const victim = join(dir, "etc");
  await Deno.mkdir(victim, { mode: 0o755 });
  await Deno.chmod(victim, 0o755);
  const link = join(dir, "amber-state");
  await Deno.symlink(victim, link);
  const { code, stderr } = await amber({ AMBER_STATE_DIR: link }, "ps");
  assert.equal(code, 1, stderr);
  assert.match(stderr, /not a private directory of this user: it is a symbolic link/);
  assert.equal((await Deno.stat(victim)).mode! & 0o777, 0o755);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(victim)), []);
});

Deno.test("a dangling link planted where the state directory goes makes nothing", async () => {
  await using tmp = await scratch();
  const dir = tmp.path;
  const link = join(dir, "amber-state");
  await Deno.symlink(join(dir, "made-by-amber"), link);
  const { code, stderr } = await amber({ AMBER_STATE_DIR: link }, "ps");
  assert.equal(code, 1, stderr);
  assert.match(stderr, /symbolic link/);
  await assert.rejects(Deno.lstat(join(dir, "made-by-amber")), Deno.errors.NotFound);
});

Deno.test("a state directory made first by another user is refused", async () => {
  await using tmp = await scratch();
  const dir = tmp.path;
  const planted = join(dir, "amber-state");
  await Deno.mkdir(planted, { mode: 0o700 });
  await Deno.chown(planted, NOBODY, NOBODY);
  const { code, stderr } = await amber({ AMBER_STATE_DIR: planted }, "ps");
  assert.equal(code, 1, stderr);
  assert.match(stderr, new RegExp(`owned by uid ${NOBODY}, not by this user`));
});

Deno.test("a state directory open to others is refused; a fresh one is made mode 0700", async () => {
  await using tmp = await scratch();
  const dir = tmp.path;
  const open = join(dir, "open");
  await Deno.mkdir(open);
  await Deno.chmod(open, 0o777);
  const refused = await amber({ AMBER_STATE_DIR: open }, "ps");
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /its mode is 0777, open to other users/);
  const fresh = join(dir, "a", "fresh");
  const made = await amber({ AMBER_STATE_DIR: fresh }, "ps");
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await Deno.lstat(fresh)).mode! & 0o777, 0o700);
  assert.equal((await Deno.lstat(join(fresh, "apps"))).mode! & 0o777, 0o700);
});

Deno.test("a link planted as the state directory's apps directory is refused", async () => {
  await using tmp = await scratch();
  const dir = tmp.path;
  const state = join(dir, "state");
  await Deno.mkdir(state, { mode: 0o700 });
  const victim = join(dir, "victim");
  await Deno.mkdir(victim, { mode: 0o755 });
  await Deno.chmod(victim, 0o755);
  await Deno.symlink(victim, join(state, "apps"));
  const { code, stderr } = await amber({ AMBER_STATE_DIR: state }, "ps");
  assert.equal(code, 1, stderr);
  assert.match(stderr, /symbolic link/);
  assert.equal((await Deno.stat(victim)).mode! & 0o777, 0o755);
});

Deno.test("a state directory path longer than Amber's limit is refused, not cut short", async () => {
  await using tmp = await scratch();
  const long = join(tmp.path, "s".repeat(200), "t".repeat(200));
  const { code, stderr } = await amber({ AMBER_STATE_DIR: long }, "ps");
  assert.equal(code, 1, stderr);
  assert.match(stderr, /its path is \d+ bytes long, more than the 400 Amber accepts/);
  await assert.rejects(Deno.lstat(long), Deno.errors.NotFound);
});

limitedTest(
  "an image path longer than Amber's limit is refused at snapshot and at restore",
  async () => await scratch(),
  async (tmp) => {
    await using app = await launch(["sleep", "60"], { detach: true });
    const long = join(tmp.path, "i".repeat(250), "j".repeat(250) + ".amber");
    await assert.rejects(
      app.snapshot({ dir: long, stop: true }),
      /Cannot snapshot '.*': its path is \d+ bytes long, more than the 498 Amber accepts/,
    );
    await assert.rejects(Deno.lstat(join(tmp.path, "i".repeat(250))), Deno.errors.NotFound);
    assert.equal(app.processes().length, 1, "the application runs on");
    const image = await app.snapshot({ dir: join(tmp.path, "sleep.amber") });
    const state = join(tmp.path, "state-" + "x".repeat(70));
    const { code, stderr } = await amber({ AMBER_STATE_DIR: state }, "restore", image.dir);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /its application directory's path is \d+ bytes long, more than the 100/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(state, "apps"))), []);
  },
  60_000,
);

/** An image of a sleeping program, made once for the tests that spoil copies of it. */
let sleepImage: string | undefined;
async function imageCopy(into: string): Promise<string> {
  if (!sleepImage) {
    const dir = await Deno.makeTempDir({ prefix: "amber-safety-image-" });
    await using app = await launch(["sleep", "60"], { detach: true });
    sleepImage = (await app.snapshot({ dir: join(dir, "sleep.amber") })).dir;
    await app.kill();
  }
  const copy = join(into, "copy.amber");
  const cp = await run("cp", ["-a", sleepImage, copy]);
  assert.equal(cp.code, 0, cp.stderr);
  return copy;
}

/** Replaces `name` in `image` with what `make` puts at its path. */
async function spoil(image: string, name: string, make: (path: string) => Promise<void>) {
  await Deno.remove(join(image, name));
  await make(join(image, name));
}

const secret = async (dir: string) => {
  const path = join(dir, "secret");
  await Deno.writeTextFile(path, "x".repeat(4321));
  return path;
};

const NOT_REGULAR = [
  {
    what: "a link to another file",
    kind: "link",
    make: async (path: string, dir: string) => await Deno.symlink(await secret(dir), path),
  },
  {
    what: "a FIFO",
    kind: "FIFO",
    make: async (path: string) => assert.equal((await run("mkfifo", [path])).code, 0),
  },
  {
    what: "a device",
    kind: "device",
    make: async (path: string) => assert.equal((await run("mknod", [path, "c", "1", "3"])).code, 0),
  },
  { what: "a directory", kind: "directory", make: (path: string) => Deno.mkdir(path) },
] as const;

for (const { what, kind, make } of NOT_REGULAR) {
  for (const name of ["manifest.json", "tables.bin", "process-VPID.img"]) {
    limitedTest(
      `an image whose ${name} is ${what} is refused at once, naming it`,
      async () => await scratch(),
      async (tmp) => {
        const image = await imageCopy(tmp.path);
        const file = name.replace("process-VPID.img", processFile(image));
        await spoil(image, file, (path) => make(path, tmp.path));
        const state = join(tmp.path, "state");
        for (const command of ["inspect", "restore"]) {
          const { code, stdout, stderr } = await amber({ AMBER_STATE_DIR: state }, command, image);
          assert.equal(code, 1, `${command}: ${stdout}${stderr}`);
          const named = file === "manifest.json"
            ? `its manifest.json is a ${kind}, not a regular file`
            : `file '${file}' is a ${kind}, not a regular file`;
          assert.ok(stderr.includes(named), `${command} said: ${stderr}`);
          assert.ok(!`${stdout}${stderr}`.includes("4321"), "the linked file's size leaked");
        }
      },
      60_000,
    );
  }
}

globalThis.addEventListener("unload", () => {
  if (sleepImage) Deno.removeSync(join(sleepImage, ".."), { recursive: true });
});

/** The name of the image's one process file. */
function processFile(image: string): string {
  return [...Deno.readDirSync(image)].map((e) => e.name).find((n) => /^process-\d+\.img$/.test(n))!;
}

/** Rewrites the image's manifest with `edit`. */
async function editManifest(image: string, edit: (manifest: Manifest) => void): Promise<void> {
  const path = join(image, "manifest.json");
  const manifest = JSON.parse(await Deno.readTextFile(path));
  edit(manifest);
  await Deno.writeTextFile(path, JSON.stringify(manifest));
}

limitedTest(
  "a manifest that names a process file outside the image, or another one, is refused",
  async () => await scratch(),
  async (tmp) => {
    const image = await imageCopy(tmp.path);
    const state = join(tmp.path, "state");
    const file = processFile(image);
    for (const name of [`../${file}`, "/etc/passwd", "tables.bin"]) {
      await editManifest(image, (m) => {
        m.processes[0].file = name;
        m.files.push({ ...m.files.find((f) => f.name === file)!, name });
      });
      const { code, stderr } = await amber({ AMBER_STATE_DIR: state }, "restore", image);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /is not an Amber image: (files|processes)\./, name);
      await editManifest(image, (m) => {
        m.processes[0].file = file;
        m.files.pop();
      });
    }
  },
  60_000,
);

limitedTest(
  "a process file whose counts or offsets lie outside it is refused by the restore, clearly",
  async () => await scratch(),
  async (tmp) => {
    const state = join(tmp.path, "state");
    // The header: magic (8), version, header_size, vpid, nthreads, nregions, nruns, nfds, pad
    // (4 each), then the tables' offsets (8 each).
    const spoilings = [
      { at: 24, value: 0xffffffffn, bytes: 4, says: /its counts are out of range/ },
      { at: 28, value: 262144n, bytes: 4, says: /its tables lie outside the file/ },
      { at: 48, value: 1n << 40n, bytes: 8, says: /its tables lie outside the file/ },
    ];
    for (const { at, value, bytes, says } of spoilings) {
      const image = await imageCopy(tmp.path);
      const file = processFile(image);
      const path = join(image, file);
      const data = await Deno.readFile(path);
      const view = new DataView(data.buffer);
      if (bytes === 4) view.setUint32(at, Number(value), true);
      else view.setBigUint64(at, value, true);
      await Deno.writeFile(path, data);
      const hash = await fileHash(path);
      // As an attacker would: the file's hash made right, its metadata hash dropped (an image
      // without one is checked whole up front), so that only the restorer's own checks stand.
      await editManifest(image, (m) => {
        const entry = m.files.find((f) => f.name === file)!;
        entry.hash = hash;
        delete entry.metaHash;
        delete entry.headHash;
      });
      const { code, stderr } = await amber({ AMBER_STATE_DIR: state }, "restore", image);
      assert.equal(code, 1, stderr);
      assert.match(stderr, says);
      await Deno.remove(image, { recursive: true });
    }
  },
  90_000,
);

/** A small tmpfs of `bytes` that the test mounts on a directory of its own, and unmounts. */
async function smallDisk(bytes: number): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "amber-safety-disk-" });
  const mount = await run("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "tmpfs", path]);
  assert.equal(mount.code, 0, `mount: ${mount.stderr}`);
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await run("umount", ["-l", path]);
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** How many bytes of tmpfs the files of `image` but its manifest take (whole pages). */
function pagesBut(image: string, but: string): number {
  let bytes = 0;
  for (const entry of Deno.readDirSync(image)) {
    if (entry.name.startsWith(but)) continue;
    bytes += Math.ceil(Deno.statSync(join(image, entry.name)).size / 4096) * 4096;
  }
  return bytes;
}

/**
 * The image of `app` as a second snapshot makes it (the first may touch a page more), its
 * process files as written: not packed (AMBER_PACK=off, ctl_share_pages.c), which makes them
 * smaller after.
 */
async function sizedImage(app: App, dir: string): Promise<string> {
  await app.snapshot({ dir: join(dir, "sized-1.amber") });
  Deno.env.set("AMBER_PACK", "off");
  try {
    return (await app.snapshot({ dir: join(dir, "sized-2.amber") })).dir;
  } finally {
    Deno.env.delete("AMBER_PACK");
  }
}

const FULL_DISKS = [
  // The credentials (a page) fit, the tables (their header page and a page of rows, at least,
  // and the file's header) do not.
  { when: "at the tables", room: () => 8192, says: /cannot write the tables into/ },
  {
    // The credentials are written while the agents write the process files (snapshot.ts): on a
    // loaded machine the disk the agents filled refuses them first.
    when: "at the process files",
    room: (sized: string) => pagesBut(sized, "process-") + (1 << 20),
    says: /process \d+: cannot write|writefile '[^']+\/credentials\.bin'/,
  },
  {
    // The process files fit as written; packing them (a copy) does not: they stay whole.
    when: "at the manifest",
    room: (sized: string) => pagesBut(sized, "manifest.json") + 4096,
    says: /cannot make the image durable/,
  },
];

for (const { room, when, says } of FULL_DISKS) {
  scenarioTest(`snapshot --stop onto a disk full ${when} fails, the program runs on`, async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "4"], "full");
    await s.waitFor(/^ready$/m, "ready");
    await using disk = await smallDisk(room(await sizedImage(app, s.dir)));
    const target = join(disk.path, "app.amber");
    const { code, stderr } = await amber(
      { AMBER_STATE_DIR: Deno.env.get("AMBER_STATE_DIR") ?? "" },
      "snapshot",
      app.name,
      "-o",
      target,
      "--stop",
    );
    assert.equal(code, 1, stderr);
    assert.match(stderr, says);
    assert.match(stderr, /ENOSPC: no space left on device/);
    assert.match(stderr, /; it keeps running/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(disk.path)), [], "something was left");
    assert.equal(app.processes().length, 1, "the application was ended");
    await s.pass();
  });
}

scenarioTest(
  "a restored application's broker hangs up on another user, keeps its owner",
  async (s) => {
    const app = await s.launch([prog("pipe_stream"), s.dir], "broker");
    await s.waitFor(/^ready$/m, "ready");
    const restored = await s.restore(await s.freeze(app));
    const socket = join(restored.dir, "broker.sock");
    // `nobody` reaches the socket, as a process of the application that dropped its
    // privileges could (through a descriptor it holds): the broker itself must refuse it.
    await Deno.chmod(socket, 0o777);
    const nobody = await run(prog("unix_probe"), [socket, `${NOBODY}`]);
    assert.equal(nobody.stdout.trim(), "closed", nobody.stderr);
    const owner = await run(prog("unix_probe"), [socket]);
    assert.equal(owner.stdout.trim(), "open", owner.stderr);
    await s.pass();
  },
);

limitedTest(
  "an application whose state directory was removed is listed, ended, and not started twice",
  async () => await scratch(),
  async (tmp) => {
    const env = { AMBER_STATE_DIR: join(tmp.path, "state") };
    const started = await amber(env, "run", "--detach", "--name", "orph", "--", "sleep", "60");
    assert.equal(started.code, 0, started.stderr);
    const pids = [...(await amber(env, "ps")).stdout.matchAll(/running\s+\d+\s+(\d+)\s/g)];
    assert.equal(pids.length, 1, "the program's pid is listed");
    await Deno.remove(env.AMBER_STATE_DIR, { recursive: true });
    const ps = await amber(env, "ps");
    const listed = /^orph .*state directory gone \(supervisor pid (\d+)\)/m.exec(ps.stdout);
    assert.ok(listed, `ps said: ${ps.stdout}${ps.stderr}`);
    const again = await amber(env, "run", "--detach", "--name", "orph", "--", "sleep", "60");
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /'orph' still runs .* removed or replaced/);
    const killed = await amber(env, "kill", "orph");
    assert.equal(killed.code, 0, killed.stderr);
    for (const pid of [Number(listed[1]), ...pids.map((m) => Number(m[1]))]) {
      const gone = await poll(async () => !(await exists(`/proc/${pid}/cmdline`)), 5_000);
      assert.ok(gone, `process ${pid} still runs`);
    }
    const fresh = await amber(env, "run", "--detach", "--name", "orph", "--", "sleep", "60");
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal((await amber(env, "kill", "orph")).code, 0);
  },
  60_000,
);
