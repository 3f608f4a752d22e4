/**
 * Migration downtime between two computers (two network namespaces, tests/cluster.ts): APP 2
 * (64 MiB, then 512 MiB of heap) moves back and forth between computer 3 and computer 2 while
 * WEB SITE 2 on computer 2 is asked for it every few milliseconds, with pre-copy (the default)
 * and without (`--no-precopy`). Downtime is the time between the last answer of APP 2 before
 * the move and the first one after it; the held time and the bytes sent held are what
 * `migrate` reports (freeze to running on the target, in the last round), and so is the time
 * the pre-copy round froze the application (its processes write their files frozen). One warm-up move per size and mode,
 * then ROUNDS measured ones; prints the median and the minimum.
 *
 *   deno run -A bench/migration.ts [ROUNDS]
 */

import { join } from "node:path";
import { Cluster, clusterUnavailable, type Computer } from "../tests/cluster.ts";
import { prog, sleep } from "../tests/vne_support.ts";

const ROUNDS = Number(Deno.args[0] ?? 5);
const SIZES_MIB = [64, 512];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function must(cluster: Cluster, c: Computer, args: string[]): Promise<string> {
  const out = await cluster.amber(c, args, 300_000);
  if (out.code !== 0) throw new Error(`amber ${args.join(" ")} on ${c.name}: ${out.stderr}`);
  return out.stdout;
}

async function realPort(cluster: Cluster, c: Computer, ip: string, port: number): Promise<number> {
  const vnes = JSON.parse(await must(cluster, c, ["vne", "ls", "--json"])) as {
    addresses: { ip: string; port: number; realPort: number; realIp: string }[];
  }[];
  const found = vnes.flatMap((v) => v.addresses).find((a) => a.ip === ip && a.port === port);
  if (!found) throw new Error(`No address ${ip}:${port} on ${c.name}`);
  return found.realPort;
}

/**
 * One move of app2 from `from` to `to`: [downtime, frozen (held) in ms, bytes sent held, the
 * pre-copy round's freeze in ms].
 */
async function move(
  cluster: Cluster,
  from: Computer,
  to: Computer,
  url: string,
  precopy: boolean,
): Promise<[number, number, number, number]> {
  const web = cluster.computers[0];
  let moving = true;
  const answers: [number, boolean][] = [];
  const probe = (async () => {
    while (moving) {
      const { status, body } = await cluster.get(web, url);
      answers.push([performance.now(), status === 200 && body.includes("app ")]);
      await sleep(2);
    }
  })();
  await sleep(200);
  const out = await must(cluster, from, [
    "migrate",
    "app2",
    "--to",
    to.agentUrl,
    "--token-file",
    cluster.tokenFile,
    "--json",
    ...(precopy ? [] : ["--no-precopy"]),
  ]);
  for (let ok = false; !ok;) {
    await sleep(20);
    ok = answers.length > 0 && answers[answers.length - 1][1];
  }
  await sleep(100);
  moving = false;
  await probe;
  let worst = 0, lastOk = -1;
  for (const [at, ok] of answers) {
    if (!ok) continue;
    if (lastOk >= 0) worst = Math.max(worst, at - lastOk);
    lastOk = at;
  }
  const answer = JSON.parse(out);
  return [worst, answer.frozenMs, answer.frozenBytes, answer.precopyFrozenMs];
}

const why = await clusterUnavailable();
if (why) {
  console.log(`bench/migration.ts skipped: ${why}`);
  Deno.exit(0);
}

await using cluster = await Cluster.create();
const [c2, c3] = cluster.computers;
await must(cluster, c2, ["vne", "create", "vne2", "--subnet", "10.10.2.0/24"]);
await cluster.until(
  async () => (await must(cluster, c3, ["vne", "ls", "--json"])).includes("vne2"),
  "vne2 on computer 3",
);
await must(cluster, c2, [
  "run",
  "--detach",
  "--name",
  "web2",
  "--vne",
  "vne2",
  "--ip",
  "10.10.2.5",
  "--output",
  join(cluster.dir, "web2.out"),
  "--",
  prog("vne_web"),
  "80",
  "10.10.2.7",
  "8080",
]);
const url = `http://127.0.0.1:${await realPort(cluster, c2, "10.10.2.5", 80)}/`;
console.log(
  `Migration downtime, ${ROUNDS} rounds after one warm-up (WEB SITE 2 asks APP 2 every ~5 ms)`,
);
console.log(
  "size     pre-copy  downtime median  min       held median    min       sent held   " +
    "pre-copy freeze median",
);
for (const mib of SIZES_MIB) {
  await must(cluster, c3, [
    "run",
    "--detach",
    "--name",
    "app2",
    "--vne",
    "vne2",
    "--ip",
    "10.10.2.7",
    "--output",
    join(cluster.dir, "app2.out"),
    "--",
    prog("vne_app"),
    "8080",
    String(mib),
  ]);
  await cluster.until(async () => (await cluster.get(c2, url)).status === 200, "APP 2 answering");
  let here = c3, there = c2;
  for (const precopy of [false, true]) {
    const downtimes: number[] = [], frozen: number[] = [], bytes: number[] = [];
    const precopyFrozen: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const [down, froze, sent, first] = await move(cluster, here, there, url, precopy);
      if (round > 0) {
        downtimes.push(down), frozen.push(froze), bytes.push(sent), precopyFrozen.push(first);
      }
      [here, there] = [there, here];
    }
    const f = (ms: number) => `${ms.toFixed(0)} ms`.padEnd(9);
    const mb = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
    console.log(
      `${`${mib} MiB`.padEnd(9)}${(precopy ? "yes" : "no").padEnd(10)}` +
        `${f(median(downtimes))}        ${f(Math.min(...downtimes))} ` +
        `${f(median(frozen))}      ${f(Math.min(...frozen))} ${mb(median(bytes)).padEnd(12)}` +
        (precopy ? f(median(precopyFrozen)) : ""),
    );
  }
  await must(cluster, here, ["kill", "app2"]);
}
