/**
 * The checks that keep the code's shape: the TypeScript side of the C contract agrees with the
 * headers (tools/contract.ts), and no two files import each other, even through others
 * (tools/circles.ts).
 */

import assert from "node:assert/strict";
import { circles } from "../tools/circles.ts";
import { CredsRecord, PidFlag, ProcessFile } from "../ffi/contract.ts";
import { processFileName } from "../src/manifest.ts";

async function runTool(script: string, ...args: string[]): Promise<{ ok: boolean; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      new URL(`../tools/${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "ffi/contract.ts agrees with the C headers",
  sanitizeResources: false,
  fn: async () => {
    const { ok, err } = await runTool("contract.ts", "--check");
    assert.ok(ok, err);
    // What the hand-typed copies lacked, and the layout credentials.ts writes by.
    assert.equal(PidFlag.LEADER, 0x8);
    assert.equal(PidFlag.GONE, 0x10);
    assert.equal(CredsRecord.size % 8, 0);
    assert.equal(processFileName(4200001), `${ProcessFile.PREFIX}4200001${ProcessFile.SUFFIX}`);
    assert.equal(processFileName(4200001), "process-4200001.img");
  },
});

Deno.test("the circle finder finds a circle through three files, and none in a tree", () => {
  const edges = (pairs: [string, string][]) => {
    const m = new Map<string, Set<string>>();
    for (const [a, b] of pairs) {
      m.set(a, (m.get(a) ?? new Set()).add(b));
      if (!m.has(b)) m.set(b, new Set());
    }
    return m;
  };
  assert.deepEqual(circles(edges([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]])), [[
    "a",
    "b",
    "c",
  ]]);
  assert.deepEqual(circles(edges([["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]])), []);
});

Deno.test({
  name: "no import circles between Amber's files, and commands do not import ffi/",
  sanitizeResources: false,
  fn: async () => {
    const { ok, err } = await runTool("circles.ts");
    assert.ok(ok, err);
  },
});
