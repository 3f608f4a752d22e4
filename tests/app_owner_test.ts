/**
 * With etcd, every application an agent's computer runs, in a VNE or not, owns its name under
 * the agent's lease (src/agent/app_owners.ts, docs/migration.md), on two computers
 * (tests/cluster.ts; etcd runs in computer 2). SOLO (no VNE) runs on computer 3: an application
 * of the same name run on computer 2 is ended by computer 2's agent, and computer 2's agent
 * refuses to restore one. Computer 3's agent killed, SOLO stops by itself; once its name expired,
 * an application of that name runs on computer 2, and once computer 3's agent is back its
 * stopped SOLO is ended: one application of the name at a time.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, clusterUnavailable, type Computer, run, within } from "./cluster.ts";
import { prog, readText } from "./vne_support.ts";

const LIMIT_MS = 120_000;
const unavailable = await clusterUnavailable();

interface Listing {
  name: string;
  processes: { pid: number; alive: boolean }[];
}

async function listing(cluster: Cluster, c: Computer): Promise<Listing[]> {
  const out = await cluster.amber(c, ["ps", "--json"]);
  assert.equal(out.code, 0, `amber ps on ${c.name}: ${out.stderr}`);
  return JSON.parse(out.stdout) as Listing[];
}

async function solo(cluster: Cluster, c: Computer): Promise<Listing | undefined> {
  return (await listing(cluster, c)).find((a) => a.name === "solo");
}

/** Whether SOLO runs on `c` with every process stopped (state T); undefined if it does not run. */
async function stopped(cluster: Cluster, c: Computer): Promise<boolean | undefined> {
  const app = await solo(cluster, c);
  if (!app) return undefined;
  for (const p of app.processes.filter((p) => p.alive)) {
    const status = await Deno.readTextFile(`/proc/${p.pid}/status`).catch(() => "");
    if (!/^State:\s+T/m.test(status)) return false;
  }
  return true;
}

/** curl `args` from inside computer `c`, up to 10 s. */
function curl(c: Computer, args: string[]) {
  return run(["ip", "netns", "exec", c.ns, "curl", "-s", "-m", "10", ...args]);
}

/** The owner etcd gives the name `solo` ("" if none), read from inside computer 2. */
async function owner(cluster: Cluster): Promise<string> {
  const body = JSON.stringify({ key: btoa("/amber/app/solo") });
  const out = await curl(cluster.computers[0], ["-d", body, `${cluster.etcdUrl}/v3/kv/range`]);
  const kvs = (JSON.parse(out.stdout) as { kvs?: { value: string }[] }).kvs ?? [];
  return kvs.length ? (JSON.parse(atob(kvs[0].value)) as { host: string }).host : "";
}

Deno.test(
  {
    name: "with etcd, an application outside any VNE owns its name: no second one runs elsewhere",
    ignore: unavailable !== null,
    sanitizeResources: false,
    sanitizeOps: false,
  },
  async () => {
    await using cluster = await Cluster.create();
    await within(LIMIT_MS, async () => {
      const [c2, c3] = cluster.computers;
      const runSolo = async (c: Computer) => {
        const out = await cluster.amber(c, [
          "run",
          "--detach",
          "--name",
          "solo",
          "--output",
          join(cluster.dir, `solo-${c.name}.out`),
          "--",
          prog("vne_app"),
          "8080",
        ]);
        assert.equal(out.code, 0, `amber run solo on ${c.name}: ${out.stderr}`);
      };
      await runSolo(c3);
      await cluster.until(async () => (await owner(cluster)) !== "", "SOLO's name in etcd");
      assert.equal(await owner(cluster), c3.name, "SOLO's name is computer 3's");

      // A second SOLO on computer 2 is ended by its agent; its agent restores none either.
      await runSolo(c2);
      await cluster.until(async () => !(await solo(cluster, c2)), "the second SOLO ended");
      assert.match(
        await readText(c2.agentLog),
        /another computer runs an application of that name/,
      );
      assert.equal(await stopped(cluster, c3), false, "SOLO runs on computer 3");
      const restore = await curl(c2, [
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        `Authorization: Bearer ${cluster.token}`,
        "--data-binary",
        "not an image",
        `${c2.agentUrl}/v1/restore?name=solo`,
      ]);
      assert.equal(restore.stdout, "409", "a restore of SOLO on computer 2 is refused");

      // Computer 3's agent killed: SOLO stops by itself before its name can expire.
      await cluster.stopAgent(c3); // SIGKILL
      await cluster.until(
        async () => (await stopped(cluster, c3)) === true,
        "SOLO stopped",
        10_000,
      );
      await cluster.until(async () => (await owner(cluster)) === "", "SOLO's name to expire");
      await runSolo(c2);
      await cluster.until(async () => (await owner(cluster)) === c2.name, "the new SOLO's name");
      assert.equal(await stopped(cluster, c2), false, "the new SOLO runs on computer 2");
      // Computer 3's agent back: its stopped SOLO has lost the name, and is ended.
      await cluster.startAgent(c3);
      await cluster.until(async () => !(await solo(cluster, c3)), "the old SOLO ended");
      assert.equal(await stopped(cluster, c2), false, "SOLO runs on computer 2");
    });
  },
);
