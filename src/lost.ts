/**
 * {@linkcode lostConnections}: what a restore of an image cannot bring back as it was, named so
 * that `snapshot`, `inspect` and `restore` can say it: TCP connections that come back reset (a
 * peer outside the application cannot come with it, unless the snapshot kept the connection
 * with `tcpEstablished`), and connections that were waiting in a listener's accept queue (their
 * clients see them reset when the original ends) whose clients are outside the application
 * (those of its own clients are kept).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import type { Manifest } from "./manifest.ts";

/** A TCP connection that comes back reset: the program reads ECONNRESET, then end of file. */
export interface ResetConnection {
  /** The virtual pid of the process that holds it. */
  vpid: number;
  /** Its descriptor in that process. */
  fd: number;
  /** The local address, "ip:port" ("[ip6]:port"). */
  local: string;
  /** The peer's address ("" if it had none any more). */
  remote: string;
  /**
   * The snapshot was asked to keep it (`tcpEstablished`) and the kernel's repair mode would not
   * take it: a process without CAP_NET_ADMIN, such as a server's worker that dropped root.
   */
  repairRefused: boolean;
}

/** Connections a listening socket had not accepted yet: they are not in the image. */
export interface UnacceptedConnections {
  /** The virtual pid of the process that holds the listener. */
  vpid: number;
  /** The listener's descriptor in that process. */
  fd: number;
  /** The address it listens on. */
  local: string;
  /** How many connections were waiting. */
  waiting: number;
}

/** What a restore of an image loses of the application's connections. */
export interface LostConnections {
  /** TCP connections to peers outside the application: they come back reset. */
  reset: ResetConnection[];
  /** Listeners whose waiting connections were not accepted yet: those are not kept. */
  unaccepted: UnacceptedConnections[];
}

const DescriptorSchema = z.looseObject({
  fd: z.int(),
  reset: z.object({
    local: z.string(),
    remote: z.string(),
    repairRefused: z.boolean().default(false), // images before it was written: not asked
  }).optional(),
  unaccepted: z.object({ local: z.string(), waiting: z.int().positive() }).optional(),
});

/**
 * The connections a restore of the image with this manifest does not bring back as they were.
 *
 * @example An image of a program with no connection loses none
 * ```ts
 * import { lostConnections } from "../mod.ts";
 *
 * const lost = lostConnections({ processes: [] });
 * console.log(lost.reset.length, lost.unaccepted.length); // 0 0
 * ```
 */
export function lostConnections(manifest: Pick<Manifest, "processes">): LostConnections {
  const lost: LostConnections = { reset: [], unaccepted: [] };
  for (const { vpid, details } of manifest.processes) {
    for (const entry of Array.isArray(details.fds) ? details.fds : []) {
      const parsed = DescriptorSchema.safeParse(entry);
      if (!parsed.success) continue;
      const { fd, reset, unaccepted } = parsed.data;
      if (reset) lost.reset.push({ vpid, fd, ...reset });
      if (unaccepted) lost.unaccepted.push({ vpid, fd, ...unaccepted });
    }
  }
  return lost;
}

/**
 * One sentence per lost connection, for the command line. `tcpEstablished`: the snapshot asked
 * to keep them, so a reset one is one the kernel's repair mode would not take (a process
 * without CAP_NET_ADMIN, such as a server's worker that dropped root, or a connection no
 * longer established); the image says so of each connection repair refused, for `inspect` and
 * `restore`, which do not know how the snapshot was taken.
 */
export function lostConnectionLines(lost: LostConnections, tcpEstablished = false): string[] {
  const why = (c: ResetConnection) =>
    tcpEstablished || c.repairRefused
      ? "could not be kept: TCP repair needs CAP_NET_ADMIN in its process and an established connection"
      : "keep it with --tcp-established";
  return [
    ...lost.reset.map((c) =>
      `Process ${c.vpid}, descriptor ${c.fd}: the TCP connection ${c.local} -> ` +
      `${c.remote || "(no peer)"} comes back reset (${why(c)})`
    ),
    ...lost.unaccepted.map((c) =>
      `Process ${c.vpid}, descriptor ${c.fd}: ${c.waiting} connection(s) waiting to be ` +
      `accepted on ${c.local} are not in the image (their clients see them reset)`
    ),
  ];
}
