/**
 * `amber kill NAME`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import type { App } from "../app.ts";
import { open } from "../apps.ts";
import { AppNotFoundError } from "../errors.ts";
import { endOrphan, orphans } from "../orphans.ts";
import { nameArgument, printJson } from "./output.ts";

/** The `kill` command: end an application, all of its processes. */
export function killCommand() {
  return new Command("kill")
    .description(
      "End an application and all of its processes (or remove a stale one, or the record of " +
        "one that has ended)",
    )
    .argument("<name>", "the application", nameArgument)
    .option("--json", "print JSON (errors as JSON too)")
    .action(async (name, options) => {
      let exited: Awaited<ReturnType<App["exited"]>> | undefined;
      try {
        const app = await open(name);
        exited = await app.exited();
        await app.kill();
      } catch (cause) {
        // Its state directory may have been removed or replaced while it ran.
        const orphan = orphans().find((o) => o.name === name);
        if (!(cause instanceof AppNotFoundError) || !orphan) throw cause;
        await endOrphan(orphan);
      }
      if (options.json) printJson({ name, ended: true, ...(exited ? { exited } : {}) });
      else {
        console.log(
          exited
            ? `Application '${name}' had ended (status ${exited.code} at ${exited.at}); ` +
              `its record is removed.`
            : `Application '${name}' ended.`,
        );
      }
    });
}
