/**
 * The `amber` command line: `deno run -A cli.ts <command> ...`, or installed with
 * `deno install -A -g -n amber cli.ts`. It only wires the commands of `src/commands/`, each a
 * thin layer over `mod.ts`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "npm:@commander-js/extra-typings@15.1.0";
import { inspectCommand } from "./src/commands/inspect.ts";
import { killCommand } from "./src/commands/kill.ts";
import { reportError } from "./src/commands/output.ts";
import { psCommand } from "./src/commands/ps.ts";
import { restoreCommand } from "./src/commands/restore.ts";
import { runCommand } from "./src/commands/run.ts";
import { snapshotCommand } from "./src/commands/snapshot.ts";
import { tablesCommand } from "./src/commands/tables.ts";
import { agentCommand } from "./src/commands/agent.ts";
import { migrateCommand } from "./src/commands/migrate.ts";
import { vneCommand } from "./src/commands/vne.ts";
import { addHelp } from "./src/commands/help.ts";
import { completionsCommand } from "./src/commands/completions.ts";
import { checkCommand } from "./src/commands/check.ts";

/** Amber's version. */
export const VERSION = "0.1.0";

const HINT = "(run 'amber help' or add --help for usage)";

/**
 * Builds the command tree. With `json`, commander's own messages for usage errors are not
 * printed: the error is reported as JSON instead.
 */
export function program(json = false): Command {
  const root = new Command("amber")
    .description("Freeze running Linux applications and thaw them later, here or elsewhere.")
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(HINT);
  const commands = [
    runCommand(),
    psCommand(),
    tablesCommand(),
    killCommand(),
    snapshotCommand(),
    restoreCommand(),
    inspectCommand(),
    vneCommand(),
    migrateCommand(),
    agentCommand(),
    completionsCommand(),
    checkCommand(),
  ];
  for (const command of commands) root.addCommand(command.exitOverride().showHelpAfterError(HINT));
  addHelp(root);
  toStdout(root);
  if (json) quiet(root);
  return root;
}

/** Writes all of `text` to standard output; a reader that went away (`amber help | head`) is no error. */
function writeOut(text: string): void {
  const bytes = new TextEncoder().encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/** Has `command` and its subcommands print help and version through writeOut. */
function toStdout(command: Command | CommandUnknownOpts): void {
  command.configureOutput({ writeOut });
  for (const sub of command.commands) toStdout(sub);
}

/** Keeps `command` and its subcommands from printing usage errors themselves. */
function quiet(command: Command | CommandUnknownOpts): void {
  command.configureOutput({ outputError: () => {} }).showHelpAfterError(false);
  for (const sub of command.commands) quiet(sub);
}

/**
 * Runs the command line `args`; returns the exit status for errors, else undefined. With
 * `--json` (before any `--`), an error is printed as JSON on stderr.
 */
export async function main(args: string[]): Promise<number | undefined> {
  const end = args.indexOf("--");
  const json = (end === -1 ? args : args.slice(0, end)).includes("--json");
  try {
    await program(json).parseAsync(args, { from: "user" });
    return undefined;
  } catch (error) {
    return reportError(error, json);
  }
}

if (import.meta.main) {
  const status = await main(Deno.args);
  if (status !== undefined) Deno.exitCode = status;
}
