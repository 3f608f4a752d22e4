/**
 * Real servers under Amber: Redis keeps its data across a snapshot, a kill and a restore, serves
 * new clients on the same port, and a client connected at the snapshot finds its connection
 * reset, as it would after a server restart.
 */

import assert from "node:assert/strict";
import { scenarioTest } from "./support.ts";

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

scenarioTest(
  "nginx, whose master learns of its workers by SIGIO (F_SETOWN), serves and reloads after a restore",
  async (s) => {
    const which = new Deno.Command("sh", { args: ["-c", "command -v nginx"], stdout: "piped" });
    const path = decoder.decode((await which.output()).stdout).trim();
    assert.ok(path, "nginx is not installed (make deps installs it)");
    const port = freePort();
    await Deno.mkdir(`${s.dir}/www`);
    await Deno.writeTextFile(`${s.dir}/www/index.html`, "hello from nginx\n");
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((kind) => `${kind}_temp_path ${s.dir}/${kind};`).join(" ");
    // `user root`: a worker that became www-data could not be compared (kcmp) with its root
    // master while Amber looks for the descriptors they share.
    await Deno.writeTextFile(
      `${s.dir}/nginx.conf`,
      `daemon off; master_process on; worker_processes 1; user root; pid ${s.dir}/nginx.pid;
       events { worker_connections 64; }
       http { access_log off; ${temp}
              server { listen 127.0.0.1:${port}; root ${s.dir}/www; } }`,
    );
    const log = `${s.dir}/error.log`;
    const app = await s.launch(
      [path, "-p", s.dir, "-c", `${s.dir}/nginx.conf`, "-e", log],
      "nginx",
    );
    await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving");
    const restored = await s.restore(await s.freeze(app));
    await until(async () => (await http(port)).includes("hello from nginx"), "nginx serving again");
    const master = restored.processes().find((p) => p.parent === 4200000)!;
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
