/**
 * The caller's hooks around a freeze (`beforeFreeze`, `afterResume` of a snapshot): the second
 * runs once, and only if the first did.
 *
 * @module
 */

import { SnapshotError } from "./errors.ts";

/** The hooks a snapshot was given. */
export interface FreezeHooks {
  beforeFreeze?: () => void | Promise<void>;
  afterResume?: () => void | Promise<void>;
}

/** Runs the hooks of the snapshot of `name`, turning their failures into SnapshotErrors. */
export function freezeHooks(name: string, hooks: FreezeHooks) {
  let armed = false;
  return {
    /** Runs beforeFreeze; if it throws, the snapshot ends here (nothing was frozen). */
    async before(): Promise<void> {
      try {
        await hooks.beforeFreeze?.();
      } catch (cause) {
        throw new SnapshotError(
          `Cannot snapshot '${name}': its beforeFreeze hook failed (${text(cause)}); nothing ` +
            `was frozen, and it keeps running`,
          { cause, reason: "hook-failed" },
        );
      }
      armed = true;
    },
    /** Runs afterResume once, if beforeFreeze ran. */
    async resumed(): Promise<void> {
      if (!armed) return;
      armed = false;
      try {
        await hooks.afterResume?.();
      } catch (cause) {
        throw new SnapshotError(
          `Snapshot of '${name}' failed: its afterResume hook failed (${text(cause)}); no ` +
            `image was kept, and it keeps running`,
          { cause, reason: "hook-failed" },
        );
      }
    },
  };
}

function text(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
