/** Running the command line, or any program, as a child with a time limit (for the tests). */

import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const TIME_LIMIT_MS = 60_000;

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a time limit; whatever happens, the child is killed afterwards. */
export async function run(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Outcome> {
  const child = new Deno.Command(program, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => kill(child), TIME_LIMIT_MS);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
    kill(child);
  }
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // It has exited already.
  }
}

/** Runs `amber ARGS...` with a fresh, empty state directory. */
export async function amberFresh(...args: string[]): Promise<Outcome> {
  const stateDir = await Deno.makeTempDir({ prefix: "amber-cli-test-" });
  try {
    return await run(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], {
      AMBER_STATE_DIR: stateDir,
      NO_COLOR: "1",
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}
