/**
 * Held applications: one a held snapshot left frozen (`snapshot(app, { hold: true })`, a
 * migration's source), and one restored held (a migration's target, before the source commits:
 * docs/migration.md).
 *
 * @module
 */

import { Phase } from "../../ffi/control.ts";
import type { App } from "../app.ts";
import { openAppTable } from "../app_table.ts";

/** Lets an application that a held snapshot left frozen go on, exactly where it was. */
export function resumeHeld(app: App): void {
  using table = openAppTable(app);
  table.setPhase(Phase.RESUME);
}

/** Whether a held snapshot keeps the application frozen. */
export function isFrozenHeld(app: App): boolean {
  using table = openAppTable(app);
  return table.phase() === Phase.WRITE;
}

/**
 * Keeps an application that a held snapshot left frozen frozen, even once this process is gone
 * (without this, its processes go on when the coordinator dies): it is committed elsewhere.
 */
export function disownHeld(app: App): void {
  using table = openAppTable(app);
  table.disownHeld();
}

/** Whether an application restored held is still held. */
export function isRestoredHeld(app: App): boolean {
  using table = openAppTable(app);
  return table.held();
}

/** Lets an application restored held go on. */
export function releaseRestored(app: App): void {
  using table = openAppTable(app);
  table.setHeld(false);
}
