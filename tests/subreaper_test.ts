/**
 * A child subreaper (tests/progs/py_subreaper.py, as tini -s or dumb-init is) stays one after a
 * restore: the restored process once lost the flag without a word, and the orphans of its tree
 * went to Amber's supervisor instead of to it.
 */

import { scenarioTest } from "./support.ts";

scenarioTest(
  "a child subreaper stays one through a restore and reaps an orphan of its tree",
  async (s) => {
    const script = new URL("./progs/py_subreaper.py", import.meta.url).pathname;
    await s.roundTrip(["python3", script, s.dir], "subreaper");
  },
  60_000,
);
