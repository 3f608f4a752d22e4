/**
 * For the fault tests of the hand-off (tests/handoff_test.ts): with `AMBER_TEST_HANDOFF_PAUSE`
 * set to a directory, each step of the hand-off (docs/migration.md) creates `<dir>/<step>` and
 * waits until `<dir>/<step>.go` exists, so that a test can cut the network or kill a side at
 * exactly that step. Unset (always, outside the tests), it does nothing.
 *
 * @module
 */

import { join } from "node:path";

/** The steps a test can stop the hand-off at. */
export type HandOffStep =
  | "prepared" // target: its copy restored held and recorded, before it answers
  | "confirmed" // source: the target answered, before the outcome is recorded
  | "committed" // source: the outcome recorded, before its copy is ended
  | "ended" // source: its copy ended, before it tells the target
  | "released"; // target: its copy released, before it answers

/** Waits at `step` while a test holds it there; see the module's documentation. */
export async function pauseAt(step: HandOffStep): Promise<void> {
  const dir = Deno.env.get("AMBER_TEST_HANDOFF_PAUSE");
  if (!dir) return;
  await Deno.writeTextFile(join(dir, step), "");
  for (;;) {
    try {
      await Deno.stat(join(dir, `${step}.go`));
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
