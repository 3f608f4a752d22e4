/**
 * Templating: start N instances from one image of a warmed-up application. Each is a new
 * application with its own system IDs behind the same virtual IDs.
 *
 *   deno run -A examples/clones.ts worker.amber 4
 */

import { inspect, restore } from "../mod.ts";

const [dir, countText = "2"] = Deno.args;
if (!dir) {
  console.error("usage: clones.ts IMAGE [N]");
  Deno.exit(2);
}
const image = await inspect(dir); // verified once, restored N times
for (let i = 1; i <= Number(countText); i++) {
  const app = await restore(image, { name: `${image.manifest.app.name}-${i}`, detach: true });
  console.log(`${app.name}: ${app.processes().map((p) => `${p.vpid} -> ${p.pid}`).join(", ")}`);
}
