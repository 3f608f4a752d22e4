/**
 * How an application's end is reported: a foreground `amber run` or `amber restore` exits as a
 * shell does (128 + n when signal n ended the program), and a detached application that ends
 * is shown, with when and how, by `list()`, `open()` and `amber ps` until `kill` removes it.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launch, list, open } from "../mod.ts";
import { prog, scenarioTest, sleep } from "./support.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** Starts `amber ARGS...` (in this test's state directory); its output is piped. */
function amber(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function amberOutput(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await amber(...args).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return text;
}

scenarioTest(
  "a foreground run and restore exit 128 + n when signal n ends the program, else with its status",
  async (s) => {
    const ran = amber("run", "--output", s.output, "--", prog("ends_after_go"), s.dir, "signal");
    await s.waitFor(/^ready$/m);
    await Deno.writeTextFile(s.go, "");
    assert.equal((await ran.output()).code, 128 + 15);
    await Deno.remove(s.go);

    const app = await s.launch([prog("ends_after_go"), s.dir, "signal"]);
    await s.waitFor(/(?:^ready$[^]*?){2}/m, "ready");
    const image = await s.freeze(app);
    await Deno.writeTextFile(s.go, ""); // the restored program ends at once
    const restored = amber("restore", "--output", s.output, image.dir, "--name", s.name("fg"));
    const { code, stderr } = await restored.output();
    assert.equal(code, 128 + 15, new TextDecoder().decode(stderr));
    await Deno.remove(s.go);

    const exits = await s.launch([prog("ends_after_go"), s.dir, "exit"]);
    await s.waitFor(/(?:^ready$[^]*?){3}/m, "ready");
    const exitImage = await s.freeze(exits, "exits");
    await Deno.writeTextFile(s.go, "");
    assert.equal((await amber("restore", exitImage.dir, "--name", s.name("fg")).output()).code, 3);
  },
);

scenarioTest(
  "a detached application that ends is listed with its status and time until kill removes it",
  async (s) => {
    const name = s.name("detached");
    const app = await launch([prog("ends_after_go"), s.dir, "signal"], {
      name,
      detach: true,
      output: s.output,
    });
    await s.waitFor(/^ready$/m);
    assert.equal(await app.exited(), undefined, "not while it runs");
    const before = Date.now() - 1000;
    await Deno.writeTextFile(s.go, "");
    assert.deepEqual(await app.wait(), { code: 128 + 15, signal: 15 });
    const listed = (await list()).find((listing) => listing.name === name);
    assert.deepEqual(listed?.processes, []);
    assert.equal(listed?.exited?.code, 128 + 15);
    assert.equal(listed?.exited?.signal, 15);
    const at = Date.parse(listed?.exited?.at ?? "");
    assert.ok(at >= before - 1000 && at <= Date.now(), `ended at ${listed?.exited?.at}`);
    assert.deepEqual(await (await open(name)).exited(), listed?.exited);
    const json = JSON.parse(await amberOutput("ps", "--json"));
    assert.deepEqual(json.find((a: { name: string }) => a.name === name)?.exited, listed?.exited);
    assert.match(await amberOutput("ps"), new RegExp(`${name} .*killed by signal 15 at `));
    assert.match(await amberOutput("kill", name), /had ended \(status 143 at .*record is removed/);
    assert.equal((await list()).find((listing) => listing.name === name), undefined);
    await assert.rejects(open(name), /No application named/);
  },
);

scenarioTest(
  "a restored detached application that exits leaves its exit status, and a new one of its name replaces it",
  async (s) => {
    const app = await s.launch([prog("ends_after_go"), s.dir, "exit"]);
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    const again = await s.restore(image, { detach: true });
    await Deno.writeTextFile(s.go, "");
    assert.deepEqual(await again.wait(), { code: 3 });
    assert.equal((await (await open(again.name)).exited())?.code, 3);
    await Deno.remove(s.go);
    const next = await s.restore(image, { detach: true, name: again.name });
    assert.equal(await next.exited(), undefined, "the new one runs: the record is gone");
    await sleep(50);
    assert.equal((await list()).filter((listing) => listing.name === again.name).length, 1);
    await next.kill();
    assert.equal((await list()).find((listing) => listing.name === again.name), undefined);
  },
);
