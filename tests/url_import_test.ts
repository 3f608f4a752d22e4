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
async function counted(min) {
  for (let i = 0; i < 500; i++) {
    const text = await Deno.readTextFile(out).catch(() => "");
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
  await counted(frozen + 3);
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
