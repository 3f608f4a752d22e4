/**
 * PostgreSQL (Debian's package) with its default configuration, run by its own user `postgres`
 * and started by root through `runuser`: rows committed before a snapshot are all there after a
 * restore, an index scan agrees with a sequential one, and the restored server takes new writes
 * and a CHECKPOINT, through two cycles. psql runs outside the application, over the Unix socket.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { App, Image } from "../mod.ts";
import { type Scenario, scenarioTest } from "./support.ts";

const BIN = "/usr/lib/postgresql/15/bin";
const ROOT = Deno.uid() === 0;
const decoder = new TextDecoder();
const ROWS = 100_000;

async function run(argv: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), cwd, stdin: "null" })
    .output();
  const text = decoder.decode(out.stdout);
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed: ${decoder.decode(out.stderr)}${text}`);
  }
  return text;
}

/** One database server's files: its data directory, made by initdb as postgres, and its socket. */
class Server {
  constructor(readonly dir: string, readonly port: number) {}
  get data(): string {
    return join(this.dir, "data");
  }
  get socket(): string {
    return join(this.dir, "sock");
  }
  argv(): string[] {
    const port = String(this.port);
    return [
      "runuser",
      "-u",
      "postgres",
      "--",
      `${BIN}/postgres`,
      "-D",
      this.data,
      "-p",
      port,
      "-k",
      this.socket,
    ];
  }
  /** psql outside the application: the unaligned, tuples-only result of `sql`. */
  async sql(sql: string): Promise<string> {
    const args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", this.socket];
    args.push("-p", String(this.port), "-U", "postgres", "-d", "postgres", "-c", sql);
    return (await run([`${BIN}/psql`, ...args])).trim();
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 600; i++) {
      if (await this.sql("SELECT 1").then((r) => r === "1", () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail("PostgreSQL did not answer in time");
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A fresh cluster (initdb as postgres, default configuration) started under Amber. */
async function started(s: Scenario): Promise<{ server: Server; app: App }> {
  await Deno.chmod(s.dir, 0o755); // postgres must reach its data directory
  const server = new Server(join(s.dir, "pg"), freePort());
  await Deno.mkdir(server.socket, { recursive: true });
  await run(["chown", "-R", "postgres:postgres", server.dir]);
  await run(["runuser", "-u", "postgres", "--", `${BIN}/initdb`, "-D", server.data], s.dir);
  const app = await s.launch(server.argv(), "postgres");
  await server.ready();
  await server.sql("CREATE TABLE t (id integer PRIMARY KEY, v bigint NOT NULL)");
  const step = ROWS / 10;
  for (let first = 1; first <= ROWS; first += step) { // ten transactions
    await server.sql(
      `INSERT INTO t SELECT g, g * 3 FROM generate_series(${first}, ${first + step - 1}) g`,
    );
  }
  return { server, app };
}

/** Every row is there, an index scan agrees, new rows and a CHECKPOINT are taken. */
async function check(server: Server, extra: number): Promise<void> {
  const rows = ROWS + extra;
  const sum = 3 * rows * (rows + 1) / 2;
  assert.equal(await server.sql("SELECT count(*), sum(v) FROM t"), `${rows}|${sum}`);
  const off = "SET enable_seqscan = off; SET enable_bitmapscan = off;";
  const plan = await server.sql(`${off} EXPLAIN SELECT count(*), sum(v) FROM t WHERE id > 0`);
  assert.match(plan, /Index/, plan);
  assert.equal(
    await server.sql(`${off} SELECT count(*), sum(v) FROM t WHERE id > 0`),
    `${rows}|${sum}`,
  );
  const next = rows + 1;
  await server.sql(`INSERT INTO t SELECT g, g * 3 FROM generate_series(${next}, ${next + 9}) g`);
  await server.sql("CHECKPOINT");
  assert.equal(await server.sql("SELECT count(*) FROM t"), String(rows + 10));
}

/** The /dev/shm files (PostgreSQL's dynamic shared memory) the application's processes map. */
async function shmFiles(app: App): Promise<string[]> {
  const files = new Set<string>();
  for (const { pid } of app.processes()) {
    const maps = await Deno.readTextFile(`/proc/${pid}/maps`).catch(() => "");
    for (const m of maps.matchAll(/ (\/dev\/shm\/\S+)$/gm)) files.add(m[1]);
  }
  return [...files];
}

/**
 * A snapshot with stop; then the /dev/shm files the server mapped are removed (as a reboot
 * would), so the restore must make them again from the image.
 */
async function frozen(app: App, dir: string, shm: Set<string>): Promise<Image> {
  const pids = app.processes().map((p) => p.pid);
  const files = await shmFiles(app);
  assert.ok(files.length > 0, "PostgreSQL maps no /dev/shm file");
  const image = await app.snapshot({ dir, stop: true });
  gone(app, pids);
  for (const file of files) {
    shm.add(file);
    await Deno.remove(file);
  }
  return image;
}

/** Starts the server and runs `body`; its /dev/shm files are removed however it ends. */
async function withServer(
  s: Scenario,
  body: (server: Server, app: App, shm: Set<string>) => Promise<void>,
): Promise<void> {
  const shm = new Set<string>();
  try {
    const { server, app } = await started(s);
    for (const file of await shmFiles(app)) shm.add(file);
    await body(server, app, shm);
    // `ready` polls from the launch: a poll before startup ends is refused, which is no fault.
    const fault = /PANIC|FATAL: {2}(?!terminating connection|the database system is starting up)/;
    assert.doesNotMatch(await s.text(), fault);
  } finally {
    for (const file of shm) await Deno.remove(file).catch(() => {});
  }
}

/** A psql session, over TCP, that inserted a row in a transaction it leaves open. */
async function openTransaction(server: Server): Promise<Deno.ChildProcess> {
  const args = ["-X", "-q", "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres"];
  const psql = new Deno.Command(`${BIN}/psql`, {
    args: [...args, "-d", "postgres"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = psql.stdin.getWriter();
  await writer.write(new TextEncoder().encode("BEGIN; INSERT INTO t VALUES (-1, 1000);\n"));
  writer.releaseLock();
  const query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'";
  for (let i = 0; i < 300 && await server.sql(query) !== "1"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await server.sql(query), "1", "the held transaction is not open");
  return psql;
}

/** The held session finds its connection gone, as after a server restart. */
async function lost(psql: Deno.ChildProcess): Promise<void> {
  const writer = psql.stdin.getWriter();
  await writer.write(new TextEncoder().encode("COMMIT;\n")).catch(() => {});
  await writer.close().catch(() => {});
  const out = await psql.output();
  const text = decoder.decode(out.stderr) + decoder.decode(out.stdout);
  assert.match(text, /terminated|lost|closed|reset/i, text);
}

/** No process of the application is left. */
function gone(app: App, pids: number[]): void {
  for (const pid of pids) {
    let alive = true;
    try {
      Deno.kill(pid, "SIGCONT");
    } catch {
      alive = false;
    }
    assert.ok(!alive, `process ${pid} of ${app.name} is still there`);
  }
}

async function images(s: Scenario): Promise<string> {
  const dir = join(s.dir, "private");
  await Deno.mkdir(dir, { mode: 0o700 });
  return dir;
}

scenarioTest(
  "PostgreSQL started by root through runuser keeps every committed row, twice",
  async (s) => {
    if (!ROOT) return; // it needs root to start postgres as its own user
    await withServer(s, async (server, app, shm) => {
      const dir = await images(s);
      assert.ok(app.processes().length >= 5, `only ${app.processes().length} processes`);
      const held = await openTransaction(server); // a client in a transaction at the snapshot
      const first = await frozen(app, join(dir, "first.amber"), shm);
      const again = await s.restore(first);
      await server.ready();
      const postgres = Number(await run(["id", "-u", "postgres"]));
      for (const file of await shmFiles(again)) { // made again as it was
        shm.add(file);
        const info = await Deno.stat(file);
        assert.deepEqual([info.uid, info.mode! & 0o777], [postgres, 0o600], file);
      }
      await check(server, 0); // without the row of the transaction left open
      await lost(held);
      const second = await frozen(again, join(dir, "second.amber"), shm);
      const last = await s.restore(second);
      await server.ready();
      for (const file of await shmFiles(last)) shm.add(file);
      await check(server, 10);
      const regions = JSON.stringify(second.manifest.processes.map((p) => p.details));
      assert.ok(regions.includes('"kind":"shared memory file"'), "no /dev/shm file is saved");
    });
  },
  300_000,
);

scenarioTest(
  "PostgreSQL snapshotted without stop comes back after the original is killed",
  async (s) => {
    if (!ROOT) return;
    await withServer(s, async (server, app) => {
      const dir = await images(s);
      const image = await app.snapshot({ dir: join(dir, "live.amber") });
      await server.sql("SELECT 1"); // the original went on
      const pids = app.processes().map((p) => p.pid);
      await app.kill();
      gone(app, pids);
      await s.restore(image);
      await server.ready();
      await check(server, 0);
    });
  },
  300_000,
);
