/**
 * TCP connections whose both ends are in the application (tests/progs/py_tcp_inside.py: a
 * python3 server and the client it forks), kept with tcpEstablished: each end comes back in
 * repair mode and leaves it only once every process has its descriptors, since leaving it
 * probes the peer, and a peer not made yet answered with a reset.
 */

import { join } from "node:path";
import { scenarioTest } from "./support.ts";

scenarioTest(
  "with tcpEstablished TCP connections between two processes of the application survive a restore",
  async (s) => {
    const app = await s.launch([
      "python3",
      new URL("./progs/py_tcp_inside.py", import.meta.url).pathname,
      s.dir,
      "20",
    ], "tcp-inside");
    await s.waitFor(/^ready$/m, "ready");
    const dir = join(s.dir, "image.amber");
    await s.restore(await app.snapshot({ dir, stop: true, tcpEstablished: true }));
    await s.pass();
  },
  60_000,
);
