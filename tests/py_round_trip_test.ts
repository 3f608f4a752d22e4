/**
 * Python programs that check themselves after one snapshot with stop and a restore (each says
 * "ready", then on DIR/go PASS or FAIL), for state a restore once lost without a word:
 * - tests/progs/py_tcp_options.py: a TCP listener's keepalive timing and TCP_DEFER_ACCEPT, which
 *   it passes on to the connections it accepts (the restored one had the system's defaults);
 * - tests/progs/py_socket_options.py: SO_LINGER, SO_PRIORITY, IP_TOS, IP_TTL, TCP_USER_TIMEOUT,
 *   TCP_NOTSENT_LOWAT, TCP Fast Open, the congestion control, multicast hops and loopback and
 *   IPV6_TCLASS (each came back as a new socket's);
 * - tests/progs/py_datagram_options.py: what a UDP server reads in control messages (IP_PKTINFO,
 *   IP_RECVERR...), path MTU discovery, GRO and GSO, the mark, the bound interface, and receive
 *   and send timeouts, and a Unix socket's timeouts and SO_PASSCRED (each came back as a new
 *   socket's: no control message, no timeout, no credentials);
 * - tests/progs/py_subreaper.py: a child subreaper (as tini -s or dumb-init is), which reaps the
 *   orphans of its tree (they went to Amber's supervisor instead).
 */

import { scenarioTest } from "./support.ts";

const CHECKS = [
  {
    name: "a TCP listener keeps its keepalive timing and TCP_DEFER_ACCEPT through a restore",
    script: "py_tcp_options.py",
    tag: "tcp-options",
  },
  {
    name:
      "TCP, UDP and IPv6 sockets keep the options set on them (linger, priority, TOS, TTL, user timeout, Fast Open, congestion control, multicast hops, the buffer sizes of UDP sockets and listeners) through a restore",
    script: "py_socket_options.py",
    tag: "socket-options",
  },
  {
    name:
      "UDP sockets keep what they asked to read in control messages (IP_PKTINFO, IP_RECVERR...), MTU discovery, GRO, GSO, mark, bound interface and timeouts, a TCP listener its timeout, Unix sockets their timeouts and SO_PASSCRED, through a restore",
    script: "py_datagram_options.py",
    tag: "datagram-options",
  },
  {
    name: "a child subreaper stays one through a restore and reaps an orphan of its tree",
    script: "py_subreaper.py",
    tag: "subreaper",
  },
];

for (const { name, script, tag } of CHECKS) {
  scenarioTest(name, async (s) => {
    const path = new URL(`./progs/${script}`, import.meta.url).pathname;
    await s.roundTrip(["python3", path, s.dir], tag);
  }, 60_000);
}
