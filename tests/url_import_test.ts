/**
 * `mod.ts` imported by URL: the test serves this checkout over HTTP on loopback and runs a
 * fresh script, in a fresh folder with an empty Deno cache and no configuration, that imports
 * `mod.ts` by its http URL and launches, snapshots and restores a counter. Only
 * AMBER_BUILD_DIR says where the native parts are; without it the script fails with a message
 * that names what is missing and how to build it.
 */

import assert from "node:assert/strict";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { prog } from "./support.ts";
import { VERSION } from "../cli.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DENO = Deno.execPath();
const LIMIT_MS = 90_000;

/** Serves the checkout's files (read only, nothing outside it) on an ephemeral loopback port. */
function serveCheckout(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = normalize(join(ROOT, decodeURIComponent(new URL(request.url).pathname)));
    if (!path.startsWith(ROOT)) return new Response("outside the checkout", { status: 403 });
    try {
      const body = await Deno.readFile(path);
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** The user's script: only the URL of mod.ts, nothing from the checkout. */
function script(modUrl: string, out: string): string {
  return `import { launch, restore } from "${modUrl}";
const out = ${JSON.stringify(out)};
async function counted(min, from = 0) {
  for (let i = 0; i < 500; i++) {
    const text = (await Deno.readTextFile(out).catch(() => "")).slice(from);
    const counts = [...text.matchAll(/^count (\\d+)/gm)].map((m) => Number(m[1]));
    if (counts.length > 0 && counts.at(-1) >= min) return counts.at(-1);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the counter did not count to " + min);
}
const app = await launch([${
    JSON.stringify(prog("counter"))
  }, "20"], { name: "url-" + Date.now(), output: out });
const before = app.processes().map((p) => p.vpid);
const frozen = await counted(3);
const image = await app.snapshot({ dir: out + ".amber", stop: true });
const mark = (await Deno.readTextFile(out)).length;
const again = await restore(image, { name: "url-again-" + Date.now(), output: out });
try {
  await counted(frozen + 3, mark); // the restored counter's own lines, after the original's
  const resumed = Number(/^count (\\d+)/m.exec((await Deno.readTextFile(out)).slice(mark))[1]);
  console.log(JSON.stringify({ before, after: again.processes().map((p) => p.vpid), frozen, resumed }));
} finally {
  await again.kill();
}
`;
}

/** Runs the script with no configuration and an empty Deno cache, in a fresh folder. */
async function runScript(
  env: Record<string, string>,
): Promise<Deno.CommandOutput & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "amber-url-" });
  await using server = serveCheckout();
  const modUrl = `http://127.0.0.1:${server.addr.port}/mod.ts`;
  await Deno.writeTextFile(join(dir, "main.js"), script(modUrl, join(dir, "out")));
  const output = await new Deno.Command(DENO, {
    args: ["run", "-A", "--no-config", "--no-lock", "--quiet", "main.js"],
    cwd: dir,
    env: {
      ...outsideAmber(),
      DENO_DIR: join(dir, "deno-cache"),
      AMBER_STATE_DIR: join(dir, "state"),
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(LIMIT_MS - 5_000),
  }).output();
  return { ...output, dir };
}

/** This process's environment (the network's settings too) without Amber's own variables. */
function outsideAmber(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([key]) => !key.startsWith("AMBER_")),
  );
}

Deno.test({
  name: "a script that imports mod.ts by URL launches, snapshots and restores a counter",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const result = await runScript({ AMBER_BUILD_DIR: join(ROOT, "build") });
    try {
      const stderr = new TextDecoder().decode(result.stderr);
      assert.equal(result.code, 0, `The script failed:\n${stderr}`);
      const report = JSON.parse(new TextDecoder().decode(result.stdout));
      assert.ok(report.before.length > 0, "the counter has a process");
      assert.deepEqual(report.after, report.before, "the restored counter has its virtual pids");
      assert.ok(report.resumed >= report.frozen, `the restored counter goes on: ${stderr}`);
    } finally {
      await Deno.remove(result.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a script that imports mod.ts by URL without AMBER_BUILD_DIR is told how to build Amber",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const result = await runScript({});
    try {
      const stderr = new TextDecoder().decode(result.stderr);
      assert.notEqual(result.code, 0);
      assert.match(stderr, /not from a local checkout, and AMBER_BUILD_DIR is not set/);
      assert.match(stderr, /build them with 'make' in a checkout of Amber and set AMBER_BUILD_DIR/);
      assert.match(stderr, /libamberctl\.so|amber-supervisor/);
    } finally {
      await Deno.remove(result.dir, { recursive: true });
    }
  },
});

const PINNED_DENO = join(ROOT, "tools/deno/node_modules/deno/deno");

/** A fresh folder whose PATH starts with a `deno` that only records that it was called. */
async function installScene(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "amber-install-" });
  await Deno.mkdir(join(dir, "fake"));
  await Deno.writeTextFile(
    join(dir, "fake", "deno"),
    `#!/bin/sh\necho "$@" >> ${join(dir, "wrong-deno")}\nexit 97\n`,
    { mode: 0o755 },
  );
  const env = {
    ...outsideAmber(), // the network's settings (certificates, proxies) too
    PATH: `${join(dir, "fake")}:/usr/local/bin:/usr/bin:/bin`,
    HOME: dir,
    DENO_DIR: join(dir, "deno-cache"),
    AMBER_STATE_DIR: join(dir, "state"),
    NO_COLOR: "1",
  };
  return { dir, env };
}

