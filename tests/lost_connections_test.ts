/**
 * Connections a restore cannot bring back as they were are named: a TCP connection to a peer
 * outside the application (it comes back reset unless kept with tcpEstablished) and the
 * connections waiting in a listener's accept queue. The snapshot's result (API and CLI, text
 * and --json), `inspect` and `restore` name each with its process, descriptor and addresses.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect, open } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const LIMIT_MS = 90_000;

/**
 * Runs `amber ARGS...` in this test's state directory, within 30 s. Its output goes through
 * files: a detached application keeps the restoring command's descriptors open.
 */
async function amber(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = await Deno.makeTempDir({ prefix: "amber-cli-out-" });
  const [out, err] = [join(dir, "out"), join(dir, "err")];
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'out="$1" err="$2"; shift 2; exec "$@" >"$out" 2>"$err"',
      "sh",
      out,
      err,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      CLI,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const { code } = await child.status;
    return { code, out: await Deno.readTextFile(out), err: await Deno.readTextFile(err) };
  } finally {
    clearTimeout(timer);
    await Deno.remove(dir, { recursive: true });
  }
}

scenarioTest(
  "a TCP connection to a peer outside comes back reset, and snapshot, inspect and restore name it",
  async (s) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const remote = `127.0.0.1:${listener.addr.port}`;
    let conn: Deno.Conn | undefined;
    let restoredName: string | undefined;
    try {
      const accepted = listener.accept();
      accepted.catch(() => {});
      const app = await s.launch([prog("tcp_client_reset"), String(listener.addr.port), s.dir]);
      conn = await accepted;
      await s.waitFor(/^ready$/m, "ready");
      // The API's result, of a snapshot that lets the program run on.
      const image = await app.snapshot({ dir: join(s.dir, "running.amber") });
      assert.equal(image.lost?.reset.length, 1, JSON.stringify(image.lost));
      const [reset] = image.lost!.reset;
      assert.equal(reset.vpid, app.processes()[0].vpid);
      assert.equal(reset.fd, 3);
      assert.equal(reset.remote, remote);
      assert.match(reset.local, /^127\.0\.0\.1:\d+$/);
      assert.deepEqual((await inspect(image.dir)).lost, image.lost);
      // The command line's, with --json, then of a snapshot with --stop.
      const json = await amber("snapshot", app.name, "-o", join(s.dir, "json.amber"), "--json");
      assert.equal(json.code, 0, json.err);
      assert.deepEqual(JSON.parse(json.out).lost, image.lost);
      const dir = join(s.dir, "cli.amber");
      const text = await amber("snapshot", app.name, "-o", dir, "--stop");
      assert.equal(text.code, 0, text.err);
      const line = new RegExp(
        `^Process ${reset.vpid}, descriptor 3: the TCP connection ${reset.local} -> ${remote} ` +
          "comes back reset",
        "m",
      );
      assert.match(text.out, line);
      const inspected = await amber("inspect", dir);
      assert.match(inspected.out, new RegExp(line.source.slice(1), "m"));
      const jsonInspected = JSON.parse((await amber("inspect", dir, "--json")).out);
      assert.deepEqual(jsonInspected.image.lost, image.lost);
      restoredName = s.name("restored-cli");
      const restored = await amber(
        "restore",
        dir,
        "--name",
        restoredName,
        "--detach",
        "--output",
        s.output,
      );
      assert.equal(restored.code, 0, restored.err);
      assert.match(restored.err, line);
      // And the program sees its connection reset.
      assert.match(await s.pass(), /^read: (reset|eof)$/m);
    } finally {
      if (restoredName) await (await open(restoredName).catch(() => null))?.kill();
      conn?.close();
      listener.close();
    }
  },
  LIMIT_MS,
);

for (const transport of ["tcp", "unix"] as const) {
  for (const stop of [true, false]) {
    scenarioTest(
      `${transport} connections waiting to be accepted are named by the snapshot ` +
        `(${stop ? "with" : "without"} stop), and the restored listener accepts new ones`,
      async (s) => {
        const app = await s.launch([prog("listen_backlog"), s.dir, transport], "backlog");
        const ready = await s.waitFor(/^ready$/m, "ready");
        const path = join(s.dir, "listen.sock");
        const port = Number(/^port (\d+)$/m.exec(ready)?.[1] ?? 0);
        const connect = () =>
          transport === "tcp"
            ? Deno.connect({ hostname: "127.0.0.1", port })
            : Deno.connect({ transport: "unix", path });
        const waiting = [await connect(), await connect()];
        let after: Deno.Conn | undefined;
        try {
          const image = await app.snapshot({ dir: join(s.dir, "backlog.amber"), stop });
          assert.deepEqual(image.lost?.unaccepted, [{
            vpid: image.manifest.processes[0].vpid,
            fd: 3,
            local: transport === "tcp" ? `127.0.0.1:${port}` : path,
            waiting: 2,
          }]);
          if (!stop) await app.kill();
          // Their clients see them end when the original does: not silently kept open.
          for (const conn of waiting) {
            const buf = new Uint8Array(8);
            const got = await conn.read(buf).catch(() => null);
            assert.equal(got, null, "a waiting connection stayed open");
          }
          await s.restore(image);
          await Deno.writeTextFile(s.go, "");
          after = await connect();
          const buf = new Uint8Array(8);
          const n = await after.read(buf);
          assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "hi\n");
          await s.waitFor(/^PASS$/m, "PASS");
        } finally {
          for (const conn of waiting) conn.close();
          after?.close();
        }
      },
      LIMIT_MS,
    );
  }
}

scenarioTest(
  "with --tcp-established, a connection of a process that may not repair it is named as not kept, by the snapshot and by inspect, and a live snapshot says kept connections need --stop",
  async (s) => {
    if (Deno.uid() !== 0) throw new Error("this test runs as root (it drops to nobody)");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let conn: Deno.Conn | undefined;
    try {
      const accepted = listener.accept();
      accepted.catch(() => {});
      // As a server's worker that dropped root: no CAP_NET_ADMIN, so no TCP repair.
      const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
      await Deno.chmod(s.dir, 0o755);
      const port = String(listener.addr.port);
      const app = await s.launch([...nobody, prog("tcp_client_reset"), port, s.dir], "nobody");
      conn = await accepted;
      await s.waitFor(/^ready$/m, "ready");
      const live = join(s.dir, "live.amber");
      const liveText = await amber("snapshot", app.name, "-o", live, "--tcp-established");
      assert.equal(liveText.code, 0, liveText.err);
      assert.match(liveText.out, /goes on with its TCP connections.*snapshot with --stop/);
      const text = await amber(
        "snapshot",
        app.name,
        "-o",
        join(s.dir, "kept.amber"),
        "--stop",
        "--tcp-established",
      );
      assert.doesNotMatch(text.out, /goes on with its TCP connections/);
      assert.equal(text.code, 0, text.err);
      const notKept = /comes back reset \(could not be kept: TCP repair needs CAP_NET_ADMIN/;
      assert.match(text.out, notKept);
      // The image says so too: inspect does not know how the snapshot was taken.
      const inspected = await amber("inspect", join(s.dir, "kept.amber"));
      assert.equal(inspected.code, 0, inspected.err);
      assert.match(inspected.out, notKept);
      assert.doesNotMatch(inspected.out, /keep it with --tcp-established/);
    } finally {
      conn?.close();
      listener.close();
    }
  },
  LIMIT_MS,
);
