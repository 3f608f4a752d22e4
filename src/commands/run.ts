/**
 * `amber run [--name N] [--hostname H] [--detach] [--output F] -- PROGRAM [ARGS...]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { EXIT_FAILURE, hostnameArgument, nameArgument } from "./output.ts";

/** The `run` command: launch a program under Amber and, unless detached, wait for it. */
export function runCommand() {
  return new Command("run")
    .description(
      "Launch a program under Amber as a new application. Without --detach, wait for it and " +
        "exit with its status; with --detach, print the application's name.",
    )
    .usage("[options] -- PROGRAM [ARGS...]")
    .argument("<program>", "the program to run (looked up in PATH)")
    .argument("[args...]", "its arguments")
    .option(
      "--name <name>",
      "the application's name (default: program name and 4 hex digits)",
      nameArgument,
    )
    .option("--hostname <hostname>", "the virtual hostname the program sees", hostnameArgument)
    .option("--vne <name>", "run in this virtual network environment")
    .option("--ip <ip>", "its virtual IP in the VNE (default: the lowest free one)")
    .option("--detach", "return at once; the program runs on, its stdin is /dev/null")
    .option("--output <file>", "append the program's stdout and stderr to this file")
    .passThroughOptions()
    .action(async (program, args, options) => {
      const { launch } = await import("../launch.ts"); // loaded when the command runs
      const app = await launch([program, ...args], options);
      if (options.detach) {
        console.log(app.name);
        return;
      }
      const status = await app.wait();
      Deno.exitCode = status.code ?? EXIT_FAILURE;
    });
}
