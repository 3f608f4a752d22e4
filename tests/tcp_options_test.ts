/**
 * TCP options a server sets on its listener, which it passes on to the connections it accepts
 * (tests/progs/py_tcp_options.py: keepalive timing, TCP_DEFER_ACCEPT), are set again on the
 * restored listener: a restore once left them at the system's defaults without a word.
 */

import { scenarioTest } from "./support.ts";

scenarioTest(
  "a TCP listener keeps its keepalive timing and TCP_DEFER_ACCEPT through a restore",
  async (s) => {
    const script = new URL("./progs/py_tcp_options.py", import.meta.url).pathname;
    await s.roundTrip(["python3", script, s.dir], "tcp-options");
  },
  60_000,
);
