/**
 * An application held frozen after a snapshot (`snapshot(app, { hold: true })`): let it go on.
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
