/**
 * `amber kill NAME`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { nameArgument } from "./output.ts";

/** The `kill` command: end an application, all of its processes. */
export function killCommand() {
  return new Command("kill")
    .description("End an application and all of its processes (or remove a stale one)")
    .argument("<name>", "the application", nameArgument)
    .action(async (name) => {
      const { open } = await import("../apps.ts"); // loaded when the command runs
      await (await open(name)).kill();
      console.log(`Application '${name}' ended.`);
    });
}
