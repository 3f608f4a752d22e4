/**
 * Connected Unix sockets across a snapshot and restore: socket pairs within a process and
 * between processes, a server and its client connected through a listening socket, each end
 * at its descriptor with its unread bytes and flags; and a connection to a peer outside the
 * application, which comes back reset.
 *
 * Every test has the shape of support.ts: launch a program from tests/progs/ under Amber, wait
 * for its "ready", snapshot with stop (the original ends), restore, then let the restored
 * program check its own state (it waits for `<dir>/go`) and say PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, scenarioTest } from "./support.ts";

const LIMIT_MS = 60_000;

scenarioTest(
  "socket pairs within one process keep their unread bytes, message boundaries, flags and shutdowns",
  async (s) => {
    await s.roundTrip([prog("socketpair_self"), s.dir], "pairs");
  },
  LIMIT_MS,
);

scenarioTest(
  "a parent and a child joined by socket pairs read exactly what was in flight both ways, then talk on",
  async (s) => {
    const image = await s.roundTrip([prog("socketpair_fork"), s.dir], "forked");
    assert.equal(image.manifest.processes.length, 2);
  },
  LIMIT_MS,
);

scenarioTest(
  "a snapshot that lets the program run on leaves every unread byte in place, and its image restores them",
  async (s) => {
    const app = await s.launch([prog("socketpair_fork"), s.dir], "live");
    await s.waitFor(/^ready$/m, "ready");
    const image = await app.snapshot({ dir: join(s.dir, "live.amber") });
    await s.pass(); // the original, which the snapshot only peeked at
    await s.restore(image); // <dir>/go is there already: the copy checks at once
    await s.waitFor(/^PASS$[^]*^PASS$/m, "a second PASS");
  },
  LIMIT_MS,
);

scenarioTest(
  "a Unix server and its client go on talking after restore, and the listener accepts a new client",
  async (s) => {
    const image = await s.roundTrip([prog("unix_server_client"), s.dir], "unix");
    assert.equal(image.manifest.processes.length, 2);
  },
  LIMIT_MS,
);

scenarioTest(
  "a Unix connection to a peer outside the application comes back reset after its unread bytes",
  async (s) => {
    const path = join(s.dir, "outside.sock");
    const listener = Deno.listen({ transport: "unix", path });
    let conn: Deno.Conn | undefined;
    try {
      const accepted = listener.accept();
      accepted.catch(() => {}); // settled below, or when the listener closes
      const app = await s.launch([prog("unix_outside_peer"), path, s.dir], "outside");
      conn = await accepted;
      await s.waitFor(/^ready$/m, "ready");
      await conn.write(new TextEncoder().encode("hi"));
      await s.restore(await s.freeze(app));
      await s.pass();
    } finally {
      conn?.close();
      listener.close();
    }
  },
  LIMIT_MS,
);
