/**
 * Multicast group memberships, which the kernel lists per interface only, noted by the library
 * as the program makes them (csrc/preload/wrappers/mcast_note.c) and made again by the restore
 * (csrc/preload/fds/mcast_keep.c). tests/progs/mcast_memberships.c says what it joins, drops
 * and checks; it is snapshotted running (copy on write), then with stop and restored twice over
 * (the restored memberships are noted again). tests/progs/go_mcast.go joins through Go's
 * runtime, which makes the call itself. A source filter set whole (setsourcefilter), which
 * Amber cannot make again, makes the snapshot refuse naming it, with the seccomp layer (libc's
 * own setsockopt, trapped) and without (the library's setsourcefilter), and so does a leave
 * that names its group's interface another way than the join did.
 */

import { prog, refusedRunsOn, scenarioTest } from "./support.ts";

scenarioTest(
  "multicast memberships (IPv4 by index, address and source, a blocked source, a raw join, a forked child's, IPv6) come back, and dropped ones do not",
  async (s) => {
    await s.cycles([prog("mcast_memberships"), s.dir, "keep"], "mcast");
  },
  60_000,
);

scenarioTest(
  "memberships of closed sockets make room for new ones: 300 sockets joined and closed, then the same round trip",
  async (s) => {
    await s.roundTrip([prog("mcast_memberships"), s.dir, "churn"], "mcast-churn");
  },
  60_000,
);

scenarioTest(
  "a Go program's multicast membership (net.ListenMulticastUDP, Go's own system call) comes back",
  async (s) => {
    await s.cycles([prog("go_mcast"), s.dir], "go-mcast");
  },
  60_000,
);

const REFUSED = [
  {
    mode: "filter",
    seccomp: "on",
    what: "whose multicast source filter was set whole",
    named: /process \d+: descriptor \d+: .*multicast.*whole source filter.*MCAST_MSFILTER/,
  },
  {
    mode: "filter",
    seccomp: "off",
    what: "whose multicast source filter was set whole, without the seccomp layer",
    named: /process \d+: descriptor \d+: .*multicast.*whole source filter.*MCAST_MSFILTER/,
  },
  {
    mode: "mismatch",
    seccomp: "on",
    what: "that left a group joined by address by an interface index",
    named:
      /descriptor \d+: .*matched no join.*MCAST_LEAVE_GROUP group 239\.7\.7\.16 on interface \d+ lo/,
  },
] as const;

for (const { mode, seccomp, what, named } of REFUSED) {
  scenarioTest(
    `a snapshot of a socket ${what} is refused, naming it, and the program runs on`,
    async (s) => {
      const argv = [prog("mcast_memberships"), s.dir, mode];
      const app = await s.launch(argv, `mcast-${mode}`, { seccomp });
      await refusedRunsOn(s, app, named);
    },
    60_000,
  );
}
