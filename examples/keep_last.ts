/**
 * Periodic snapshots that keep at most N: every INTERVAL seconds, snapshot the application (it
 * keeps running). The images form a chain: a full one, then incremental ones that refer to the
 * one before for pages that did not change, and so are small. When the chain holds N, the next
 * image is a full one again, and the old chain is deleted.
 *
 *   deno run -A examples/keep_last.ts web2 3 60 /var/lib/amber/web2
 */

import { type Image, open } from "../mod.ts";

const [name, keepText = "3", intervalText = "60", dir = "."] = Deno.args;
if (!name) {
  console.error("usage: keep_last.ts NAME [N] [INTERVAL_S] [DIR]");
  Deno.exit(2);
}
const keep = Number(keepText), intervalMs = Number(intervalText) * 1000;
const app = await open(name);
const kept: Image[] = [];
for (;;) {
  const previous = kept.at(-1);
  // A full image when the chain would otherwise outgrow what is kept.
  const parent = previous && kept.length < keep ? previous : undefined;
  const image = await app.snapshot({ dir: `${dir}/${name}-${Date.now()}.amber`, parent });
  kept.push(image);
  if (!parent) {
    for (const old of kept.splice(0, kept.length - 1)) {
      await Deno.remove(old.dir, { recursive: true });
    }
  }
  console.log(`${image.dir} (${kept.length} kept)`);
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
