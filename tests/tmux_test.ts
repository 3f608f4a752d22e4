/**
 * tmux as its users run it: a server that daemonizes, a bash in a pane on a pseudo-terminal,
 * a job in the background, and clients that come and go from outside the application. After
 * each restore the shell has its variables and its job, and forks, execs and runs new jobs.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Scenario, scenarioTest, sleep } from "./support.ts";

/** `tmux -S SOCKET ARGS...` from outside the application; its output, or "" if it failed. */
async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args: ["-S", socket, ...args], stderr: "null" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : "";
}

/** Types `line` into the pane, and waits until the pane shows `done` (a line of its own). */
async function typed(socket: string, line: string, done: string): Promise<string> {
  await tmux(socket, "send-keys", line, "Enter");
  for (const deadline = Date.now() + 20_000;;) {
    const pane = await tmux(socket, "capture-pane", "-p", "-S", "-100");
    if (pane.split("\n").some((l) => l.trim() === done)) return pane;
    if (Date.now() > deadline) assert.fail(`No '${done}' in the pane:\n${pane}`);
    await sleep(50);
  }
}

/** The shell after a restore: its variable, its first job, and a new job, subshell and exec. */
async function checkShell(socket: string, round: number): Promise<void> {
  const pane = await typed(
    socket,
    `clear; echo "X=$X"; y=$(echo sub${round}); echo "$y"; sleep 100${round} & jobs; echo END${round}`,
    `END${round}`,
  );
  assert.match(pane, /^X=42$/m);
  assert.match(pane, new RegExp(`^sub${round}$`, "m"));
  assert.match(pane, /Running +sleep 1000 &/);
  assert.match(pane, new RegExp(`Running +sleep 100${round} &`));
  assert.doesNotMatch(pane, /Segmentation|Aborted|free\(\)/);
}

scenarioTest(
  "tmux keeps its server, the shell in its pane and its background job through two restores, and the shell runs new jobs",
  async (s: Scenario) => {
    const socket = join(s.dir, "tmux.sock");
    try {
      const app = await s.launch(
        ["tmux", "-S", socket, "new-session", "-d", "-x", "120", "-y", "40"],
        "tmux",
      );
      // Keys typed before bash shows its prompt may be dropped as it sets up its terminal.
      for (
        const deadline = Date.now() + 20_000;
        !(await tmux(socket, "capture-pane", "-p")).trim();
      ) {
        if (Date.now() > deadline) assert.fail("the shell in tmux showed no prompt");
        await sleep(50);
      }
      await typed(socket, "X=42; sleep 1000 & echo STARTED", "STARTED");
      const first = await s.restore(await s.freeze(app, "first"));
      await checkShell(socket, 1);
      await s.restore(await s.freeze(first, "second"));
      await checkShell(socket, 2);
    } finally {
      await tmux(socket, "kill-server");
    }
  },
);
