/**
 * `amber snapshot NAME --every DURATION [--keep N] [--count N] [-o FOLDER] [--json]`: periodic
 * snapshots until Ctrl-C (or N of them), one line each (one JSON object a line with --json).
 *
 * @module
 */

import { basename } from "node:path";
import type { App } from "../app.ts";
import type { Image } from "../image.ts";
import type { SnapshotStats } from "../stats.ts";
import { formatBytes, plural } from "./output.ts";

/** What `amber snapshot --every` was given. */
export interface EveryOptions {
  everyMs: number;
  keep?: number;
  count?: number;
  output?: string;
  timeout?: number;
  tcpEstablished?: true;
  json?: true;
}

/** Runs the series; Ctrl-C (SIGINT) ends it, abandoning a snapshot under way. */
export async function snapshotEvery(app: App, options: EveryOptions): Promise<void> {
  const stopper = new AbortController();
  const onInterrupt = () => stopper.abort(new Error("interrupted by SIGINT"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  let taken = 0;
  try {
    const series = app.snapshotEvery({
      dir: options.output ?? `${app.name}.snapshots`,
      everyMs: options.everyMs,
      keep: options.keep ?? 5,
      count: options.count,
      timeoutMs: options.timeout,
      tcpEstablished: options.tcpEstablished,
      signal: stopper.signal,
      onSnapshot: (image, kept) => {
        taken++;
        console.log(options.json ? JSON.stringify(line(image, kept)) : text(image, kept));
      },
    });
    await series.done;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  if (stopper.signal.aborted && !options.json) {
    console.error(`Stopped after ${plural(taken, "snapshot")}.`);
  }
}

function line(image: Image, kept: readonly Image[]) {
  return {
    dir: image.dir,
    parent: image.manifest.parent?.dir ?? null,
    stats: image.stats,
    kept: kept.map((k) => k.dir),
  };
}

function text(image: Image, kept: readonly Image[]): string {
  const { dir, parent, stats } = line(image, kept);
  const on = parent ? `incremental on '${basename(parent)}'` : "full";
  return `${new Date().toISOString()} '${basename(dir)}' (${on}); ` +
    `${plural(kept.length, "image")} kept.` + (stats ? `\n  ${statsText(stats)}` : "");
}

/** The statistics of a snapshot for people, on one line. */
export function statsText(stats: SnapshotStats, parent?: string): string {
  const pages = `${plural(stats.pagesWritten, "page")} written` +
    (parent || stats.pagesInParent
      ? `, ${plural(stats.pagesInParent, "page")} unchanged in the parent image`
      : "") +
    (stats.pagesShared
      ? `, ${plural(stats.pagesShared, "page")} shared after a fork stored once`
      : "") +
    // A full image's tracked regions were pre-copied: no parent to have found anything against.
    ((parent || stats.pagesInParent) && stats.trackedRegions
      ? ", the written ones found by dirty-page tracking"
      : "");
  return `${plural(stats.processes, "process", "processes")}, ${formatBytes(stats.bytesWritten)} ` +
    `(${pages}); frozen ${stats.frozenMs.toFixed(0)} ms, total ${stats.totalMs.toFixed(0)} ms.`;
}
