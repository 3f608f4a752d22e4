/**
 * {@linkcode checkNotTraced}: a process under ptrace (a debugger, strace, a profiler that
 * attaches) cannot be snapshotted as it is. Its tracer would take the checkpoint signal as an
 * event to act on, and a restore could not attach the tracer again: the tracee would come back
 * untraced, or the tracer would lose it, without a word. The snapshot refuses before it
 * freezes anything, naming the thread and its tracer.
 *
 * @module
 */

import type { ProcessInfo } from "./app.ts";
import { SnapshotError } from "./errors.ts";

/** The tracer of a thread, from /proc/<pid>/task/<tid>/status; 0 when none or unreadable. */
async function tracerOf(pid: number, tid: string): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/task/${tid}/status`);
    return Number(status.match(/^TracerPid:\s*(\d+)$/m)?.[1] ?? 0);
  } catch {
    return 0; // gone: the freeze finds out and says so
  }
}

async function commandOf(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return "?";
  }
}

/**
 * Throws a SnapshotError naming the first thread of `app` that a tracer holds, and the tracer
 * (by virtual pid if it is one of the application's processes).
 */
export async function checkNotTraced(
  app: string,
  processes: readonly ProcessInfo[],
): Promise<void> {
  for (const p of processes) {
    if (!p.alive || p.pid <= 0) continue;
    let tids: string[] = [];
    try {
      tids = (await Array.fromAsync(Deno.readDir(`/proc/${p.pid}/task`))).map((e) => e.name);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const tracer = await tracerOf(p.pid, tid);
      if (tracer === 0) continue;
      const inside = processes.find((q) => q.pid === tracer);
      const who = inside
        ? `its own process ${inside.vpid} (${await commandOf(tracer)})`
        : `pid ${tracer} (${await commandOf(tracer)}), outside the application`;
      const thread = tid === String(p.pid) ? "" : ` (thread of system TID ${tid})`;
      throw new SnapshotError(
        `Cannot snapshot '${app}': process ${p.vpid}${thread} is traced (ptrace) by ${who}; ` +
          `a restore could not attach the tracer again. Detach the debugger or tracer first; ` +
          `it keeps running`,
        { reason: "unsupported-resource" },
      );
    }
  }
}
