/**
 * With etcd, owning a virtual IP is a lease (src/agent/lease.ts, docs/migration.md), on two
 * computers (tests/cluster.ts; etcd runs in computer 2). APP runs on computer 3. When the link is
 * cut, computer 3's agent cannot renew its lease, and APP is stopped before the lease can expire;
 * once the link is back, APP holds its virtual IP again and goes on, its count intact. Cut again
 * long enough for the lease to expire, another application takes the virtual IP on computer 2;
 * once the link is back, APP has lost its IP and is ended: one owner. With its agent killed, APP's
 * supervisor stops it by itself (csrc/supervisor/lease_fence.c).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, clusterUnavailable, type Computer } from "./cluster.ts";
import { prog } from "./vne_support.ts";

const LIMIT_MS = 120_000;
const unavailable = await clusterUnavailable();

async function ok(cluster: Cluster, c: Computer, args: string[]): Promise<string> {
  const out = await cluster.amber(c, args);
  assert.equal(out.code, 0, `amber ${args.join(" ")} on ${c.name}: ${out.stderr}`);
  return out.stdout;
}

interface Listing {
  name: string;
  processes: { pid: number; alive: boolean }[];
}

async function listing(cluster: Cluster, c: Computer): Promise<Listing[]> {
  return JSON.parse(await ok(cluster, c, ["ps", "--json"])) as Listing[];
}

/** Whether every process of `name` on `c` is stopped (state T). */
async function stopped(cluster: Cluster, c: Computer, name: string): Promise<boolean> {
  const app = (await listing(cluster, c)).find((a) => a.name === name);
  assert.ok(app, `No '${name}' on ${c.name}`);
  for (const p of app.processes.filter((p) => p.alive)) {
    const status = await Deno.readTextFile(`/proc/${p.pid}/status`).catch(() => "");
    if (!/^State:\s+T/m.test(status)) return false;
  }
  return true;
}

/** The answer of the application at 10.10.9.7:8080 that runs on `c` ("" if none). */
function ask(cluster: Cluster, c: Computer): Promise<string> {
  return cluster.askApp(c, "vnel", "10.10.9.7", 8080, 2);
}

function count(answer: string): number {
  const m = /^app (\d+) from /.exec(answer);
  assert.ok(m, `Not an answer of vne_app: '${answer}'`);
  return Number(m[1]);
}

async function members(cluster: Cluster, c: Computer): Promise<string[]> {
  const vnes = JSON.parse(await ok(cluster, c, ["vne", "ls", "--json"])) as {
    name: string;
    members: { app: string }[];
  }[];
  return vnes.find((v) => v.name === "vnel")?.members.map((m) => m.app) ?? [];
}

/**
 * A lease test: APP runs on computer 3 in VNE vnel at 10.10.9.7; then `body`. With `forger`, a
 * process of APP (tests/progs/lease_forger.c) tries to renew its lease itself meanwhile.
 */
