/**
 * Interrupting long work with an `AbortSignal`: a step that the signal cuts short rejects at
 * once, while the native call under it (which cannot be cancelled) settles on its own.
 *
 * @module
 */

import { SnapshotError } from "./errors.ts";

/** The error of a snapshot of `name` cut short by `signal`; the application runs on. */
export function interrupted(name: string, signal: AbortSignal): SnapshotError {
  return new SnapshotError(
    `Snapshot of '${name}' was interrupted: nothing was kept, and the application runs on`,
    { cause: signal.reason, reason: "interrupted" },
  );
}

/** Throws {@linkcode interrupted} if `signal` has aborted. */
export function checkAborted(name: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw interrupted(name, signal);
}

/**
 * Resolves as `work` does, or rejects with {@linkcode interrupted} as soon as `signal` aborts;
 * `work`'s own later rejection is then handled (the caller may still wait for it to settle).
 */
export function unlessAborted<T>(
  name: string,
  work: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!signal) return work;
  work.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(name, signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Waits for `work` to settle, at most `ms` milliseconds; never rejects. */
export async function settled(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work?.then(() => {}, () => {}), late]);
  clearTimeout(timer);
}

/**
 * Removes the temporary folder `dir` of an abandoned snapshot, whatever is in it; tries again
 * for a short while, as an agent told to stop may still be closing a file in it.
 */
export async function removeTemporary(dir: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound || attempt === 20) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
