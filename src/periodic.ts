/**
 * `snapshotEvery`: periodic snapshots of one application, each incremental on the
 * one before, keeping at most a given number of images on disk.
 *
 * An incremental image needs every image up its chain of parents, so removing the oldest image
 * would break the ones after it. Instead a chain is at most `ceil(keep / 2)` images long (then
 * the next snapshot is a full one), and the images kept are the newest ones whose chains,
 * together, fit in `keep` images; the others are removed. So every image left on disk restores,
 * the newest is always kept, and at least `ceil(keep / 2)` of the newest are (once that many
 * were taken).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { AmberError } from "./errors.ts";
import type { Image } from "./image_handle.ts";
import { defaultImageName } from "./names.ts";
import { MAX_CHAIN } from "./parent.ts";
import type { SnapshotOptions } from "./snapshot.ts";

/** Options for {@linkcode snapshotEvery}. */
export interface PeriodicOptions extends
  Pick<
    SnapshotOptions,
    "timeoutMs" | "tcpEstablished" | "beforeFreeze" | "afterResume" | "onProgress"
  > {
  /** The folder the images go into (made if missing); each is named like `NAME-<time>.amber`. */
  dir: string;
  /** The time between the start of one snapshot and the start of the next, in ms. */
  everyMs: number;
  /** How many images to keep at most (at least 1). */
  keep: number;
  /** Stop after this many snapshots; default: until stopped. */
  count?: number;
  /** Stops the series when it aborts; a snapshot under way is abandoned (nothing left of it). */
  signal?: AbortSignal;
  /** Called with each image once it is written and the old ones are removed. */
  onSnapshot?: (image: Image, kept: readonly Image[]) => void;
}

/** A series of periodic snapshots under way; see {@linkcode snapshotEvery}. */
export interface PeriodicSnapshots extends AsyncDisposable {
  /** The images kept on disk, oldest first. */
  readonly images: readonly Image[];
  /**
   * Resolves when the series ends (stopped, aborted, or `count` taken); rejects with the
   * {@linkcode AmberError} of the snapshot that failed, which ends the series.
   */
  readonly done: Promise<void>;
  /** Stops the series (a snapshot under way is abandoned) and waits until it has ended. */
  stop(): Promise<void>;
}

interface Kept {
  image: Image;
  /** The kept image it is incremental on, or null for a full image. */
  parent: Kept | null;
  /** How many images its chain holds, itself included. */
  depth: number;
}

/** Checks the numbers of {@linkcode PeriodicOptions}. */
function checkOptions({ everyMs, keep, count }: PeriodicOptions): void {
  if (!(Number.isFinite(everyMs) && everyMs > 0)) {
    throw new RangeError(`Invalid interval '${everyMs}': expected a positive number of ms`);
  }
  if (!(Number.isInteger(keep) && keep >= 1)) {
    throw new RangeError(`Invalid keep '${keep}': expected an integer of at least 1`);
  }
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(`Invalid count '${count}': expected an integer of at least 1`);
  }
}

/** The images to keep: the newest ones whose chains, together, fit in `keep`. */
export function retained<T extends { parent: T | null }>(all: readonly T[], keep: number): Set<T> {
  const kept = new Set<T>();
  for (let i = all.length - 1; i >= 0; i--) {
    const chain: T[] = [];
    for (let at: T | null = all[i]; at && !kept.has(at); at = at.parent) chain.push(at);
    if (kept.size + chain.length > keep) break;
    for (const image of chain) kept.add(image);
  }
  return kept;
}

/** The longest chain of images the series makes for `keep`. */
export function chainLimit(keep: number): number {
  return Math.min(Math.ceil(keep / 2), MAX_CHAIN);
}

/** What periodic snapshots need of an application (an `App` is one). */
export interface PeriodicTarget {
  /** The application's name. */
  readonly name: string;
  /** Takes one snapshot. */
  snapshot(options: SnapshotOptions): Promise<Image>;
}

/** Starts periodic snapshots of `app` (the public `snapshotEvery` and `App.snapshotEvery`). */
export function periodicSnapshots(
  app: PeriodicTarget,
  options: PeriodicOptions,
): PeriodicSnapshots {
  checkOptions(options);
  const dir = resolve(options.dir);
  const stopper = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopper.signal])
    : stopper.signal;
  let kept: Kept[] = [];
  const limit = chainLimit(options.keep);

  const wait = (ms: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        done();
      }
      signal.addEventListener("abort", finish, { once: true });
    });

  const run = async () => {
    await Deno.mkdir(dir, { recursive: true });
    for (let taken = 0; options.count === undefined || taken < options.count; taken++) {
      if (signal.aborted) return;
      const started = performance.now();
      const last = kept.at(-1) ?? null;
      const parent = last && last.depth < limit ? last : null;
      let image: Image;
      try {
        image = await app.snapshot({
          dir: join(dir, defaultImageName(app.name)),
          parent: parent?.image,
          timeoutMs: options.timeoutMs,
          tcpEstablished: options.tcpEstablished,
          beforeFreeze: options.beforeFreeze,
          afterResume: options.afterResume,
          onProgress: options.onProgress,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return; // stopped during the snapshot, which left nothing
        throw error;
      }
      const all = [...kept, { image, parent, depth: (parent?.depth ?? 0) + 1 }];
      const keep = retained(all, options.keep);
      for (const entry of all) {
        if (!keep.has(entry)) await Deno.remove(entry.image.dir, { recursive: true });
      }
      kept = all.filter((entry) => keep.has(entry));
      options.onSnapshot?.(image, kept.map((entry) => entry.image));
      const final = options.count !== undefined && taken + 1 >= options.count;
      if (!final) await wait(Math.max(0, options.everyMs - (performance.now() - started)));
    }
  };
  const done = run().catch((error) => {
    if (error instanceof AmberError || error instanceof RangeError) throw error;
    throw new AmberError(`Periodic snapshots of '${app.name}' failed: ${error}`, {
      cause: error,
      reason: "snapshot-failed",
    });
  });
  done.catch(() => {}); // the caller sees it through `done` or `stop()`
  return {
    get images() {
      return kept.map((entry) => entry.image);
    },
    done,
    async stop() {
      stopper.abort();
      await done;
    },
    async [Symbol.asyncDispose]() {
      stopper.abort();
      await done.catch(() => {});
    },
  };
}
