/**
 * Every process of an application must run under Amber's library to be frozen: one that does
 * not (it exec'd a static or set-user-ID program, or its library could not reach the
 * application's tables) has no handler for the checkpoint signal, which would end it. The
 * control library sends no signal then (ENOEXEC), and this names the process.
 *
 * @module
 */

import type { ProcessInfo } from "./processes.ts";
import { SnapshotError } from "./errors.ts";

const CKPT_BIT = 1n << 61n; // signal 62, the library's checkpoint signal

interface SignalState {
  name: string;
  caught: boolean;
  blocked: boolean;
}

async function signalState(pid: number): Promise<SignalState | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/status`);
  } catch {
    return null; // gone: the freeze finds out and says so
  }
  const field = (name: string) => text.match(new RegExp(`^${name}:\\s*(.*)$`, "m"))?.[1] ?? "";
  if (/^[ZX]/.test(field("State"))) return null; // a zombie: saved apart, by its status
  const bits = (name: string) => BigInt(`0x${field(name) || "0"}`);
  return {
    name: field("Name"),
    caught: (bits("SigCgt") & CKPT_BIT) !== 0n,
    blocked: (bits("SigBlk") & CKPT_BIT) !== 0n,
  };
}

/** Whether a process still runs (a zombie or a reused pid does not count). */
async function running(pid: number, name: string): Promise<boolean> {
  const state = await signalState(pid);
  return state !== null && state.name === name;
}

/** Each running process's name, to tell later whether it still runs (a pid may be reused). */
export async function namesOf(
  processes: readonly ProcessInfo[],
): Promise<Map<ProcessInfo, string>> {
  const names = new Map<ProcessInfo, string>();
  for (const p of processes) {
    const state = p.alive && p.pid > 0 ? await signalState(p.pid) : null;
    if (state) names.set(p, state.name);
  }
  return names;
}

/**
 * What became of an application whose snapshot failed: "it keeps running", or which of its
 * processes (as listed by `namesOf` before the freeze) ended meanwhile.
 */
export async function outcome(before: Map<ProcessInfo, string>): Promise<string> {
  const gone: string[] = [];
  for (const [p, name] of before) {
    if (!(await running(p.pid, name))) gone.push(`${p.vpid} (${name})`);
  }
  if (gone.length === 0) return "it keeps running";
  return `its process${gone.length > 1 ? "es" : ""} ${gone.join(", ")} ended during the ` +
    `snapshot; the others keep running`;
}

/**
 * Throws a SnapshotError naming the first live process of `app` that runs without Amber: no
 * handler for the checkpoint signal, and not holding it off (as an exec'd program does until
 * its library is ready).
 */
export async function checkVirtualized(
  app: string,
  processes: readonly ProcessInfo[],
): Promise<void> {
  for (const p of processes) {
    const state = p.alive && p.pid > 0 ? await signalState(p.pid) : null;
    if (state === null || state.caught || state.blocked) continue;
    throw new SnapshotError(
      `Cannot snapshot '${app}': process ${p.vpid} (pid ${p.pid}, ${state.name}) runs ` +
        `without Amber's library (a static or set-user-ID program, or one whose library ` +
        `could not reach the application's tables), so Amber cannot freeze or save it; ` +
        `it keeps running`,
      { reason: "unsupported-resource" },
    );
  }
}
