/**
 * The lease's renewals, handed to each application's supervisor on a channel of its own, so that
 * the fence does not depend on the agent being alive (csrc/supervisor/lease_fence.c): the
 * supervisor stops the application on its own when no renewal came for the fence's delay, and
 * says so in `frozen`.
 *
 * @module
 */

import { join } from "node:path";
import type { App } from "../app.ts";
import { handLeaseRenewal } from "../../ffi/control.ts";

/** Written by the supervisor once it stopped the application. */
const FROZEN_FILE = "frozen";

/**
 * Hands a renewal to the supervisor of the application whose directory is `dir`: it stops the
 * application if no other comes within `fenceMs`. Not through a file in the directory (the
 * application can write there, and would renew itself): on the supervisor's own socket, which
 * takes renewals only from a process outside the application (csrc/common/lease_channel.h).
 * Synchronous: a few bytes, handed before a claim is published; throws if it was not taken.
 */
export function handRenewal(dir: string, fenceMs: number): void {
  handLeaseRenewal(dir, Date.now(), fenceMs);
}

/** Whether `app`'s supervisor stopped it for want of renewals. */
export async function frozenBySupervisor(app: App): Promise<boolean> {
  return await Deno.lstat(join(app.dir, FROZEN_FILE)).then(() => true, () => false);
}

/** Forgets that `app`'s supervisor stopped it (it goes on). */
export async function clearFrozen(app: App): Promise<void> {
  await Deno.remove(join(app.dir, FROZEN_FILE)).catch(() => {});
}
