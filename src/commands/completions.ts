/**
 * `amber completions bash|zsh|fish`: prints a shell completion script made from the command
 * tree itself, so new commands and options are completed without editing this file.
 * Application names are asked of `amber ps --json` when completing.
 *
 * @module
 */

import { Argument, Command, type CommandUnknownOpts } from "npm:@commander-js/extra-typings@15.1.0";

/** What completion needs of one command. */
interface Spec {
  /** The command's path under `amber` ("" for `amber`, "vne create" for a subcommand). */
  path: string;
  description: string;
  /** Its long and short flags ("--stop", "-o"), help included. */
  flags: { long?: string; short?: string; description: string }[];
  subcommands: string[];
  /** The values its first argument takes, if it has a fixed list. */
  choices: string[];
  /** True if its first argument is an application's name. */
  apps: boolean;
}

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = typeof SHELLS[number];

/** The top-level objects of `ps --json` (indented by 4) hold the application names. */
const NAME_LINE = `^    "name": "\\([^"]*\\)".*`;

/** The `completions` command. */
export function completionsCommand() {
  return new Command("completions")
    .description("Print a shell completion script (load it with: source <(amber completions bash))")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action((shell, _options, command) => {
      const root = command.parent;
      if (!root) throw new Error("completions must be a subcommand of amber");
      console.log(completionScript(shell, root));
    });
}

/** The completion script for `shell` of the command tree `root`. */
export function completionScript(shell: Shell, root: Command | CommandUnknownOpts): string {
  const specs = collect(root, "");
  if (shell === "bash") return bash(specs);
  if (shell === "zsh") return zsh(specs);
  return fish(specs);
}

function collect(command: Command | CommandUnknownOpts, path: string): Spec[] {
  const first = command.registeredArguments[0];
  const subcommands = command.commands.map((sub) => sub.name());
  if (command.commands.length > 0) subcommands.push("help");
  const flags = command.options.map((o) => ({
    long: o.long,
    short: o.short,
    description: o.description,
  }));
  flags.push({ long: "--help", short: "-h", description: "display help for command" });
  const spec: Spec = {
    path,
    description: command.description(),
    flags,
    subcommands,
    choices: first?.argChoices ?? [],
    apps: first?.name() === "name" && first.description === "the application",
  };
  const subs = command.commands.flatMap((sub) =>
    collect(sub, path ? `${path} ${sub.name()}` : sub.name())
  );
  return [spec, ...subs];
}

function longShort(spec: Spec): string[] {
  return spec.flags.flatMap((f) => [f.long, f.short]).filter((f): f is string => Boolean(f));
}

/** The shell `case` pattern that matches every command path but the root. */
function pathPattern(specs: Spec[]): string {
  return [...specs.filter((s) => s.path).map((s) => `"${s.path}"`), '"help"'].join("|");
}

function bash(specs: Spec[]): string {
  const cases = specs.map((s) =>
    `    "${s.path}") opts="${longShort(s).join(" ")}"; subs="${
      [...s.subcommands, ...s.choices].join(" ")
    }"; ` +
    `apps=${s.apps ? 1 : 0} ;;`
  );
  return `# bash completion for amber: source <(amber completions bash)
_amber() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i opts="" subs="" apps=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$cmdpath\${cmdpath:+ }$w" in
      ${pathPattern(specs)}) cmdpath="$cmdpath\${cmdpath:+ }$w" ;;
    esac
  done
  case "$cmdpath" in
${cases.join("\n")}
  esac
  [ "$cmdpath" = help ] && subs="${specs[0].subcommands.join(" ")}"
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  if [ "$apps" = 1 ]; then
    subs="$subs $("\${COMP_WORDS[0]}" ps --json 2>/dev/null | sed -n 's/${NAME_LINE}/\\1/p')"
  fi
  COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  [ \${#COMPREPLY[@]} -eq 0 ] && [ -z "$subs" ] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _amber amber`;
}

function zsh(specs: Spec[]): string {
  const cases = specs.map((s) =>
    `    ("${s.path}") opts=(${longShort(s).join(" ")}); subs=(${
      [...s.subcommands, ...s.choices].join(" ")
    }); ` +
    `apps=${s.apps ? 1 : 0} ;;`
  );
  return `#compdef amber
# zsh completion for amber: amber completions zsh > "\${fpath[1]}/_amber", or source it.
_amber() {
  local cur="\${words[CURRENT]}" cmdpath="" w i apps=0
  local -a opts subs
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    case "$cmdpath\${cmdpath:+ }$w" in
      (${pathPattern(specs)}) cmdpath="$cmdpath\${cmdpath:+ }$w" ;;
    esac
  done
  case "$cmdpath" in
${cases.join("\n")}
  esac
  [[ "$cmdpath" == help ]] && subs=(${specs[0].subcommands.join(" ")})
  if [[ "$cur" == -* ]]; then
    compadd -- $opts
    return
  fi
  if (( apps )); then
    subs+=(\${(f)"$(\${words[1]} ps --json 2>/dev/null | sed -n 's/${NAME_LINE}/\\1/p')"})
  fi
  if (( \${#subs} )); then compadd -- $subs; else _files; fi
}
compdef _amber amber`;
}

/** Quotes `text` for fish, in single quotes. */
function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fish(specs: Spec[]): string {
  const lines = [
    "# fish completion for amber: amber completions fish > ~/.config/fish/completions/amber.fish",
    "complete -c amber -f",
    "function __amber_apps",
    `  amber ps --json 2>/dev/null | string replace -rf '^    "name": "([^"]*)".*' '$1'`,
    "end",
  ];
  const top = specs.filter((s) => s.path && !s.path.includes(" ")).map((s) => s.path);
  for (const spec of specs) {
    const words = spec.path.split(" ");
    const last = words[words.length - 1];
    // The condition: the command's own word seen, and (for a parent) none of its subcommands.
    let when = spec.path === "" ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${last}`;
    if (spec.path && spec.subcommands.length > 0) {
      when += `; and not __fish_seen_subcommand_from ${spec.subcommands.join(" ")}`;
    }
    const sub = (name: string, description: string) =>
      `complete -c amber -n ${fishQuote(when)} -a ${name} -d ${fishQuote(description)}`;
    for (const name of spec.subcommands) {
      const child = specs.find((s) => s.path === (spec.path ? `${spec.path} ${name}` : name));
      lines.push(
        sub(name, child?.description.split(/\. | \(|: /)[0] ?? "display help for command"),
      );
    }
    for (const flag of spec.flags) {
      const parts = [`complete -c amber -n ${fishQuote(when)}`];
      if (flag.long) parts.push(`-l ${flag.long.slice(2)}`);
      if (flag.short) parts.push(`-s ${flag.short.slice(1)}`);
      parts.push(`-d ${fishQuote(flag.description)}`);
      lines.push(parts.join(" "));
    }
    if (spec.choices.length > 0) {
      lines.push(`complete -c amber -n ${fishQuote(when)} -a ${fishQuote(spec.choices.join(" "))}`);
    }
    if (spec.apps) lines.push(`complete -c amber -n ${fishQuote(when)} -a '(__amber_apps)'`);
  }
  lines.push(
    `complete -c amber -n '__fish_seen_subcommand_from help' -a ${fishQuote(top.join(" "))}`,
    "complete -c amber -n '__fish_seen_subcommand_from run restore inspect' -F",
  );
  return lines.join("\n");
}
