/**
 * A JVM (Debian's OpenJDK) with worker threads and a large heap is snapshotted and restored: its
 * heap, threads, pid and garbage collector carry on. Two JVMs at once have different pids, and
 * so their own hsperfdata files (src/vpid_range.ts).
 */

import assert from "node:assert/strict";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { scenarioTest } from "./support.ts";

const SOURCE = fileURLToPath(new URL("./progs/JvmState.java", import.meta.url));

async function javac(dir: string): Promise<void> {
  const out = await new Deno.Command("javac", { args: ["-d", dir, SOURCE] }).output()
    .catch((e) => assert.fail(`javac is not installed (make deps installs it): ${e}`));
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

scenarioTest(
  "a JVM keeps its heap, threads and pid across a snapshot and restore, twice",
  async (s) => {
    await javac(s.dir);
    const app = await s.launch(["java", "-Xmx256m", "-cp", s.dir, "JvmState", s.dir], "jvm");
    await s.waitFor(/^ready$/m);
    const first = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(first, "second"));
    await s.pass();
  },
  120_000,
);

/** The JVM's performance data file, named by its pid (a virtual one under Amber). */
function hsperfdata(pid: number): string {
  return join(tmpdir(), `hsperfdata_${userInfo().username}`, String(pid));
}

scenarioTest(
  "two JVMs at once keep their own hsperfdata files: one's exit does not remove the other's, which a restore maps",
  async (s) => {
    await javac(s.dir);
    const [a, b] = [join(s.dir, "a"), join(s.dir, "b")];
    await Promise.all([Deno.mkdir(a), Deno.mkdir(b)]);
    const jvm = (dir: string, tag: string) =>
      s.launch(["java", "-Xmx256m", "-cp", s.dir, "JvmState", dir], tag);
    const [first, second] = await Promise.all([jvm(a, "jvm-a"), jvm(b, "jvm-b")]);
    await s.waitFor(/^ready$[^]*^ready$/m, "both JVMs ready");
    const [pidA, pidB] = [first, second].map((app) => app.processes()[0].vpid);
    assert.notEqual(pidA, pidB, "the two JVMs have the same pid");
    assert.ok(await exists(hsperfdata(pidB)), hsperfdata(pidB));
    await Deno.writeTextFile(join(a, "go"), "");
    assert.equal((await first.wait()).code, 0, await s.text());
    assert.ok(await exists(hsperfdata(pidB)), "the first JVM's exit removed the second's file");
    await s.restore(await s.freeze(second));
    await Deno.writeTextFile(join(b, "go"), "");
    await s.waitFor(/^PASS$[^]*^PASS$/m, "the second JVM's PASS");
  },
  150_000,
);

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}
