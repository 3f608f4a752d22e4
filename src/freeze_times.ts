/**
 * Where the coordinator's part of a freeze goes, step by step: with `AMBER_FREEZE_TIMES=1` in
 * its environment, a snapshot prints the time from the freeze's start to each step on stderr
 * (the agents' side goes to the application's log, csrc/preload/agent/agent_freeze_times.c).
 * @module
 */

/** Marks steps; `done` prints them. Without the variable, both do nothing. */
export interface FreezeTimes {
  mark(step: string): void;
  done(): void;
}

/** Timing points for one freeze (or, named `what`, a whole snapshot), counted from now. */
export function freezeTimes(what = "freeze"): FreezeTimes {
  let wanted = false;
  try {
    const v = Deno.env.get("AMBER_FREEZE_TIMES");
    wanted = v !== undefined && v !== "" && v !== "0";
  } catch {
    // No permission to read the environment: no timing.
  }
  const start = performance.now();
  const marks: string[] = [];
  return {
    mark(step) {
      if (wanted) marks.push(`${step} ${(performance.now() - start).toFixed(2)}`);
    },
    done() {
      if (wanted && marks.length) console.error(`amber: ${what} times (ms): ${marks.join(", ")}`);
      marks.length = 0;
    },
  };
}
