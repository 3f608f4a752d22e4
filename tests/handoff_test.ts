/**
 * Faults at each step of a migration's hand-off (docs/migration.md), on two computers
 * (tests/cluster.ts): APP (vne_app, which counts the connections it answered, in memory, and
 * checks its heap) moves back and forth; at each step the link between the computers is cut,
 * or the target's agent is killed, or the source's `amber migrate` is killed. After the fault,
 * and the migration tried again with the link mended and the agent back, exactly one copy of
 * APP runs, on the target, and it answers with the count that comes next: nothing it counted
 * was lost, and no copy ran beside another (a copy that had run apart would count apart).
 * Before the retry, the source's copy runs exactly when the fault came before the commit point.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, clusterUnavailable, type Computer } from "./cluster.ts";
import { prog, sleep } from "./vne_support.ts";

const LIMIT_MS = 420_000;
const unavailable = await clusterUnavailable();

type Step = "prepared" | "confirmed" | "committed" | "ended" | "released";
const STEPS: Step[] = ["prepared", "confirmed", "committed", "ended", "released"];
type Fault = "cut the link" | "kill the target's agent" | "kill the source's migrate";

async function ok(cluster: Cluster, c: Computer, args: string[]): Promise<string> {
  const out = await cluster.amber(c, args);
  assert.equal(out.code, 0, `amber ${args.join(" ")} on ${c.name}: ${out.stderr}`);
  return out.stdout;
}

async function runs(cluster: Cluster, c: Computer): Promise<boolean> {
  const apps = JSON.parse(await ok(cluster, c, ["ps", "--json"])) as { name: string }[];
  return apps.some((a) => a.name === "app");
}

/** APP's answer on `c`, through its real port there ("" if none within `limitS` seconds). */
function ask(cluster: Cluster, c: Computer, limitS = 5): Promise<string> {
  return cluster.askApp(c, "vneh", "10.10.9.7", 8080, limitS);
}

