/**
 * Periodic snapshots that keep the last few, then a restore of the newest, with the API only:
 * every EVERY_MS, snapshot the application (it keeps running), each image incremental on the
 * one before, keeping at most KEEP images, every one of them restorable. After COUNT snapshots
 * (default: until Ctrl-C), end the application and restore its newest image in its place,
 * its output appended to OUTPUT (default: this script's).
 *
 *   deno run -A examples/keep_last.ts web2 3 5000 /var/lib/amber/web2 [COUNT [OUTPUT]]
 */

import { open, restore } from "../mod.ts";

const [name, keepText = "3", everyText = "5000", dir = ".", countText, output] = Deno.args;
if (!name) {
  console.error("usage: keep_last.ts NAME [KEEP] [EVERY_MS] [DIR] [COUNT [OUTPUT]]");
  Deno.exit(2);
}
const app = await open(name);
const stop = new AbortController();
Deno.addSignalListener("SIGINT", () => stop.abort());
const series = app.snapshotEvery({
  dir,
  keep: Number(keepText),
  everyMs: Number(everyText),
  count: countText === undefined ? undefined : Number(countText),
  signal: stop.signal,
  onSnapshot: (image, kept) => {
    const on = image.manifest.parent ? "incremental" : "full";
    console.log(
      `${image.dir} (${on}, frozen ${image.stats?.frozenMs.toFixed(0)} ms, ${kept.length} kept)`,
    );
  },
});
await series.done;
const newest = series.images.at(-1);
if (newest && !stop.signal.aborted) {
  await app.kill();
  const again = await restore(newest, { name, detach: true, output });
  console.log(`restored ${newest.dir} as ${again.name}`);
}
Deno.exit(0);
