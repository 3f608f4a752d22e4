/**
 * Real servers under Amber: Redis keeps its data across a snapshot, a kill and a restore, serves
 * new clients on the same port, and a client connected at the snapshot finds its connection
 * reset, as it would after a server restart.
 */

import assert from "node:assert/strict";
import { type Scenario, scenarioTest } from "./support.ts";

const encoder = new TextEncoder(), decoder = new TextDecoder();

/** One inline Redis command on a fresh connection; the server's reply line. */
async function redis(port: number, command: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(`${command}\r\n`));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`${what} did not happen in time`);
}

scenarioTest("Redis keeps its data and serves new clients after a restore", async (s) => {
  const server = new Deno.Command("sh", {
    args: ["-c", "command -v redis-server"],
    stdout: "piped",
  });
  const path = decoder.decode((await server.output()).stdout).trim();
  assert.ok(path, "redis-server is not installed (make deps installs it)");
  const port = freePort();
  const app = await s.launch(
    [path, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", s.dir],
    "redis",
  );
  await until(async () => (await redis(port, "PING")).startsWith("+PONG"), "Redis answering");
  for (let i = 0; i < 100; i++) assert.equal(await redis(port, `SET key${i} value${i}`), "+OK\r\n");
  const held = await Deno.connect({ hostname: "127.0.0.1", port }); // open at the snapshot
  const image = await s.freeze(app);
  await s.restore(image);
  await until(async () => (await redis(port, "PING")).startsWith("+PONG"), "Redis answering again");
  assert.equal(await redis(port, "DBSIZE"), ":100\r\n");
  assert.equal(await redis(port, "GET key42"), "$7\r\nvalue42\r\n");
  assert.equal(await redis(port, "SET after restore"), "+OK\r\n");
  const reply = await held.read(new Uint8Array(16)).catch((e) => e);
  assert.ok(reply === null || reply instanceof Error, "the old connection was not reset");
  held.close();
});

/** A page fetched with HTTP/1.0 on a fresh connection (closed by the server): the whole reply. */
async function http(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode("GET / HTTP/1.0\r\n\r\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += decoder.decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

/** nginx's path, a free port, a static page in `<dir>/www`, and temp paths in the scenario's dir. */
async function nginxSite(s: Scenario): Promise<{ path: string; port: number; temp: string }> {
  const which = new Deno.Command("sh", { args: ["-c", "command -v nginx"], stdout: "piped" });
  const path = decoder.decode((await which.output()).stdout).trim();
  assert.ok(path, "nginx is not installed (make deps installs it)");
  await Deno.mkdir(`${s.dir}/www`);
  await Deno.writeTextFile(`${s.dir}/www/index.html`, "hello from nginx\n");
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `${kind}_temp_path ${s.dir}/${kind};`).join(" ");
  return { path, port: freePort(), temp };
}

/** nginx as root with one worker, in the foreground, serving: the app, its port and its log. */
async function nginxOneWorker(s: Scenario) {
  const { path, port, temp } = await nginxSite(s);
  // `user root`, one worker, in the foreground; the www-data case as users run it is below.
  await Deno.writeTextFile(
    `${s.dir}/nginx.conf`,
    `daemon off; master_process on; worker_processes 1; user root; pid ${s.dir}/nginx.pid;
     events { worker_connections 64; }
     http { access_log off; ${temp}
            server { listen 127.0.0.1:${port}; root ${s.dir}/www; } }`,
  );
  const log = `${s.dir}/error.log`;
  const app = await s.launch([path, "-p", s.dir, "-c", `${s.dir}/nginx.conf`, "-e", log], "nginx");
  await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving");
  return { app, port, log };
}

scenarioTest(
  "nginx, whose master learns of its workers by SIGIO (F_SETOWN), serves and reloads after a restore",
  async (s) => {
    const { app, port, log } = await nginxOneWorker(s);
    const restored = await s.restore(await s.freeze(app));
    await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving again");
    const master = restored.processes().find((p) => p.parent === restored.info().vpidBase)!;
    const worker = restored.processes().find((p) => p.parent === master.vpid)!;
    Deno.kill(master.pid, "SIGHUP"); // a reload: a new worker, with a new channel and its owner
    await until(
      () =>
        Promise.resolve(
          restored.processes().some((p) => p.parent === master.vpid && p.vpid !== worker.vpid),
        ),
      "a new worker",
    );
    await until(
      async () => (await http(port)).includes("hello from nginx"),
      "the new worker serving",
    );
    const errors = await Deno.readTextFile(log);
    assert.doesNotMatch(errors, /\[(alert|emerg|crit)\]/, errors);
  },
);

/** The processes of `app` whose parent is `vpid`, alive. */
function childrenOf(
  app: { processes(): { vpid: number; pid: number; parent: number; alive: boolean }[] },
  vpid: number,
) {
  return app.processes().filter((p) => p.alive && p.parent === vpid);
}

scenarioTest(
  "nginx as users run it (daemon, root master, two www-data workers) keeps its workers, serves and reloads over two cycles",
  async (s) => {
    await Deno.chmod(s.dir, 0o755); // the workers, as www-data, read the files below it
    const { path, port, temp } = await nginxSite(s);
    // Debian's defaults: daemon on, `user www-data;`; the master's parent exits at once.
    await Deno.writeTextFile(
      `${s.dir}/nginx.conf`,
      `worker_processes 2; user www-data; pid ${s.dir}/nginx.pid;
       events { worker_connections 64; }
       http { access_log off; ${temp}
              server { listen 127.0.0.1:${port}; root ${s.dir}/www; } }`,
    );
    const log = `${s.dir}/error.log`;
    let app = await s.launch([path, "-p", s.dir, "-c", `${s.dir}/nginx.conf`, "-e", log], "nginx");
    await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving");
    /** The master: the process whose children are nginx's workers. */
    const masterOf = (a: typeof app) =>
      a.processes().find((p) => p.alive && childrenOf(a, p.vpid).length === 2);
    await until(() => Promise.resolve(masterOf(app) !== undefined), "a master with two workers");
    for (let cycle = 1; cycle <= 2; cycle++) {
      app = await s.restore(await s.freeze(app, `image${cycle}`));
      await until(
        async () => (await http(port)).includes("hello from nginx"),
        "nginx serving again",
      );
      const master = masterOf(app);
      assert.ok(
        master,
        `cycle ${cycle}: no master with two workers: ${JSON.stringify(app.processes())}`,
      );
      const workers = childrenOf(app, master.vpid).map((p) => p.vpid);
      for (const p of childrenOf(app, master.vpid)) {
        const status = await Deno.readTextFile(`/proc/${p.pid}/status`);
        const uid = status.match(/^Uid:\s+(\d+)/m)![1];
        const expected = new Deno.Command("id", { args: ["-u", "www-data"], stdout: "piped" });
        assert.equal(
          uid,
          decoder.decode((await expected.output()).stdout).trim(),
          "a worker's user",
        );
      }
      // The reload: SIGHUP to the master's virtual pid, through the application's pid mapping.
      Deno.kill(master.pid, "SIGHUP");
      await until(
        () =>
          Promise.resolve(
            childrenOf(app, master.vpid).filter((p) => !workers.includes(p.vpid)).length === 2,
          ),
        `cycle ${cycle}: two new workers`,
      );
      await until(
        async () => (await http(port)).includes("hello from nginx"),
        "the new workers serving",
      );
      await until(
        () => Promise.resolve(childrenOf(app, master.vpid).length === 2),
        "old workers gone",
      );
    }
    const errors = await Deno.readTextFile(log);
    assert.doesNotMatch(errors, /\[(alert|emerg|crit)\]/, errors);
  },
);

/** How many descriptors wait in flight (SCM_RIGHTS) in the queues of process pid's sockets. */
async function inFlight(pid: number): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/fdinfo/${entry.name}`).catch(() => "");
    total += Number(text.match(/^scm_fds:\s+(\d+)/m)?.[1] ?? 0);
  }
  return total;
}

scenarioTest(
  "nginx whose stopped worker has a new sibling's channel in flight (SCM_RIGHTS) is restored, and the worker takes it and quits cleanly",
  async (s) => {
    const { app, port, log } = await nginxOneWorker(s);
    const master = app.processes().find((p) => p.parent === app.info().vpidBase)!;
    const old = childrenOf(app, master.vpid)[0];
    // A stopped worker takes nothing from its channel: a reload's new worker's channel, which
    // the master hands every worker, and the order to quit wait in its queue.
    Deno.kill(old.pid, "SIGSTOP");
    Deno.kill(master.pid, "SIGHUP");
    await until(async () => (await inFlight(old.pid)) > 0, "a channel in flight to the old worker");
    const restored = await s.restore(await s.freeze(app));
    const again = restored.processes().find((p) => p.vpid === old.vpid)!;
    assert.ok(again?.alive, `the old worker: ${JSON.stringify(restored.processes())}`);
    assert.ok((await inFlight(again.pid)) > 0, "no channel in flight after the restore");
    Deno.kill(again.pid, "SIGCONT");
    await until(
      () => Promise.resolve(!childrenOf(restored, master.vpid).some((p) => p.vpid === old.vpid)),
      "the old worker gone",
    );
    await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving");
    const errors = await Deno.readTextFile(log);
    assert.doesNotMatch(errors, /\[(alert|emerg|crit)\]/, errors);
  },
);