/** Runs a program in `dir` with only `env`, optionally feeding `input`; time-limited. */
async function runIn(
  dir: string,
  env: Record<string, string>,
  argv: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: dir,
    env,
    clearEnv: true,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** The installed launcher runs with the pinned Deno, whatever `deno` is first on PATH. */
async function checkLauncher(dir: string, env: Record<string, string>): Promise<void> {
  const amber = join(dir, "inst", "bin", "amber");
  const launcher = await Deno.readTextFile(amber);
  assert.match(launcher, new RegExp(`^exec '${PINNED_DENO}' run `, "m"));
  const version = await runIn(dir, env, [amber, "--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);
  const check = await runIn(dir, env, [amber, "check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).ok, true);
  assert.equal(await Deno.readTextFile(join(dir, "wrong-deno")).catch(() => ""), "");
}

Deno.test({
  name: "tools/install.sh from the checkout: `amber` runs with the pinned Deno",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { dir, env } = await installScene();
    try {
      const install = await runIn(dir, env, [
        "sh",
        join(ROOT, "tools/install.sh"),
        "--root",
        join(dir, "inst"),
      ]);
      assert.equal(install.code, 0, install.stderr);
      assert.match(install.stdout, /^Installed .*\/inst\/bin\/amber \(Deno [0-9.]+ at /m);
      await checkLauncher(dir, env);
      const wrong = await runIn(dir, env, [
        "sh",
        join(ROOT, "tools/install.sh"),
        "--root",
        join(dir, "inst2"),
        "--deno",
        join(dir, "fake", "deno"),
      ]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /is Deno of unknown version; Amber pins Deno [0-9.]+/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "install.sh piped from a URL: `amber` runs the served cli.ts with the pinned Deno",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { dir, env } = await installScene();
    await using server = serveCheckout();
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      // As `curl -fsSL BASE/tools/install.sh | sh -s -- --url BASE ...`, from a fresh folder.
      const script = await (await fetch(`${base}/tools/install.sh`)).text();
      const install = await runIn(dir, env, [
        "sh",
        "-s",
        "--",
        "--url",
        base,
        "--root",
        join(dir, "inst"),
        "--deno",
        PINNED_DENO,
        "--build-dir",
        join(ROOT, "build"),
      ], script);
      assert.equal(install.code, 0, install.stderr);
      const launcher = await Deno.readTextFile(join(dir, "inst", "bin", "amber"));
      assert.match(launcher, new RegExp(`'${base}/cli\\.ts' "\\$@"$`, "m"));
      await checkLauncher(dir, env);
      // The installed command does Amber's job: run, snapshot, restore.
      const amber = join(dir, "inst", "bin", "amber");
      const name = `inst-${Date.now()}`;
      const out = join(dir, "out");
      const started = await runIn(dir, env, [
        amber,
        "run",
        "--detach",
        "--name",
        name,
        "--output",
        out,
        "--",
        prog("counter"),
        "20",
      ]);
      assert.equal(started.code, 0, started.stderr);
      const snap = await runIn(dir, env, [amber, "snapshot", name, "--stop", "-o", `${out}.amber`]);
      assert.equal(snap.code, 0, snap.stderr);
      const again = await runIn(dir, env, [amber, "restore", `${out}.amber`, "--detach"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim(), name);
      const ps = await runIn(dir, env, [amber, "ps", "--json"]);
      assert.match(ps.stdout, new RegExp(`"${name}"`));
      await runIn(dir, env, [amber, "kill", name]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
