/**
 * The agent serves over TLS with the certificate the user gives, refuses plain HTTP on an
 * address other than loopback unless asked, and answers bad JSON with 400.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AmberError } from "../mod.ts";
import { serveAgent } from "../src/agent/server.ts";
import { bearer } from "../src/agent/auth.ts";

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
