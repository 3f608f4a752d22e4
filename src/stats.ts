/**
 * {@linkcode SnapshotStats}: what a snapshot cost, from its timings and its manifest.
 *
 * @module
 */

import type { Manifest } from "./manifest.ts";

/** What a snapshot cost; on the {@linkcode Image} a snapshot returns. */
export interface SnapshotStats {
  /** How long the application was frozen, in ms. */
  frozenMs: number;
  /** How long the whole snapshot took, from the call to the image under its name, in ms. */
  totalMs: number;
  /** The bytes of the image's files (its parents' not counted). */
  bytesWritten: number;
  /** Memory pages written into this image. */
  pagesWritten: number;
  /** Memory pages this image refers to in its parents (unchanged since them). */
  pagesInParent: number;
  /** Memory pages a forked child shares with its parent, stored once, in the parent's file. */
  pagesShared: number;
  /** How many processes were saved. */
  processes: number;
  /**
   * Memory regions whose written pages dirty-page tracking found (userfaultfd write-protect):
   * the others were hashed page by page. In a full image, the regions pre-copied while the
   * application ran, whose pages written since were found the same way.
   */
  trackedRegions: number;
  /**
   * How many processes had their pages copied while the application still ran (pre-copy: with
   * a parent image, only the pages written since it), so that the freeze wrote only what they
   * wrote after.
   */
  processesPreCopied: number;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** The statistics of a snapshot that wrote `manifest`. */
export function snapshotStats(
  manifest: Manifest,
  frozenMs: number,
  totalMs: number,
): SnapshotStats {
  const { processes, files } = manifest;
  return {
    frozenMs,
    totalMs,
    bytesWritten: files.reduce((sum, file) => sum + file.size, 0),
    pagesWritten: processes.reduce((sum, p) => sum + count(p.details.pages), 0),
    pagesInParent: processes.reduce((sum, p) => sum + count(p.details.parentPages), 0),
    pagesShared: processes.reduce((sum, p) => sum + count(p.details.sharedPages), 0),
    processes: processes.length,
    trackedRegions: processes.reduce((sum, p) => sum + count(p.details.trackedRegions), 0),
    processesPreCopied: 0,
  };
}