function leaseTest(
  name: string,
  body: (
    cluster: Cluster,
    runApp: (c: Computer, name: string) => Promise<string>,
    first: number,
  ) => Promise<void>,
  forger = false,
): void {
  Deno.test(
    { name, ignore: unavailable !== null, sanitizeResources: false, sanitizeOps: false },
    async () => {
      await using cluster = await Cluster.create();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Not done within ${LIMIT_MS} ms`)), LIMIT_MS);
      });
      const scene = async () => {
        const [c2, c3] = cluster.computers;
        await ok(cluster, c3, ["vne", "create", "vnel", "--subnet", "10.10.9.0/24"]);
        const runApp = (c: Computer, name: string) =>
          ok(cluster, c, [
            "run",
            "--detach",
            "--name",
            name,
            "--vne",
            "vnel",
            "--ip",
            "10.10.9.7",
            "--output",
            join(cluster.dir, `${name}.out`),
            "--",
            ...(forger
              ? [
                "sh",
                "-c",
                `${prog("lease_forger")} ${join(c.state, "apps", name)} & exec ${
                  prog("vne_app")
                } 8080`,
              ]
              : [prog("vne_app"), "8080"]),
          ]);
        await runApp(c3, "app");
        await cluster.until(
          async () => (await members(cluster, c2)).includes("app"),
          "APP's claim",
        );
        let answer = "";
        await cluster.until(async () => (answer = await ask(cluster, c3)) !== "", "APP");
        await body(cluster, runApp, count(answer));
      };
      try {
        await Promise.race([scene(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
  );
}

leaseTest(
  "an application whose computer loses its lease stops, and ends once another owns its IP",
  async (cluster, runApp, first) => {
    const [c2, c3] = cluster.computers;
    let answer = "";
    // A short cut: stopped, then on again with its count.
    await cluster.setLink(false);
    await cluster.until(() => stopped(cluster, c3, "app"), "APP stopped", 10_000);
    await cluster.setLink(true);
    await cluster.until(async () => !(await stopped(cluster, c3, "app")), "APP going on");
    await cluster.until(async () => (answer = await ask(cluster, c3)) !== "", "APP again");
    assert.equal(count(answer), first + 1);

    // A long cut: the lease expires, THIEF takes the address on computer 2; APP is ended.
    await cluster.setLink(false);
    await cluster.until(() => stopped(cluster, c3, "app"), "APP stopped", 10_000);
    await cluster.until(
      async () => !(await members(cluster, c2)).includes("app"),
      "APP's claim to expire",
    );
    await runApp(c2, "thief");
    await cluster.until(async () => (await ask(cluster, c2)) !== "", "THIEF");
    await cluster.setLink(true);
    await cluster.until(
      async () => !(await listing(cluster, c3)).some((a) => a.name === "app"),
      "APP ended",
    );
    await cluster.until(
      async () => (await members(cluster, c3)).join() === "thief",
      "THIEF's claim on computer 3",
    );
  },
);

leaseTest(
  "an application whose agent was killed stops by itself, and ends once the agent finds another owns its IP",
  async (cluster, runApp) => {
    const [c2, c3] = cluster.computers;
    await cluster.stopAgent(c3); // SIGKILL
    // No agent renews computer 3's lease: APP's supervisor stops it before the lease can expire.
    await cluster.until(() => stopped(cluster, c3, "app"), "APP stopped by itself", 10_000);
    // Its claim expires, and THIEF takes the address.
    await cluster.until(
      async () => !(await members(cluster, c2)).includes("app"),
      "APP's claim to expire",
    );
    await runApp(c2, "thief");
    assert.ok(await stopped(cluster, c3, "app"), "APP stays stopped while its agent is away");
    await cluster.startAgent(c3);
    await cluster.until(
      async () => !(await listing(cluster, c3)).some((a) => a.name === "app"),
      "APP ended",
    );
    assert.match(await ask(cluster, c2), /^app 1 from /);
  },
);

leaseTest(
  "an application whose agent was killed stops by itself, and goes on once the agent is back",
  async (cluster, _runApp, first) => {
    const [, c3] = cluster.computers;
    await cluster.stopAgent(c3); // SIGKILL
    await cluster.until(() => stopped(cluster, c3, "app"), "APP stopped by itself", 10_000);
    await cluster.startAgent(c3);
    await cluster.until(async () => !(await stopped(cluster, c3, "app")), "APP going on");
    let answer = "";
    await cluster.until(async () => (answer = await ask(cluster, c3)) !== "", "APP again");
    assert.equal(count(answer), first + 1, "its count kept");
  },
);

leaseTest(
  "an application's process that forges lease renewals does not keep it from being stopped once its agent is killed",
  async (cluster) => {
    const [, c3] = cluster.computers;
    const out = join(cluster.dir, "app.out");
    await cluster.until(
      async () => (await Deno.readTextFile(out).catch(() => "")).includes("forger: ready"),
      "the forger",
    );
    await cluster.stopAgent(c3); // SIGKILL
    // The forger renews all the while (the old renewals file, the supervisor's channel): APP
    // and the forger stop anyway, before the lease can expire.
    await cluster.until(() => stopped(cluster, c3, "app"), "APP stopped by itself", 10_000);
    assert.doesNotMatch(await Deno.readTextFile(out), /forger: taken/, "a forged renewal taken");
  },
  true,
);
