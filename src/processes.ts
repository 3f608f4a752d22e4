/**
 * The processes of an application, read from the rows of its translation tables.
 *
 * @module
 */

import type { TableRow } from "../ffi/control.ts";
import { PidFlag } from "../ffi/contract.ts";

/** A process of an application: its virtual pid, its system pid, its parent's virtual pid. */
export interface ProcessInfo {
  /** The pid the program sees. */
  vpid: number;
  /** The pid the kernel gave it. */
  pid: number;
  /** The virtual pid of its parent. */
  parent: number;
  /** Whether the process still exists. */
  alive: boolean;
}

/** Whether a table says its application is stale: its supervisor is gone. */
export function isStale(rows: readonly TableRow[]): boolean {
  const row = rows.find((r) => r.kind === "pid" && (r.flags & PidFlag.SUPERVISOR) !== 0);
  return row === undefined || !row.alive;
}

/** The processes (not threads, not the supervisor) among a table's rows. */
export function processesOf(rows: readonly TableRow[]): ProcessInfo[] {
  return rows
    .filter((r) =>
      r.kind === "pid" && (r.flags & PidFlag.PROCESS) !== 0 &&
      (r.flags & PidFlag.SUPERVISOR) === 0
    )
    .map((r) => ({ vpid: r.vid, pid: r.sid, parent: r.parent, alive: r.alive }));
}

/** What a pid row stands for: the supervisor, a thread, or a process. */
export function pidRole(row: TableRow): "supervisor" | "thread" | "process" {
  if (row.flags & PidFlag.SUPERVISOR) return "supervisor";
  return row.flags & PidFlag.THREAD ? "thread" : "process";
}

/** Whether a pid row is a process (a thread-group leader, the supervisor included). */
export function isProcessRow(row: TableRow): boolean {
  return (row.flags & PidFlag.PROCESS) !== 0;
}
