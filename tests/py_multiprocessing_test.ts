/**
 * Python's multiprocessing under Amber: a Pool of 3 workers and a Queue between a producer and
 * a consumer, snapshotted with stop while they work, restored, twice; they finish with the
 * right results (tests/progs/py_multiprocessing.py says FAIL rather than hang). With each start
 * method: fork shares semaphores deleted at once, spawn and forkserver open them by name.
 */

import { scenarioTest } from "./support.ts";

for (const method of ["fork", "spawn", "forkserver"]) {
  scenarioTest(
    `python3 multiprocessing (${method}): a Pool and a Queue work on through two snapshot/restore cycles`,
    async (s) => {
      const python = new Deno.Command("python3", {
        args: ["-c", "import sys; print(sys.executable)"],
      });
      const executable = new TextDecoder().decode((await python.output()).stdout).trim();
      const script = new URL("./progs/py_multiprocessing.py", import.meta.url).pathname;
      let app = await s.launch([executable, script, s.dir, method], "multiprocessing");
      await s.waitFor(/^round 1$/m, "a round of the pool");
      for (const tag of ["first", "second"]) {
        const image = await s.freeze(app, tag); // mid-work: rounds done and to come
        const done = (await s.text()).match(/^round \d+$/gm)?.length ?? 0;
        app = await s.restore(image);
        // Not snapshotted again before the restored pool has done two more rounds.
        await s.waitFor(new RegExp(`^round ${done + 2}$`, "m"), `round ${done + 2}`);
      }
      await s.pass();
    },
    150_000,
  );
}
