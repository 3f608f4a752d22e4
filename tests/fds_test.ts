/**
 * Descriptors across a snapshot and restore: sockets (listening, connected, UDP, Unix) and the
 * anon_inode kinds (epoll, eventfd, timerfd, signalfd); and the kinds Amber refuses, which must
 * make the snapshot fail with a message naming them while the program runs on.
 *
 * Every test has the same shape: launch a program from tests/progs/ under Amber, wait for its
 * "ready", snapshot with stop (the original ends), restore, then let the restored program check
 * its own state (it waits for `<dir>/go`, or for a connection) and say PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type App, launch, restore, SnapshotError } from "../mod.ts";

const PROGS = fileURLToPath(new URL("../build/tests/", import.meta.url));
const TIME_LIMIT_MS = 60_000;

/** What one test started, ended in `cleanup` whatever happens. */
interface Scene {
  dir: string;
  apps: App[];
  closers: { close(): void }[];
  deadline: number;
}

async function scene(): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "amber-fds-" });
  return { dir, apps: [], closers: [], deadline: Date.now() + TIME_LIMIT_MS };
}

async function cleanup(s: Scene): Promise<void> {
  for (const c of s.closers) {
    try {
      c.close();
    } catch {
      // Already closed.
    }
  }
  for (const app of s.apps) await app.kill().catch(() => {});
  await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

function unique(tag: string): string {
  return `fds-${tag}-${crypto.randomUUID().slice(0, 8)}`;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/** Waits until the file's text matches `pattern`; fails early on FAIL, late on the deadline. */
async function waitFor(s: Scene, path: string, pattern: RegExp): Promise<string> {
  for (;;) {
    const text = await readText(path);
    if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
    if (pattern.test(text)) return text;
    if (Date.now() > s.deadline) assert.fail(`No ${pattern} in time; the output is:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(s: Scene, prog: string, args: string[], tag: string): Promise<string> {
  const output = join(s.dir, `${tag}.out`);
  s.apps.push(await launch([join(PROGS, prog), ...args], { name: unique(tag), output }));
  await waitFor(s, output, /^ready$/m);
  return output;
}

/** Snapshots the running program with stop, then restores it; returns the new output file. */
async function snapshotAndRestore(s: Scene, tag: string): Promise<string> {
  const app = s.apps[s.apps.length - 1];
  const image = await app.snapshot({ dir: join(s.dir, `${tag}.amber`), stop: true });
  const output = join(s.dir, `${tag}.restored.out`);
  s.apps.push(await restore(image, { name: unique(`${tag}-again`), output }));
  return output;
}

async function go(s: Scene): Promise<void> {
  await Deno.writeTextFile(join(s.dir, "go"), "");
}

/** Settles with `promise`, or fails once the test's time is up. */
async function inTime<T>(s: Scene, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not happen in time`)),
      Math.max(0, s.deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

async function echo(s: Scene, conn: Deno.Conn, line: string): Promise<string> {
  await conn.write(new TextEncoder().encode(line));
  return await inTime(s, readLine(conn), `The echo of ${JSON.stringify(line)}`);
}

Deno.test({
  name: "an epoll echo server keeps its listening socket and registration across restore",
  async fn() {
    const s = await scene();
    try {
      const out = await start(s, "tcp_echo_epoll", [], "echo");
      const port = Number(/^port (\d+)$/m.exec(await readText(out))![1]);
      const before = await Deno.connect({ hostname: "127.0.0.1", port });
      s.closers.push(before);
      assert.equal(await echo(s, before, "hello\n"), "hello\n");

      const again = await snapshotAndRestore(s, "echo");
      // The connection open at the snapshot comes back reset: the server sees it end.
      await waitFor(s, again, /^closed \d+ (reset|eof)$/m);
      const after = await Deno.connect({ hostname: "127.0.0.1", port });
      s.closers.push(after);
      assert.equal(await echo(s, after, "again\n"), "again\n");
      assert.equal(await echo(s, after, "quit\n"), "bye\n");
      await waitFor(s, again, /^PASS$/m);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "a TCP client's connection comes back reset after restore",
  async fn() {
    const s = await scene();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    s.closers.push(listener);
    try {
      const accepted = listener.accept().then((conn) => {
        s.closers.push(conn);
        return conn;
      });
      await start(s, "tcp_client_reset", [String(listener.addr.port), s.dir], "client");
      const conn = await inTime(s, accepted, "The client's connection");
      const hello = new Uint8Array(5);
      assert.equal(await inTime(s, conn.read(hello), "The client's hello"), 5);
      assert.equal(new TextDecoder().decode(hello), "hello");

      const again = await snapshotAndRestore(s, "client");
      await go(s);
      const text = await waitFor(s, again, /^PASS$/m);
      assert.match(text, /^read: (reset|eof)$/m);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "Unix, TCP and UDP sockets come back at their addresses, a dup still sharing its socket",
  async fn() {
    const s = await scene();
    try {
      await start(s, "socket_addresses", [s.dir], "addresses");
      const again = await snapshotAndRestore(s, "addresses");
      await go(s);
      const text = await waitFor(s, again, /^PASS$/m);
      assert.match(text, /^unix listener's dup: ok$/m);
      assert.match(text, /^udp: ok$/m);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "eventfd counts, timerfd timers and signalfd masks survive restore",
  async fn() {
    const s = await scene();
    try {
      await start(s, "eventfd_timerfd_signalfd", [s.dir], "anon");
      const again = await snapshotAndRestore(s, "anon");
      await go(s);
      await waitFor(s, again, /^PASS$/m);
    } finally {
      await cleanup(s);
    }
  },
});

const REFUSED = [
  { kind: "inotify", holding: "an inotify descriptor", named: /inotify/ },
  { kind: "socketpair", holding: "a socketpair", named: /connected Unix socket/ },
] as const;

for (const { kind, holding, named } of REFUSED) {
  Deno.test({
    name: `a snapshot of a program holding ${holding} fails naming it, and the program runs on`,
    async fn() {
      const s = await scene();
      try {
        const out = await start(s, "unsaveable", [kind, s.dir], kind);
        const app = s.apps[0];
        await assert.rejects(
          app.snapshot({ dir: join(s.dir, `${kind}.amber`), stop: true }),
          (e: unknown) => {
            assert.ok(e instanceof SnapshotError, `Expected a SnapshotError, got ${e}`);
            assert.match(e.message, named);
            return true;
          },
        );
        await assert.rejects(Deno.stat(join(s.dir, `${kind}.amber`)), Deno.errors.NotFound);
        const ticks = (text: string) => [...text.matchAll(/^tick (\d+)$/gm)].length;
        const seen = ticks(await readText(out));
        await waitFor(s, out, new RegExp(`^tick ${seen + 5}$`, "m"));
        await go(s);
        await waitFor(s, out, /^PASS$/m);
        const status = await inTime(s, app.wait(), "The program's exit");
        assert.equal(status.code, 0);
      } finally {
        await cleanup(s);
      }
    },
  });
}
