/**
 * `amber kill NAME`
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { open } from "../apps.ts";
import { nameArgument } from "./output.ts";

/** The `kill` command: end an application, all of its processes. */
export function killCommand() {
  return new Command("kill")
    .description(
      "End an application and all of its processes (or remove a stale one, or the record of " +
        "one that has ended)",
    )
    .argument("<name>", "the application", nameArgument)
    .action(async (name) => {
      const app = await open(name);
      const exited = await app.exited();
      await app.kill();
      console.log(
        exited
          ? `Application '${name}' had ended (status ${exited.code} at ${exited.at}); ` +
            `its record is removed.`
          : `Application '${name}' ended.`,
      );
    });
}
