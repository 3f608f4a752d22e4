/**
 * The examples and the environment variables that `--help` shows after each command's usage.
 * Kept beside each other so one look tells what help says; `addHelp` hangs them on the tree.
 *
 * @module
 */

import type { Command, CommandUnknownOpts } from "npm:@commander-js/extra-typings@15.1.0";

/** Examples per command path ("" is `amber` itself, "vne create" a subcommand). */
const EXAMPLES: Record<string, string[]> = {
  "": [
    "amber run --detach --name web -- python3 -m http.server 8000",
    "amber snapshot web --stop -o web.amber",
    "amber restore web.amber --detach",
    "amber help snapshot",
  ],
  run: [
    "amber run -- ./server --port 8080        # wait for it, exit with its status",
    "amber run --detach --name web --output web.log -- ./server",
    "amber run --detach --vne lab --ip 10.10.2.5 -- ./server",
  ],
  ps: ["amber ps", "amber ps --json"],
  tables: ["amber tables web"],
  kill: ["amber kill web"],
  snapshot: [
    "amber snapshot web                        # the application goes on",
    "amber snapshot web --stop -o web.amber    # then end it",
    "amber snapshot web --parent web.amber -o web-2.amber   # only the changed pages",
    "amber snapshot web --every 30s --keep 3   # until Ctrl-C, into web.snapshots/",
  ],
  restore: [
    "amber restore web.amber                   # wait for it, exit with its status",
    "amber restore web.amber --detach --name web2",
    "amber restore web.amber --detach --clones 3",
    "amber restore web.amber --detach --clones 3 --ips 10.10.2.20-10.10.2.29   # in a VNE",
  ],
  inspect: ["amber inspect web.amber", "amber inspect web.amber --json"],
  vne: ["amber vne create lab --subnet 10.10.2.0/24", "amber vne ls", "amber vne rm lab"],
  "vne create": ["amber vne create lab --subnet 10.10.2.0/24"],
  "vne ls": ["amber vne ls --json"],
  "vne rm": ["amber vne rm lab"],
  migrate: ["amber migrate web --to http://10.0.0.2:7070 --token-file /etc/amber/token"],
  agent: ["amber agent --listen 0.0.0.0:7070 --token-file /etc/amber/token"],
  check: ["amber check                  # exit 0 when Amber can work here", "amber check --json"],
  completions: [
    "source <(amber completions bash)",
    "amber completions zsh > ~/.zsh/completions/_amber",
    "amber completions fish > ~/.config/fish/completions/amber.fish",
  ],
};

/** The environment variables Amber reads (the ones it sets for its own children are not here). */
const ENVIRONMENT = [
  ["AMBER_STATE_DIR", "where Amber keeps its applications (default $XDG_RUNTIME_DIR/amber-UID)"],
  ["XDG_RUNTIME_DIR", "the base of the default state directory (default /tmp)"],
  [
    "AMBER_BUILD_DIR",
    "the folder of the helper programs and libraries (default build/ of the checkout)",
  ],
  ["AMBER_LIB_DIR", "the folder of libamberctl.so, if not AMBER_BUILD_DIR"],
  ["AMBER_DEBUG", "if set, errors show their stack and every cause"],
  ["PATH", "where `run` looks up the program"],
];

/** The text shown after the usage of the command at `path`. */
export function helpText(path: string): string {
  const lines: string[] = [];
  const examples = EXAMPLES[path];
  if (examples) lines.push("", "Examples:", ...examples.map((line) => `  $ ${line}`));
  lines.push("", "Environment:");
  const width = Math.max(...ENVIRONMENT.map(([name]) => name.length));
  for (const [name, what] of ENVIRONMENT) lines.push(`  ${name.padEnd(width)}  ${what}`);
  return lines.join("\n");
}

/** Adds examples and the environment variables to the help of `command` and its subcommands. */
export function addHelp(command: Command | CommandUnknownOpts, path = ""): void {
  command.addHelpText("after", helpText(path));
  for (const sub of command.commands) {
    addHelp(sub, path ? `${path} ${sub.name()}` : sub.name());
  }
}
