/**
 * The public {@linkcode snapshot} and {@linkcode snapshotEvery}: functions over an
 * {@linkcode App}, apart from snapshot.ts and periodic.ts so that those need not import the
 * `App` class that calls them (no import circle).
 *
 * @module
 */

import type { App } from "./app.ts";
import type { Image } from "./image_handle.ts";
import { type PeriodicOptions, type PeriodicSnapshots, periodicSnapshots } from "./periodic.ts";
import { type SnapshotOptions, takeSnapshot } from "./snapshot.ts";

/**
 * Freezes every process of `app`, writes its image to `options.dir`, then lets it go on (or
 * ends it with `stop`). On failure the application keeps running and nothing is left on disk.
 *
 * @example Snapshot an application and keep it running
 * ```ts
 * import { launch } from "@amber/amber";
 *
 * await using app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const image = await app.snapshot({ dir: `${dir}/sleep.amber` });
 * console.log(image.manifest.files.map((file) => file.name));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function snapshot(app: App, options: SnapshotOptions): Promise<Image> {
  return takeSnapshot(app, options);
}

/**
 * Snapshots `app` every `everyMs` (the application runs on), each image incremental on the
 * last, keeping at most `keep` images, every one of them restorable (see the module's notes).
 * Returns at once; the first snapshot is taken at once.
 *
 * @example Three snapshots, 300 ms apart, keeping two
 * ```ts
 * import { launch, snapshotEvery } from "@amber/amber";
 *
 * await using app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const series = snapshotEvery(app, { dir, everyMs: 300, keep: 2, count: 3 });
 * await series.done;
 * console.log(series.images.map((image) => image.dir)); // the newest two
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function snapshotEvery(app: App, options: PeriodicOptions): PeriodicSnapshots {
  return periodicSnapshots(app, options);
}
