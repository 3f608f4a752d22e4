/**
 * Templating: start N instances from one image of a warmed-up application. Each is a new
 * application (NAME-1 to NAME-N) with its own system IDs behind the same virtual IDs and its
 * own hostname; `amber restore IMAGE --clones N` does the same.
 *
 *   deno run -A examples/clones.ts worker.amber 4
 */

import { restoreClones } from "../mod.ts";

const [dir, countText = "2"] = Deno.args;
if (!dir) {
  console.error("usage: clones.ts IMAGE [N]");
  Deno.exit(2);
}
for (const app of await restoreClones(dir, Number(countText), { detach: true })) {
  console.log(`${app.name}: ${app.processes().map((p) => `${p.vpid} -> ${p.pid}`).join(", ")}`);
}
