/**
 * Amber's own files against another user and against faults: each test plants what an attacker
 * would, or makes the fault happen, and checks that Amber refuses with a clear message and that
 * nothing outside its files changed.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { launch } from "../mod.ts";
import { CLI, type Outcome, run } from "./cli_run.ts";
import { limitedTest } from "./support.ts";

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
