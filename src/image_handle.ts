/**
 * {@linkcode Image}: an image on disk, the handle that snapshots return and restores take. Apart
 * from image.ts so that the code image.ts uses can name it without importing image.ts back.
 *
 * @module
 */

import type { LostConnections } from "./lost.ts";
import type { Manifest } from "./manifest.ts";
import type { SnapshotStats } from "./stats.ts";

/** An image on disk: its directory and its manifest. */
export interface Image {
  /** The image directory (absolute). */
  readonly dir: string;
  /** What the image holds. */
  readonly manifest: Manifest;
  /** For an image just taken: how long the application was frozen for it, in ms. */
  readonly frozenMs?: number;
  /** The connections a restore does not bring back as they were (from the manifest). */
  readonly lost?: LostConnections;
  /** For an image just taken: what the snapshot cost (times, bytes, pages, processes). */
  readonly stats?: SnapshotStats;
}
