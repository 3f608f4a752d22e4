/**
 * The command line on running applications: default image names, and what a run of `amber`
 * leaves behind. Each test launches its program through the API and runs `cli.ts` in a child
 * Deno with the same state directory, in the scenario's folder; every child has a time limit.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { amber, leftovers } from "./cli_support.ts";
import { prog, scenarioTest } from "./support.ts";

scenarioTest("two snapshots of one application started at once get different names", async (s) => {
  const app = await s.launch([prog("counter"), "20"], "names");
  await s.waitFor(/^count 2 /m);
  const [one, two] = await Promise.all([
    amber(s, "snapshot", app.name),
    amber(s, "snapshot", app.name),
  ]);
  const decoder = new TextDecoder();
  for (const run of [one, two]) {
    assert.equal(run.code, 0, `amber snapshot failed:\n${decoder.decode(run.stderr)}`);
  }
  const images = await leftovers(s);
  assert.equal(images.length, 2, `two images: ${images.join(", ")}`);
  for (const image of images) {
    assert.match(image, new RegExp(`^${app.name}-\\d{8}-\\d{6}-\\d{3}-[0-9a-f]{4}\\.amber$`));
    await Deno.stat(join(s.dir, image, "manifest.json"));
  }
});
