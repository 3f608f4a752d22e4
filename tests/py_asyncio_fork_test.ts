/**
 * A python3 asyncio server that forks its client from inside its running loop
 * (tests/progs/py_asyncio_fork.py): parent and child share the loop's epoll, which registers
 * connections only the parent holds. Snapshotted running, then with stop and restored twice,
 * the client's rounds go on over the same connections.
 */

import { scenarioTest } from "./support.ts";

scenarioTest(
  "python3 asyncio: a server whose forked child shares its loop's epoll serves on through two cycles",
  async (s) => {
    const python = new Deno.Command("python3", {
      args: ["-c", "import sys; print(sys.executable)"],
    });
    const executable = new TextDecoder().decode((await python.output()).stdout).trim();
    const script = new URL("./progs/py_asyncio_fork.py", import.meta.url).pathname;
    await s.cycles([executable, script, s.dir], "asyncio");
  },
  120_000,
);
