/**
 * `amber migrate NAME --to AGENT_URL --token-file F [--name NEW] [--no-precopy] [--timeout MS]
 * [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { nameArgument, printJson, timeoutArgument } from "./output.ts";

/** The `migrate` command: move an application to another computer. */
export function migrateCommand() {
  return new Command("migrate")
    .description(
      "Move an application to another computer: snapshot, stream to its agent, restore there, " +
        "move the virtual IP, then end the original (which runs on if anything fails)",
    )
    .argument("<name>", "the application", nameArgument)
    .requiredOption("--to <url>", "the target computer's agent, as http://HOST:PORT")
    .requiredOption("--token-file <file>", "a file holding the agent's shared token")
    .option("--name <name>", "its name on the target (default: the same)", nameArgument)
    .option(
      "--no-precopy",
      "send the whole memory while the application is frozen, instead of sending it first " +
        "while it runs and then only what changed",
    )
    .option(
      "--timeout <ms>",
      "how long the whole migration may take (default 120000)",
      timeoutArgument,
    )
    .option("--json", "print JSON")
    .action(async (name, options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [{ readToken }, { migrate }] = await Promise.all([
        import("../agent/auth.ts"),
        import("../migrate/migrate.ts"),
      ]);
      const token = await readToken(options.tokenFile);
      const moved = await migrate(name, options.to, {
        token,
        name: options.name,
        precopy: options.precopy,
        timeoutMs: options.timeout,
      });
      if (options.json) printJson(moved);
      else {
        console.log(
          `Application '${name}' now runs on '${moved.agent}' as '${moved.name}' ` +
            `(frozen ${moved.frozenMs.toFixed(0)} ms).`,
        );
      }
    });
}