function count(answer: string): number {
  const m = /^app (\d+) from /.exec(answer);
  assert.ok(m, `Not an answer of APP: '${answer}'`);
  return Number(m[1]);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Migrates APP from `from` to `to`, applying `fault` at `step`; then heals, tries again and
 * checks. `last` is APP's count before; returns its count after.
 */
async function scenario(
  cluster: Cluster,
  from: Computer,
  to: Computer,
  step: Step,
  fault: Fault,
  last: number,
  retry = true,
): Promise<number> {
  const pause = join(cluster.dir, "pause");
  await Deno.remove(pause, { recursive: true }).catch(() => {});
  await Deno.mkdir(pause);
  const args = [
    "migrate",
    "app",
    "--to",
    to.agentUrl,
    "--token-file",
    cluster.tokenFile,
    "--no-precopy",
    "--timeout",
    "8000",
  ];
  const env = { AMBER_TEST_HANDOFF_PAUSE: pause };
  const { child, outcome } = cluster.spawnAmber(from, args, env);
  let ended = false;
  outcome.finally(() => ended = true);
  const done = new Set<Step>();
  let faulted = false;
  while (!ended) {
    for (const s of STEPS) {
      if (done.has(s) || !(await exists(join(pause, s)))) continue;
      done.add(s);
      if (s === step) {
        faulted = true;
        if (fault === "cut the link") await cluster.setLink(false);
        else if (fault === "kill the target's agent") await cluster.stopAgent(to);
        else child.kill("SIGKILL");
      }
      await Deno.writeTextFile(join(pause, `${s}.go`), "");
    }
    await sleep(20);
  }
  const first = await outcome;
  const what = `${fault} at '${step}'`;
  assert.ok(faulted, `${what}: the step never came: ${first.stderr}`);
  if (fault !== "kill the source's migrate") {
    assert.equal(first.code, 1, `${what}: the migration did not fail: ${first.stdout}`);
  }
  if (fault === "cut the link") await cluster.setLink(true);
  if (fault === "kill the target's agent") await cluster.startAgent(to);

  // Before the commit point the original runs on; after it, it never runs again.
  const before = step === "prepared" ||
    (step === "confirmed" && fault === "kill the source's migrate");
  if (before) {
    await cluster.until(
      async () => (await ask(cluster, from, 2)) !== "",
      `${what}: APP on ${from.name}`,
    );
    last = count(await ask(cluster, from));
  } else {
    assert.equal(
      await ask(cluster, from, 2),
      "",
      `${what}: the original answered after the commit`,
    );
  }

  for (const s of STEPS) await Deno.writeTextFile(join(pause, `${s}.go`), "");
  const record = join(from.state, "migrations", "app.json");
  if (!retry) {
    // No one runs the migration again: the source's agent settles it by itself.
    if (before) {
      await cluster.until(
        async () => !(await runs(cluster, to)) && !(await exists(record)),
        `${what}: the target's held copy ended without a retry`,
        60_000,
      );
      assert.equal(count(await ask(cluster, from)), last + 1, `${what}: APP's count`);
      return last + 1;
    }
    let answer = "";
    await cluster.until(
      async () => (answer = await ask(cluster, to, 2)) !== "",
      `${what}: the target's copy released without a retry`,
      60_000,
    );
    assert.equal(count(answer), last + 1, `${what}: APP's count did not go on: '${answer}'`);
    assert.equal(await runs(cluster, from), false, `${what}: APP still on ${from.name}`);
    last += 1;
  }
  const retry_ = await cluster.amber(from, args);
  assert.equal(retry_.code, 0, `${what}: the retry failed: ${retry_.stderr}`);
  assert.equal(await runs(cluster, from), false, `${what}: APP still on ${from.name}`);
  assert.equal(await runs(cluster, to), true, `${what}: APP not on ${to.name}`);
  assert.ok(!(await exists(record)), `${what}: record left`);
  let answer = "";
  await cluster.until(async () => (answer = await ask(cluster, to, 2)) !== "", `${what}: APP`);
  assert.equal(count(answer), last + 1, `${what}: APP's count did not go on: '${answer}'`);
  return last + 1;
}

/**
 * A hand-off test on a fresh cluster: APP runs on computer 3, then `scenarios` run in turn,
 * each from where APP is to the other computer.
 */
function handOffTest(
  name: string,
  scenarios: { step: Step; fault: Fault; retry: boolean }[],
): void {
  Deno.test(
    {
      name,
      ignore: unavailable !== null,
      sanitizeResources: false,
      sanitizeOps: false,
    },
    async () => {
      await using cluster = await Cluster.create();
      cluster.agentEnv = { AMBER_TEST_HANDOFF_PAUSE: join(cluster.dir, "pause") };
      await Deno.mkdir(join(cluster.dir, "pause"));
      for (const s of STEPS) await Deno.writeTextFile(join(cluster.dir, "pause", `${s}.go`), "");
      for (const c of cluster.computers) {
        await cluster.stopAgent(c);
        await cluster.startAgent(c);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Not done within ${LIMIT_MS} ms`)), LIMIT_MS);
      });
      const body = async () => {
        const [c2, c3] = cluster.computers;
        await ok(cluster, c3, ["vne", "create", "vneh", "--subnet", "10.10.9.0/24"]);
        await ok(cluster, c3, [
          "run",
          "--detach",
          "--name",
          "app",
          "--vne",
          "vneh",
          "--ip",
          "10.10.9.7",
          "--output",
          join(cluster.dir, "app.out"),
          "--",
          prog("vne_app"),
          "8080",
          "8",
        ]);
        let answer = "";
        await cluster.until(async () => (answer = await ask(cluster, c3, 2)) !== "", "APP");
        let last = count(answer);
        let [from, to] = [c3, c2];
        for (const { step, fault, retry } of scenarios) {
          const before = step === "prepared" ||
            (step === "confirmed" && fault === "kill the source's migrate");
          last = await scenario(cluster, from, to, step, fault, last, retry);
          if (retry || !before) [from, to] = [to, from];
        }
      };
      try {
        await Promise.race([body(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
  );
}

for (
  const fault of ["cut the link", "kill the target's agent", "kill the source's migrate"] as const
) {
  handOffTest(
    `${fault} at each step of the hand-off: after a retry exactly one copy runs, intact`,
    STEPS.map((step) => ({ step, fault, retry: true })),
  );
}

handOffTest(
  "a hand-off cut or left at each side of the commit point settles without a retry",
  [
    // The target holds a copy the source abandoned: it is ended once the link is back.
    { step: "prepared", fault: "cut the link", retry: false },
    // The source committed: its copy is released once the link is back.
    { step: "ended", fault: "cut the link", retry: false },
    // The source's migrate was killed at the commit point: its agent finishes it.
    { step: "committed", fault: "kill the source's migrate", retry: false },
  ],
);
