/**
 * `amber restore DIR [--name NEW] [--detach] [--lazy] [--output F] [--timeout MS]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { restore } from "../restore.ts";
import { EXIT_FAILURE, nameArgument, timeoutArgument } from "./output.ts";

/** The `restore` command: thaw an image as a new application. */
export function restoreCommand() {
  return new Command("restore")
    .description(
      "Restore an image as a new application: same virtual IDs, new system IDs. Without " +
        "--detach, wait for it and exit with its status; with --detach, print its name.",
    )
    .argument("<dir>", "the image directory")
    .option("--name <name>", "the new application's name (default: the frozen one's)", nameArgument)
    .option("--detach", "return at once; the application runs on")
    .option("--lazy", "map memory from the image, read when first touched (keep the image)")
    .option("--output <file>", "append the program's stdout and stderr to this file")
    .option("--timeout <ms>", "how long the processes may take to come back", timeoutArgument)
    .action(async (dir, options) => {
      const app = await restore(dir, { ...options, timeoutMs: options.timeout });
      if (options.detach) {
        console.log(app.name);
        return;
      }
      const status = await app.wait();
      Deno.exitCode = status.code ?? EXIT_FAILURE;
    });
}
