/**
 * `amber run [--name N] [--hostname H] [--detach] [--output F] [--seccomp on|off] -- PROGRAM [ARGS...]`
 *
 * @module
 */

import { Command, InvalidArgumentError } from "npm:@commander-js/extra-typings@15.1.0";
import { launch } from "../launch.ts";
import { EXIT_FAILURE, hostnameArgument, nameArgument, printJson } from "./output.ts";

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
    .option("--json", "with --detach, print the application as JSON (errors as JSON too)")
    .option(
      "--seccomp <on|off>",
      "the kernel-side layer for raw system calls (default: on with CAP_SYS_ADMIN; " +
        "on without it sets no_new_privs, so setuid programs inside stop working)",
      (v: string) => {
        if (v !== "on" && v !== "off") throw new InvalidArgumentError("on or off");
        return v as "on" | "off";
      },
    )
    .passThroughOptions()
    .action(async (program, args, options) => {
      const { json, ...how } = options;
      const app = await launch([program, ...args], how);
      if (options.detach) {
        if (json) printJson({ name: app.name, id: app.id, processes: app.processes() });
        else console.log(app.name);
        return;
      }
      const status = await app.wait();
      Deno.exitCode = status.code ?? EXIT_FAILURE;
    });
}
