/**
 * A python3 asyncio server that forks its client from inside its running loop
 * (tests/progs/py_asyncio_fork.py): parent and child share the loop's epoll, which registers
 * connections only the parent holds. Snapshotted running, then with stop and restored twice,
 * the client's rounds go on over the same connections; and with 900 connections, more
 * descriptors and epoll registrations in one process than the agent once had room for.
 */

import { scenarioTest } from "./support.ts";

async function python(): Promise<string> {
  const which = new Deno.Command("python3", { args: ["-c", "import sys; print(sys.executable)"] });
  return new TextDecoder().decode((await which.output()).stdout).trim();
}

const script = new URL("./progs/py_asyncio_fork.py", import.meta.url).pathname;

scenarioTest(
  "python3 asyncio: a server whose forked child shares its loop's epoll serves on through two cycles",
  async (s) => {
    await s.cycles([await python(), script, s.dir], "asyncio");
  },
  120_000,
);

scenarioTest(
  "python3 asyncio: a server with 900 connections (1800 descriptors, 900 epoll registrations) serves on after a restore",
  async (s) => {
    const app = await s.launch([await python(), script, s.dir, "900"], "asyncio");
    await s.waitFor(/^ready$/m, "ready");
    await s.restore(await s.freeze(app));
    await s.pass();
  },
  120_000,
);
