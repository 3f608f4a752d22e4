/**
 * The agent serves over TLS with the certificate the user gives, refuses plain HTTP on an
 * address other than loopback unless asked, and answers bad JSON with 400.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AmberError } from "../mod.ts";
import { serveAgent } from "../src/agent/server.ts";
import { bearer } from "../src/agent/auth.ts";
import { CLI } from "./cli_run.ts";

const TOKEN = "0123456789abcdef-transport";

/** A private CA and a certificate it signed for 127.0.0.1 (rustls takes no CA as a server's). */
async function certificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, "ca.pem"), caKey = join(dir, "ca.key");
  const cert = join(dir, "cert.pem"), key = join(dir, "key.pem"), csr = join(dir, "cert.csr");
  const ext = join(dir, "ext.cnf");
  await Deno.writeTextFile(ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (
    const args of [
      [
        "req",
        "-x509",
        ...ec,
        "-keyout",
        caKey,
        "-out",
        ca,
        "-days",
        "1",
        "-subj",
        "/CN=amber-test-ca",
      ],
      ["req", ...ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "1",
        "-extfile",
        ext,
      ],
    ]
  ) {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  }
  return { ca, cert, key };
}

Deno.test("the agent refuses plain HTTP off loopback unless asked, and serves TLS with a given certificate", async () => {
  await assert.rejects(
    () => serveAgent({ listen: "0.0.0.0:0", token: TOKEN, log: () => {} }),
    (e) => e instanceof AmberError && /plain HTTP.*--insecure-http/.test(e.message),
  );
  const dir = await Deno.makeTempDir({ prefix: "amber-tls-" });
  const stop = new AbortController();
  const idle: Deno.Conn[] = [];
  try {
    const { ca, cert, key } = await certificates(dir);
    const agent = await serveAgent({
      listen: "127.0.0.1:0",
      token: TOKEN,
      cert,
      key,
      signal: stop.signal,
      log: () => {},
      limits: { headTimeoutMs: 1_000 },
    });
    const base = `https://127.0.0.1:${agent.addr.port}`;
    using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
    // Connections that never start their TLS handshake hold up no one, and are closed.
    for (let i = 0; i < 50; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port: agent.addr.port }));
    }
    const health = await fetch(`${base}/v1/health`, { client, headers: bearer(TOKEN) });
    assert.equal(health.status, 200);
    for (const conn of idle) assert.equal(await conn.read(new Uint8Array(16)), null);
    assert.equal((await health.json()).version, "1");
    const bad = await fetch(`${base}/v1/vnes`, {
      client,
      method: "POST",
      headers: { ...bearer(TOKEN), "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(bad.status, 400, "bad JSON is the client's error");
    await bad.body?.cancel();
    // A client that does not trust the certificate gets no answer.
    await assert.rejects(() => fetch(`${base}/v1/health`, { headers: bearer(TOKEN) }));
    stop.abort();
    await agent.finished;
  } finally {
    for (const conn of idle) conn.close();
    stop.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The ports process `pid` listens on over TCP at 127.0.0.1 (its sockets, by inode). */
async function listeners(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    const link = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports = [];
  for (const line of (await Deno.readTextFile(`/proc/${pid}/net/tcp`)).split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address, state 0A (listening), inode
    if (f.length > 9 && f[3] === "0A" && f[1].startsWith("0100007F:") && inodes.has(f[9])) {
      ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

Deno.test("the agent's inner TLS listener serves only its relay: a local peer's connection is closed without an answer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-tls-inner-" });
  // An agent process of its own: its listeners are told apart from other tests' by its pid.
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close();
  let agent: Deno.ChildProcess | undefined;
  try {
    const { ca, cert, key } = await certificates(dir);
    const caCert = await Deno.readTextFile(ca);
    const tokenFile = join(dir, "token");
    await Deno.writeTextFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    await Deno.mkdir(join(dir, "state"), { mode: 0o700 });
    agent = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "agent", "--listen", `127.0.0.1:${port}`, "--token-file", tokenFile]
        .concat(["--cert", cert, "--key", key]),
      env: { AMBER_STATE_DIR: join(dir, "state") },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const base = `https://127.0.0.1:${port}`;
    using client = Deno.createHttpClient({ caCerts: [caCert] });
    for (const deadline = Date.now() + 30_000;;) {
      const up = await fetch(`${base}/v1/health`, { client, headers: bearer(TOKEN) })
        .then(async (r) => (await r.body?.cancel(), r.ok), () => false);
      if (up) break;
      assert.ok(Date.now() < deadline, "the agent did not come up within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const inner = (await listeners(agent.pid)).filter((p) => p !== port);
    assert.equal(inner.length, 1, `one inner listener besides the agent's: ${inner}`);
    const request = new TextEncoder().encode(
      `GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    );
    /** A request straight to the inner listener: what it answers, and how long until it closes. */
    const direct = async () => {
      const started = performance.now();
      let answer = 0;
      try {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port: inner[0],
          caCerts: [caCert],
        });
        try {
          await conn.write(request);
          const buf = new Uint8Array(4096);
          for (let n; (n = await conn.read(buf)) !== null;) answer += n;
        } finally {
          conn.close();
        }
      } catch {
        // Closed during its handshake or its request: no answer either.
      }
      return { answer, ms: performance.now() - started };
    };
    // Alone, then while relayed requests are under way (their connects may be the direct ones').
    const alone = await direct();
    assert.equal(alone.answer, 0, "a direct connection gets no answer");
    const [directs, relayed] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, direct)),
      Promise.all(Array.from({ length: 20 }, async () => {
        const r = await fetch(`${base}/v1/health`, { client, headers: bearer(TOKEN) });
        await r.body?.cancel();
        return r.status;
      })),
    ]);
    assert.deepEqual(relayed, Array(20).fill(200), "relayed requests are answered");
    for (const d of [alone, ...directs]) {
      assert.equal(d.answer, 0, "a direct connection gets no answer");
      // Not kept until a relay could have claimed it (2 s): closed as soon as none can.
      assert.ok(d.ms < 1_500, `a direct connection is closed at once, not after ${d.ms} ms`);
    }
  } finally {
    if (agent) {
      try {
        agent.kill("SIGTERM");
      } catch {
        // Ended already.
      }
      await agent.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
