/**
 * `amber kill NAME`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { open } from "../apps.ts";
import { AppNotFoundError } from "../errors.ts";
import { endOrphan, orphans } from "../orphans.ts";
import { nameArgument, printJson } from "./output.ts";

/** The `kill` command: end an application, all of its processes. */
export function killCommand() {
  return new Command("kill")
    .description("End an application and all of its processes (or remove a stale one)")
    .argument("<name>", "the application", nameArgument)
    .option("--json", "print JSON (errors as JSON too)")
    .action(async (name, options) => {
      try {
        await (await open(name)).kill();
      } catch (cause) {
        // Its state directory may have been removed or replaced while it ran.
        const orphan = orphans().find((o) => o.name === name);
        if (!(cause instanceof AppNotFoundError) || !orphan) throw cause;
        await endOrphan(orphan);
      }
      if (options.json) printJson({ name, ended: true });
      else console.log(`Application '${name}' ended.`);
    });
}
