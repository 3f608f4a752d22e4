/**
 * Where the frozen milliseconds go, snapshot by snapshot: N MiB of random data
 * (bench/progs/gap_counter.c), full snapshots, then incremental ones after 1% of it was written,
 * each printed with the counter's longest gap during it, the coordinator's freeze steps and the
 * agent's (`AMBER_FREEZE_TIMES=1`, docs/snapshot-protocol.md, "Where a freeze goes").
 *
 * Run: `deno run -A bench/freeze_steps.ts [MiB]` (default 256; ROUNDS=n, default 5; DATA=zero
 * for zero data, full snapshots only).
 */

import { join } from "node:path";
import { type Image, launch } from "../mod.ts";
import { BENCH, longestGap, median, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const mib = Number(Deno.args[0] ?? 256);
const data = Deno.env.get("DATA") === "zero" ? "zero" : "random";

Deno.env.set("AMBER_FREEZE_TIMES", "1");
const coordinator: string[] = [];
const print = console.error;
console.error = (...args: unknown[]) => {
  const text = args.map(String).join(" ");
  if (text.startsWith("amber: freeze times (ms): ")) coordinator.push(text.slice(26));
  else if (text.startsWith("amber: snapshot times (ms): ")) {
    coordinator.push(`snapshot: ${text.slice(28)}`);
  } else print(...args);
};

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
const output = join(dir, "out");
const app = await launch([join(BENCH, "gap_counter"), String(mib), data, dir], { output });
const logPath = join(Deno.env.get("AMBER_STATE_DIR") ?? "", "apps", app.name, "log");
let logFrom = 0;
/** The agent's freeze lines logged since the last call. */
async function agentLines(): Promise<string[]> {
  const text = await Deno.readTextFile(logPath).catch(() => "");
  const lines = text.slice(logFrom).split("\n").filter((l) => l.includes("freeze times (us)"));
  logFrom = text.length;
  return lines.map((l) => l.slice(l.indexOf("freeze times (us)") + 18));
}
console.log(
  `${mib} MiB ${data}; load average ${Deno.loadavg().map((n) => n.toFixed(1)).join(", ")}`,
);
try {
  await waitForText(output, "ready");
  let parent: Image | undefined;
  for (const kind of data === "random" ? ["full", "1%"] : ["full"]) {
    const gaps: number[] = [], totals: number[] = [], held: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      if (kind === "1%") {
        const k = round + 1;
        await Deno.writeTextFile(join(dir, `round${k}`), "");
        await waitForText(output, `written ${k}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const from = (await Deno.stat(output)).size;
      coordinator.length = 0;
      await agentLines();
      const t0 = performance.now();
      const at = join(dir, `${kind === "full" ? "full" : "incr"}-${round}`);
      const image: Image = await app.snapshot({
        dir: at,
        timeoutMs: 600_000,
        ...(kind === "1%" ? { parent } : {}),
      });
      const total = performance.now() - t0;
      await new Promise((resolve) => setTimeout(resolve, 60));
      const gap = await longestGap(output, from);
      const agent = await agentLines();
      console.log(
        `${kind} ${round}: total ${total.toFixed(0)} ms, gap ${gap.toFixed(2)} ms\n` +
          `  coordinator (ms): ${coordinator.join(" | ")}\n` +
          agent.map((l) => `  agent (us): ${l}`).join("\n"),
      );
      const released = Math.max(0, ...agent.map((l) => Number(/released (\d+)/.exec(l)?.[1] ?? 0)));
      if (round > 0) gaps.push(gap), totals.push(total), held.push(released / 1000);
      if (kind === "full" && parent) await Deno.remove(parent.dir, { recursive: true });
      parent = image;
    }
    console.log(
      `${kind}: total ${stats(totals)} ms, frozen ${stats(gaps)} ms, in the handler ` +
        `${median(held).toFixed(2)} / ${Math.min(...held).toFixed(2)} ms (median / min)`,
    );
  }
} finally {
  await app.kill();
  await Deno.remove(dir, { recursive: true });
}
