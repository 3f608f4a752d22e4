/**
 * An application whose tables another version of Amber made (their layout differs, so they
 * cannot be read) is listed as stale and removed by `amber kill`, which ends its processes too
 * when they still run: it does not stop `amber ps` from listing the others.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { appDir, TABLES_FILE } from "../src/paths.ts";
import { amber } from "./cli_support.ts";
import { CLI, run } from "./cli_run.ts";
import { scenarioTest, sleep } from "./support.ts";

Deno.test("tables of another Amber version are listed as stale, and kill removes them", async () => {
  const state = await Deno.makeTempDir({ prefix: "amber-stale-" });
  try {
    await Deno.chmod(state, 0o700);
    const amber = (...args: string[]) =>
      run(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], {
        AMBER_STATE_DIR: state,
        NO_COLOR: "1",
      });
    const first = await amber("ps", "--json"); // makes apps/ as Amber wants it
    assert.equal(first.code, 0, first.stderr);
    const dir = join(state, "apps", "old-one");
    await Deno.mkdir(dir, { mode: 0o700 });
    // A tables file of the right name and of another layout: a magic and nothing else.
    await Deno.writeFile(join(dir, "tables"), new TextEncoder().encode("AMBRTBL0 older"), {
      mode: 0o600,
    });
    const ps = await amber("ps", "--json");
    assert.equal(ps.code, 0, ps.stderr);
    const listed = JSON.parse(ps.stdout) as { name: string; stale: boolean }[];
    assert.deepEqual(listed.map((a) => [a.name, a.stale]), [["old-one", true]]);
    const kill = await amber("kill", "old-one");
    assert.equal(kill.code, 0, kill.stderr);
    assert.equal(await Deno.stat(dir).then(() => true, () => false), false, "removed");
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

scenarioTest(
  "a running application whose tables another Amber version made is ended by kill, its processes too",
  async (s) => {
    const app = await s.launch(["sleep", "600"], "older");
    const [program] = app.processes();
    assert.ok(program && program.pid > 0, "the program runs");
    // As if an older Amber had made them: another version, which this one cannot read.
    const file = await Deno.open(join(appDir(app.name), TABLES_FILE), { write: true });
    try {
      await file.seek(8, Deno.SeekMode.Start); // after the magic: the version
      await file.write(new Uint8Array([5, 0, 0, 0]));
    } finally {
      file.close();
    }
    const alive = () => {
      try {
        Deno.kill(program.pid, "SIGCONT");
        return true;
      } catch {
        return false;
      }
    };
    try {
      const kill = await amber(s, "kill", app.name);
      assert.equal(kill.code, 0, new TextDecoder().decode(kill.stderr));
      for (let i = 0; i < 100 && alive(); i++) await sleep(20);
      assert.equal(alive(), false, `its program (pid ${program.pid}) was left running`);
    } finally {
      if (alive()) Deno.kill(program.pid, "SIGKILL"); // its supervisor then ends too
    }
  },
);
