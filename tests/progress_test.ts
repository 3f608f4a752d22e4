// deno-lint-ignore-file no-control-regex -- the terminal output is matched with its escapes
/**
 * Progress on a terminal: `amber snapshot` and `amber restore` draw a progress line on stderr
 * when it is a terminal (run here under `script`, which gives the child a pseudo-terminal),
 * and nothing when it is not, or with --json.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { progressLine } from "../src/commands/progress_bar.ts";
import { amber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const MiB = 1 << 20;

/** Runs `amber ARGS...` on a pseudo-terminal; returns everything it wrote there. */
async function onTerminal(s: Scenario, ...args: string[]): Promise<{ code: number; out: string }> {
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  const line = [Deno.execPath(), "run", "-A", "--quiet", CLI, ...args].map(quote).join(" ");
  const result = await new Deno.Command("script", {
    args: ["-q", "-e", "-c", line, "/dev/null"],
    cwd: s.dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code: result.code, out: new TextDecoder().decode(result.stdout) };
}

Deno.test("a progress line says bytes, rate and time left", () => {
  const line = progressLine({ phase: "write", bytes: 2 * MiB, totalBytes: 8 * MiB }, 1000);
  assert.equal(line, "writing 2.0 MiB of 8.0 MiB, 2.0 MiB/s, 3 s left");
  assert.equal(progressLine({ phase: "freeze", bytes: 0 }, 0), "freezing");
  assert.equal(
    progressLine({ phase: "done", bytes: MiB, totalBytes: MiB }, 10),
    "done 1.0 MiB of 1.0 MiB",
  );
});

scenarioTest("snapshot and restore draw progress on a terminal, nothing elsewhere", async (s) => {
  const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "bar");
  await s.waitFor(/^ready$/m);
  const piped = await amber(s, "snapshot", app.name, "-o", "piped.amber");
  assert.equal(piped.code, 0);
  assert.equal(new TextDecoder().decode(piped.stderr), "", "nothing on stderr when not a terminal");
  const tty = await onTerminal(s, "snapshot", app.name, "-o", "tty.amber");
  assert.equal(tty.code, 0, tty.out);
  assert.match(tty.out, /\r\x1b\[K(freezing|writing|syncing) [\d.]+ (B|KiB|MiB)/);
  assert.match(tty.out, /Snapshot of '.*' written to 'tty.amber'/);
  const json = await onTerminal(s, "snapshot", app.name, "-o", "json.amber", "--json");
  assert.equal(json.code, 0, json.out);
  assert.doesNotMatch(json.out, /\x1b\[K/, "no progress with --json");
  await app.kill();
  const restored = await onTerminal(s, "restore", "tty.amber", "--detach", "--name", s.name("r"));
  assert.equal(restored.code, 0, restored.out);
  assert.match(restored.out, /\r\x1b\[Kverifying [\d.]+ (B|KiB|MiB) of [\d.]+ MiB/);
  const name = restored.out.trim().split(/\r?\n/).at(-1)!.replace(/^[\s\S]*\x1b\[K/, "");
  // Ended first: beside it, a restore of the same application's other image would say, rightly,
  // that the two have the same virtual pids.
  assert.equal((await amber(s, "kill", name)).code, 0, `kill ${name}`);
  const quiet = await amber(s, "restore", "piped.amber", "--detach", "--name", s.name("q"));
  assert.equal(new TextDecoder().decode(quiet.stderr), "");
  const other = new TextDecoder().decode(quiet.stdout).trim();
  assert.equal((await amber(s, "kill", other)).code, 0, `kill ${other}`);
});
