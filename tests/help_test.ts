/**
 * `--help` with examples and environment variables, and `amber completions`: the scripts are
 * made, the bash one parses and completes commands, options and application names.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { amberFresh, CLI, run } from "./cli_run.ts";

const amber = amberFresh;

Deno.test("amber --help shows examples and the environment variables", async () => {
  const { code, stdout } = await amber("--help");
  assert.equal(code, 0);
  assert.match(stdout, /Examples:\n {2}\$ amber run /);
  assert.match(stdout, /Environment:\n {2}AMBER_STATE_DIR /);
  for (const name of ["AMBER_BUILD_DIR", "AMBER_LIB_DIR", "XDG_RUNTIME_DIR", "AMBER_DEBUG"]) {
    assert.match(stdout, new RegExp(`^  ${name} `, "m"));
  }
});

Deno.test("each command's --help has its own examples and the environment", async () => {
  const { stdout } = await amber("snapshot", "--help");
  assert.match(stdout, /\$ amber snapshot web --stop -o web\.amber/);
  assert.match(stdout, /AMBER_STATE_DIR/);
  const vne = await amber("vne", "create", "--help");
  assert.match(vne.stdout, /\$ amber vne create lab --subnet/);
  assert.match(vne.stdout, /AMBER_STATE_DIR/);
});

Deno.test("help read only in part (amber help | head -1) ends quietly", async () => {
  const shell =
    `"$0" run -A --quiet "$1" help | head -1; echo "amber exited $\{PIPESTATUS[0]}" >&2`;
  const { stdout, stderr } = await run("bash", ["-c", shell, Deno.execPath(), CLI], {
    NO_COLOR: "1",
    AMBER_STATE_DIR: "/nonexistent",
  });
  assert.equal(stdout, "Usage: amber [options] [command]\n");
  assert.equal(stderr, "amber exited 0\n");
});

Deno.test("completions of an unknown shell is a usage error", async () => {
  const { code, stderr } = await amber("completions", "tcsh");
  assert.equal(code, 2);
  assert.match(stderr, /Allowed choices are bash, zsh, fish/);
});

Deno.test("zsh and fish completion scripts name the commands and options", async () => {
  const zsh = await amber("completions", "zsh");
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^#compdef amber/);
  assert.match(zsh.stdout, /\("snapshot"\) opts=\(--output -o --parent --stop /);
  assert.match(zsh.stdout, /compdef _amber amber/);
  const fish = await amber("completions", "fish");
  assert.equal(fish.code, 0);
  assert.match(fish.stdout, /-n '__fish_use_subcommand' -a restore /);
  assert.match(fish.stdout, /-n '__fish_seen_subcommand_from snapshot' -l stop /);
  assert.match(fish.stdout, /-n '__fish_seen_subcommand_from kill' -a '\(__amber_apps\)'/);
});

Deno.test("the bash completion parses and completes commands, options and apps", async () => {
  const { code, stdout } = await amber("completions", "bash");
  assert.equal(code, 0);
  const dir = await Deno.makeTempDir({ prefix: "amber-help-test-" });
  try {
    const script = join(dir, "amber.bash");
    await Deno.writeTextFile(script, stdout);
    assert.equal((await run("bash", ["-n", script])).code, 0);
    // A stand-in `amber` whose `ps --json` lists two applications, as the real one prints them.
    const fake = join(dir, "fake-amber");
    const listing = JSON.stringify([{ name: "web", processes: [] }, { name: "db" }], null, 2);
    await Deno.writeTextFile(fake, `#!/bin/sh\ncat <<'END'\n${listing}\nEND\n`, { mode: 0o755 });
    const driver = `source ${script}
complete() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _amber
  echo "\${COMPREPLY[*]}"; }
complete amber sn
complete amber snapshot --st
complete amber vne c
complete amber help ki
complete ${fake} kill ""
complete ${fake} restore ""
`;
    const out = await run("bash", ["-c", driver], { PATH: "/usr/bin:/bin" });
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split("\n");
    assert.deepEqual(lines.slice(0, 5), ["snapshot", "--stop", "create", "kill", "web db"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
