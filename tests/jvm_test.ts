/**
 * A JVM (Debian's OpenJDK) with worker threads and a large heap is snapshotted and restored: its
 * heap, threads, pid and garbage collector carry on.
 */

import assert from "node:assert/strict";
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
