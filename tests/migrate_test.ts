/**
 * Migration between two computers (two network namespaces, each with its own agent, and an
 * etcd: tests/cluster.ts). VNE 2 holds WEB SITE 2 on computer 2 and APP 2 on computer 3; WEB
 * SITE 2 reaches APP 2 by its virtual hostname. APP 2 moves to computer 2 while WEB SITE 2
 * keeps serving, and afterwards WEB SITE 2's requests reach it at the same virtual IP, its
 * in-memory count going on. VNE 1's WEB SITE 1 cannot reach VNE 2. A migration whose target
 * agent dies mid-stream leaves APP 2 running on computer 3. Neither leaves a whole image on
 * computer 3, even for a while: its process files are FIFOs, read as they are written, and
 * what a pre-copy round keeps of them is their index, sparse files without the pages. With
 * pre-copy, the frozen round sends a small part of APP 2's memory; without it, all of it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, clusterUnavailable, type Computer } from "./cluster.ts";
import { prog, readText, sleep } from "./vne_support.ts";

const LIMIT_MS = 120_000;
/** APP 2's heap in the first test. */
const APP_MIB = 64;
const APP_BYTES = APP_MIB << 20;
const unavailable = await clusterUnavailable();

interface Address {
  proto: string;
  ip: string;
  port: number;
  realIp: string;
  realPort: number;
}
interface Vne {
  name: string;
  addresses: Address[];
}

async function vnes(cluster: Cluster, c: Computer): Promise<Vne[]> {
  const out = await cluster.amber(c, ["vne", "ls", "--json"]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as Vne[];
}

async function address(cluster: Cluster, c: Computer, vne: string, ip: string, port: number) {
  return (await vnes(cluster, c)).find((v) => v.name === vne)?.addresses
    .find((a) => a.ip === ip && a.port === port);
}

async function ok(cluster: Cluster, c: Computer, args: string[]): Promise<string> {
  const out = await cluster.amber(c, args);
  assert.equal(out.code, 0, `amber ${args.join(" ")} on ${c.name}: ${out.stderr}`);
  return out.stdout;
}

async function apps(cluster: Cluster, c: Computer): Promise<string[]> {
  return (JSON.parse(await ok(cluster, c, ["ps", "--json"])) as { name: string }[]).map((a) =>
    a.name
  );
}

/** The scene both tests start from; returns WEB SITE 2's URL inside computer 2. */
async function setUp(cluster: Cluster, appMib: number): Promise<string> {
  const [c2, c3] = cluster.computers;
  await ok(cluster, c2, ["vne", "create", "vne2", "--subnet", "10.10.2.0/24"]);
  await ok(cluster, c2, ["vne", "create", "vne1", "--subnet", "10.10.0.0/24"]);
  await cluster.until(async () => (await vnes(cluster, c3)).length === 2, "the VNEs on computer 3");
  const out = (name: string) => join(cluster.dir, `${name}.out`);
  await ok(cluster, c3, [
    "run",
    "--detach",
    "--name",
    "app2",
    "--vne",
    "vne2",
    "--ip",
    "10.10.2.7",
    "--hostname",
    "app2",
    "--output",
    out("app2"),
    "--",
    prog("vne_app"),
    "8080",
    String(appMib),
  ]);
  await ok(cluster, c2, [
    "run",
    "--detach",
    "--name",
    "web2",
    "--vne",
    "vne2",
    "--ip",
    "10.10.2.5",
    "--hostname",
    "web2",
    "--output",
    out("web2"),
    "--",
    prog("vne_web"),
    "80",
    "app2",
    "8080",
  ]);
  await ok(cluster, c2, [
    "run",
    "--detach",
    "--name",
    "web1",
    "--vne",
    "vne1",
    "--ip",
    "10.10.0.1",
    "--output",
    out("web1"),
    "--",
    prog("vne_web"),
    "80",
    "10.10.2.7",
    "8080",
  ]);
  await cluster.until(
    async () => (await address(cluster, c2, "vne2", "10.10.2.7", 8080))?.realIp === c3.ip,
    "APP 2's address on computer 2",
  );
  const web2 = await address(cluster, c2, "vne2", "10.10.2.5", 80);
  assert.ok(web2, "WEB SITE 2 has no address");
  return `http://127.0.0.1:${web2.realPort}/`;
}

/** A cluster test: it must end within LIMIT_MS; the cluster is disposed either way. */
function clusterTest(name: string, body: (cluster: Cluster) => Promise<void>): void {
  Deno.test(
    { name, ignore: unavailable !== null, sanitizeResources: false, sanitizeOps: false },
    async () => {
      await using cluster = await Cluster.create();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`The test did not end within ${LIMIT_MS} ms`)),
          LIMIT_MS,
        );
      });
      try {
        await Promise.race([body(cluster), late]);
      } finally {
        clearTimeout(timer);
      }
    },
  );
}

