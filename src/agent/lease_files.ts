/**
 * The lease's renewals, handed to each application's supervisor through its directory, so that
 * the fence does not depend on the agent being alive (csrc/supervisor/lease_fence.c): the
 * supervisor stops the application on its own when no renewal came for the fence's delay, and
 * says so in `frozen`.
 *
 * @module
 */

import { join } from "node:path";
import type { App } from "../app.ts";

/** Written by the agent: "<renewal> <fence_ms>". */
const LEASE_FILE = "lease";
/** Written by the supervisor once it stopped the application. */
const FROZEN_FILE = "frozen";

/**
 * Hands a renewal to the supervisor of the application whose directory is `dir`: it stops the
 * application if no other comes within `fenceMs`. The file is replaced whole (a new file, renamed
 * over the old one); an application's directory is its owner's, so nothing there is followed or
 * overwritten in place. Synchronous: a few bytes, written before a claim is published.
 */
export function handRenewal(dir: string, fenceMs: number): void {
  const temp = join(dir, `${LEASE_FILE}.new`);
  try {
    Deno.removeSync(temp);
  } catch {
    // None left over.
  }
  const file = Deno.openSync(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    file.writeSync(new TextEncoder().encode(`${Date.now()} ${fenceMs}\n`));
  } finally {
    file.close();
  }
  Deno.renameSync(temp, join(dir, LEASE_FILE));
}

/** Whether `app`'s supervisor stopped it for want of renewals. */
export async function frozenBySupervisor(app: App): Promise<boolean> {
  return await Deno.lstat(join(app.dir, FROZEN_FILE)).then(() => true, () => false);
}

/** Forgets that `app`'s supervisor stopped it (it goes on). */
export async function clearFrozen(app: App): Promise<void> {
  await Deno.remove(join(app.dir, FROZEN_FILE)).catch(() => {});
}
