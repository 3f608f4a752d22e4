/**
 * Progress of long work, as the coordinator can see it from outside the agents: the image's
 * files growing while they are written, files synced, files verified.
 *
 * @module
 */

import { join } from "node:path";

/** Where a snapshot or a restore is; given to an `onProgress` callback. */
export interface Progress {
  /**
   * "freeze": the processes are being stopped; "write": their image is being written;
   * "sync": flushed to the disk; "verify": a restore checks the image's files; "load": the
   * processes are being restored; "done": finished.
   */
  phase: "freeze" | "write" | "sync" | "verify" | "load" | "done";
  /** The bytes done so far in this phase. */
  bytes: number;
  /**
   * The bytes this phase should come to, when known. While writing, an estimate: the memory
   * the processes hold (an incremental image, or one of zero pages, writes less).
   */
  totalBytes?: number;
}

/** Receives {@linkcode Progress} reports; it should return quickly and not throw. */
export type ProgressCallback = (progress: Progress) => void;

const POLL_MS = 100;

/** Calls `report` safely: a throwing callback must not break the work it watches. */
export function reporter(callback: ProgressCallback | undefined): ProgressCallback {
  return (progress) => {
    try {
      callback?.(progress);
    } catch {
      // A progress display that fails is not a reason to fail the snapshot.
    }
  };
}

/** The total size of the files under `dir` (0 for what cannot be read, as it changes). */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      try {
        total += entry.isDirectory ? await treeSize(path) : (await Deno.lstat(path)).size;
      } catch {
        // Removed or renamed while being looked at.
      }
    }
  } catch {
    // The folder is gone.
  }
  return total;
}

/**
 * Reports the size of `dir` every 100 ms (from `phase` "freeze" to "write" once anything is
 * written) until the returned function is called.
 */
export function watchWrites(
  dir: string,
  totalBytes: number | undefined,
  report: ProgressCallback,
): () => Promise<void> {
  let stopped = false;
  let most = 0; // a retried attempt starts its files again: the bytes shown never go back
  const loop = (async () => {
    report({ phase: "freeze", bytes: 0, totalBytes });
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (stopped) break;
      most = Math.max(most, await treeSize(dir));
      if (!stopped) report({ phase: most ? "write" : "freeze", bytes: most, totalBytes });
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** The resident memory of the processes `pids` (from /proc), or undefined if unreadable. */
export function residentBytes(pids: number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    try {
      // statm, from the kernel's counters: smaps_rollup walks every page (some 100 ms a GiB).
      const pages = Number(Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ")[1]);
      if (!Number.isFinite(pages)) return undefined;
      total += pages * 4096;
    } catch {
      return undefined;
    }
  }
  return total;
}