/**
 * What a source computer held in its outgoing directory during a migration: by name, with the
 * name of its directory's kind (`amber`: a snapshot's FIFOs, `index`: a pre-copy's indexes).
 */
type Outgoing = Map<string, { dir: string; fifo: boolean; size: number; stored: number }>;

/** Watches `c`'s outgoing directory (where a migration's temporary directory lives) until stopped. */
function watchOutgoing(c: Computer): { stop: () => Promise<Outgoing> } {
  const seen: Outgoing = new Map();
  const root = join(c.state, "outgoing");
  let watching = true;
  const watch = (async () => {
    while (watching) {
      try {
        for await (const tmp of Deno.readDir(root)) {
          const dir = tmp.name.replace(/^.*\./, "");
          for await (const entry of Deno.readDir(join(root, tmp.name))) {
            const info = await Deno.lstat(join(root, tmp.name, entry.name));
            const key = `${dir}/${entry.name}`;
            const before = seen.get(key);
            seen.set(key, {
              dir,
              fifo: info.isFifo === true,
              size: Math.max(before?.size ?? 0, info.size),
              stored: Math.max(before?.stored ?? 0, (info.blocks ?? 0) * 512),
            });
          }
        }
      } catch {
        // Made or removed meanwhile.
      }
      await sleep(1);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await watch;
      return seen;
    },
  };
}

/**
 * The source held no image: its process files were FIFOs, its only files the three small ones and
 * the process files' indexes, which hold no pages (sparse: little is stored of their size).
 */
function assertStreamed(seen: Outgoing): void {
  const names = [...seen.keys()];
  assert.ok(
    names.some((n) => /^amber\/process-\d+\.img$/.test(n)),
    `No process FIFO seen: ${names}`,
  );
  for (const [key, { dir, fifo, size, stored }] of seen) {
    const name = key.slice(dir.length + 1);
    const index = (dir === "amber" && /^process-\d+\.index$/.test(name)) ||
      (dir === "index" && /^process-\d+\.img$/.test(name));
    if (index) {
      assert.ok(!fifo && stored < 2 << 20, `'${key}' stored ${stored} of its ${size} bytes`);
    } else if (/^process-\d+\.img$/.test(name)) {
      assert.ok(fifo && dir === "amber", `'${key}' was a file, not a FIFO`);
    } else {
      const small = ["tables.bin", "ipc.bin", "ipc.bin.tmp", "credentials.bin"];
      assert.ok(small.includes(name), `'${key}' was written`);
      assert.ok(size < 2 << 20, `'${key}' held ${size} bytes`);
    }
  }
}

/** Migrates APP 2 from `from` to `to`, watching `from`'s outgoing directory; its JSON answer. */
async function migrateApp2(
  cluster: Cluster,
  from: Computer,
  to: Computer,
  extra: string[] = [],
): Promise<{ agent: string; frozenBytes: number; precopyBytes: number }> {
  const outgoing = watchOutgoing(from);
  const moved = await cluster.amber(from, [
    "migrate",
    "app2",
    "--to",
    to.agentUrl,
    "--token-file",
    cluster.tokenFile,
    "--json",
    ...extra,
  ]);
  assertStreamed(await outgoing.stop());
  assert.equal(moved.code, 0, `${moved.stderr}\n${await readText(to.agentLog)}`);
  return JSON.parse(moved.stdout);
}

function count(body: string): number {
  const m = /app (\d+) from 10\.10\.2\.5:\d+ on app2/.exec(body);
  assert.ok(m, `Not an answer of APP 2 through WEB SITE 2: '${body}'`);
  return Number(m[1]);
}

clusterTest(
  "APP 2 moves from computer 3 to computer 2 and WEB SITE 2 reaches it at the same virtual IP",
  async (cluster) => {
    const [c2, c3] = cluster.computers;
    {
      const url = await setUp(cluster, APP_MIB);
      const first = await cluster.get(c2, url);
      assert.equal(first.status, 200, first.body);
      assert.equal(count(first.body), 1);

      const web1 = await address(cluster, c2, "vne1", "10.10.0.1", 80);
      const refused = await cluster.get(c2, `http://127.0.0.1:${web1?.realPort}/`);
      assert.equal(refused.status, 502, refused.body);
      assert.match(refused.body, /Network is unreachable/);

      // WEB SITE 2 keeps serving while APP 2 moves: every request gets an HTTP answer.
      let moving = true;
      const during: number[] = [];
      const load = (async () => {
        while (moving) {
          during.push((await cluster.get(c2, url)).status);
          await sleep(20);
        }
      })();
      const moved = await migrateApp2(cluster, c3, c2);
      moving = false;
      await load;
      assert.equal(moved.agent, "computer2");
      // Pre-copy: the memory crossed while APP 2 ran; what crossed frozen is what changed since.
      assert.ok(moved.precopyBytes > APP_BYTES, `Pre-copy sent ${moved.precopyBytes} bytes`);
      assert.ok(
        moved.frozenBytes < APP_BYTES / 10,
        `The frozen round sent ${moved.frozenBytes} bytes of APP 2's ${APP_BYTES}`,
      );
      assert.ok(
        during.every((s) => s === 200 || s === 502),
        `WEB SITE 2 stopped answering: ${during}`,
      );

      assert.deepEqual(await apps(cluster, c3), []);
      assert.deepEqual((await apps(cluster, c2)).sort(), ["app2", "web1", "web2"]);
      const after = await cluster.get(c2, url);
      assert.equal(after.status, 200, after.body);
      assert.ok(count(after.body) > 1, `APP 2's count did not go on: '${after.body}'`);
      assert.equal((await address(cluster, c2, "vne2", "10.10.2.7", 8080))?.realIp, "127.0.0.1");
      await cluster.until(
        async () => (await address(cluster, c3, "vne2", "10.10.2.7", 8080))?.realIp === c2.ip,
        "APP 2's new address on computer 3",
      );

      // Back to computer 3 in one round, everything frozen: the migration without pre-copy.
      const back = await migrateApp2(cluster, c2, c3, ["--no-precopy"]);
      assert.equal(back.agent, "computer3");
      assert.equal(back.precopyBytes, 0);
      assert.ok(back.frozenBytes > APP_BYTES, `The frozen round sent ${back.frozenBytes} bytes`);
      assert.deepEqual((await apps(cluster, c2)).sort(), ["web1", "web2"]);
      let again = await cluster.get(c2, url);
      await cluster.until(
        async () => (again = await cluster.get(c2, url)).status === 200,
        "APP 2 back",
      );
      assert.ok(
        count(again.body) > count(after.body),
        `APP 2's count did not go on: '${again.body}'`,
      );
    }
  },
);

clusterTest(
  "a migration whose target agent stops mid-stream leaves APP 2 running on computer 3",
  async (cluster) => {
    const [c2, c3] = cluster.computers;
    const url = await setUp(cluster, 256);
    assert.equal(count((await cluster.get(c2, url)).body), 1);

    const outgoing = watchOutgoing(c3);
    const migration = cluster.amberInBackground(c3, [
      "migrate",
      "app2",
      "--to",
      c2.agentUrl,
      "--token-file",
      cluster.tokenFile,
    ]);
    await cluster.until(
      async () => (await readText(c2.agentLog)).includes("Receiving 'app2'"),
      "the stream",
      60_000,
    );
    await cluster.stopAgent(c2);
    const failed = await migration;
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stderr, /Cannot migrate 'app2'.*it runs on here/s);
    assertStreamed(await outgoing.stop());

    assert.deepEqual(await apps(cluster, c3), ["app2"]);
    // Computer 2's agent comes back, so that WEB SITE 2's new connections are known on computer 3.
    await cluster.startAgent(c2);
    const after = await cluster.get(c2, url);
    assert.equal(after.status, 200, after.body);
    assert.equal(count(after.body), 2);
  },
);
