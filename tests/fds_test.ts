/**
 * Descriptors across a snapshot and restore: sockets (listening, connected, UDP, Unix
 * datagram, TCP connections reset or kept with tcpEstablished), the anon_inode kinds (epoll,
 * eventfd, timerfd, signalfd), memfds and deleted files; and kinds Amber refuses, which must
 * make the snapshot fail with a message naming them while the program runs on. Connected Unix
 * sockets have their own file, socketpair_test.ts.
 *
 * Every test has the shape of support.ts: launch a program from tests/progs/ under Amber, wait
 * for its "ready", snapshot with stop (the original ends), restore, then let the restored
 * program check its own state (it waits for `<dir>/go`, or for a connection) and say PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SnapshotError } from "../mod.ts";
import { prog, refusedRunsOn, type Scenario, scenarioTest } from "./support.ts";

const LIMIT_MS = 60_000;

/** Settles with `promise`, or fails after `ms`: reads from a program that hangs end too. */
async function inTime<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
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

async function echo(conn: Deno.Conn, line: string): Promise<string> {
  await conn.write(new TextEncoder().encode(line));
  return await inTime(readLine(conn), `The echo of ${JSON.stringify(line)}`);
}

/** Launches, waits for "ready", snapshots with stop and restores. */
async function freezeAndThaw(s: Scenario, argv: string[], tag: string): Promise<string> {
  const app = await s.launch(argv, tag);
  const ready = await s.waitFor(/^ready$/m, "ready");
  await s.restore(await s.freeze(app));
  return ready;
}

/** A program that checks its own state once restored (after `<dir>/go`) and says PASS. */
function selfCheckingTest(name: string, program: string, tag: string, args: string[] = []): void {
  scenarioTest(name, async (s) => {
    await freezeAndThaw(s, [prog(program), s.dir, ...args], tag);
    await s.pass();
  }, LIMIT_MS);
}

const ECHO_SERVERS = [
  { args: [], name: "an epoll echo server keeps its listening socket and registration" },
  {
    args: ["plain"],
    name: "an echo server without SO_REUSEADDR listens again although its old connections linger",
  },
];

for (const { args, name } of ECHO_SERVERS) {
  scenarioTest(`${name} across restore`, async (s) => {
    const app = await s.launch([prog("tcp_echo_epoll"), ...args], "echo");
    const port = Number(/^port (\d+)$/m.exec(await s.waitFor(/^ready$/m, "ready"))![1]);
    const before = await Deno.connect({ hostname: "127.0.0.1", port });
    let after: Deno.Conn | undefined;
    try {
      assert.equal(await echo(before, "hello\n"), "hello\n");
      await s.restore(await s.freeze(app));
      // The connection open at the snapshot comes back reset: the server sees it end.
      await s.waitFor(/^closed \d+ (reset|eof)$/m, "the old connection's end");
      after = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await echo(after, "again\n"), "again\n");
      assert.equal(await echo(after, "quit\n"), "bye\n");
      await s.waitFor(/^PASS$/m, "PASS");
    } finally {
      before.close();
      after?.close();
    }
  }, LIMIT_MS);
}

scenarioTest("a TCP client's connection comes back reset after restore", async (s) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let conn: Deno.Conn | undefined;
  try {
    const accepted = listener.accept();
    accepted.catch(() => {}); // settled below, or when the listener closes
    const app = await s.launch([prog("tcp_client_reset"), String(listener.addr.port), s.dir]);
    conn = await inTime(accepted, "The client's connection");
    const hello = new Uint8Array(5);
    assert.equal(await inTime(conn.read(hello), "The client's hello"), 5);
    assert.equal(new TextDecoder().decode(hello), "hello");
    await s.waitFor(/^ready$/m, "ready");
    await s.restore(await s.freeze(app));
    assert.match(await s.pass(), /^read: (reset|eof)$/m);
  } finally {
    conn?.close();
    listener.close();
  }
}, LIMIT_MS);

scenarioTest(
  "Unix, TCP and UDP sockets come back at their addresses, a dup still sharing its socket",
  async (s) => {
    await freezeAndThaw(s, [prog("socket_addresses"), s.dir], "addresses");
    const text = await s.pass();
    assert.match(text, /^unix listener's dup: ok$/m);
    assert.match(text, /^udp: ok$/m);
  },
  LIMIT_MS,
);

selfCheckingTest(
  "eventfd counts, timerfd timers and signalfd masks survive restore",
  "eventfd_timerfd_signalfd",
  "anon",
);

const REFUSED = [
  {
    kind: "inotify",
    holding: "an inotify descriptor with events not read yet",
    named: /process \d+: descriptor \d+ \(inotify\) has \d+ bytes of events not read yet/,
  },
  {
    kind: "rights",
    holding: "a socket in flight whose own queue holds a descriptor in flight",
    named:
      /process \d+: descriptor \d+ \(connected Unix socket\) has descriptors in flight \(SCM_RIGHTS, not received yet\) and one of them, sent with byte 0, cannot be saved: it is a Unix socket with descriptors in flight of its own \(nested\)/,
  },
  {
    kind: "rights-locked",
    holding: "a descriptor in flight and a POSIX lock",
    named:
      /process \d+: descriptor \d+ \(connected Unix socket\) has descriptors in flight \(SCM_RIGHTS, not received yet\) while its process holds POSIX locks, which Amber cannot save: peeking at them would drop the locks/,
  },
  {
    kind: "backlog-bytes",
    holding: "a connection waiting to be accepted whose client sent bytes",
    named:
      /process \d+: descriptor \d+ is a Unix socket waiting to be accepted by listener socket:\[\d+\] with bytes it sent not read yet, which Amber cannot read before the server accepts the connection/,
  },
  {
    kind: "backlog-unlinked",
    holding: "a connection waiting to be accepted by a listener whose path was unlinked",
    named:
      /process \d+: descriptor \d+ \(listening Unix socket .*unlinked\.sock\) has a connection waiting to be accepted from a process of the application, and its path was unlinked/,
  },
  {
    kind: "tcp-backlog-bytes",
    holding: "a TCP connection waiting to be accepted whose client sent bytes",
    named:
      /process \d+: descriptor \d+ is a TCP connection waiting to be accepted by listener socket:\[\d+\] with 2 bytes it sent not read yet/,
  },
  { kind: "netlink", holding: "a netlink socket", named: /netlink socket/ },
  {
    kind: "traced",
    holding: "a thread that blocks every signal and that another process traces",
    named: /process \d+ \(thread of system TID \d+\) is traced \(ptrace\) by its own process \d+/,
  },
  {
    kind: "vfork",
    holding: "a thread waiting for a vfork child that never execs",
    named:
      /its thread \d+ \(unsaveable\) waits in the kernel and cannot be interrupted \([a-z_]+\), so neither a signal nor ptrace can stop it/,
  },
  {
    kind: "pty",
    holding: "a pseudo-terminal whose master is in packet mode with output not read",
    named: /descriptor \d+ \((master of pseudo-terminal )?\/dev\/pts\/\d+\) has bytes not read yet/,
  },
  {
    kind: "cwd",
    holding: "a deleted current directory",
    named: /process \d+: its current directory \/.*\/gone \(deleted\) was deleted/,
  },
  {
    kind: "long-fd",
    holding: "a file whose path is longer than 255 bytes",
    named: /descriptor \d+ names a path longer than 255 bytes/,
  },
  {
    kind: "setid-child",
    holding: "a child running a set-group-ID program, into which the kernel preloads no library",
    named:
      /process \d+ \(sleep, .*\/sleep\) runs without Amber's library, which cannot save it: it is set-group-ID/,
  },
  {
    kind: "pidfd-outside",
    holding: "a pidfd of a process outside the application",
    named:
      /process \d+: descriptor \d+ \(a pidfd\) names process 1, which is outside the application/,
  },
  {
    kind: "aio",
    holding: "an AIO context (io_setup)",
    named:
      /process \d+: an asynchronous I\/O context \(io_setup\) is open: the kernel's AIO state .* cannot be saved/,
  },
  {
    kind: "uring-map",
    holding: "an io_uring's rings mapped after its descriptor was closed",
    named: /process \d+: a kernel object's ring is mapped \(an anon_inode mapping/,
  },
  {
    kind: "long-map",
    holding: "a file mapped shared whose path is longer than 255 bytes",
    named: /a file mapped shared has a path longer than 255 bytes/,
  },
  {
    kind: "long-cwd",
    holding: "a working directory whose path is longer than 1023 bytes",
    named: /working directory's path is longer than 1023 bytes/,
  },
] as const;

scenarioTest(
  "pidfds of running children (pidfd_open with PIDFD_NONBLOCK, clone3 with CLONE_PIDFD) name the same children after restores: poll, pidfd_send_signal, waitid(P_PIDFD)",
  (s) => s.cycles([prog("pidfd_child"), s.dir], "pidfd"),
  LIMIT_MS,
);

scenarioTest(
  "a directory notification (fcntl F_NOTIFY, its signal chosen with F_SETSIG) still signals after restores; one dropped by a close before the snapshot stays dropped",
  (s) => s.cycles([prog("dnotify_dir"), s.dir], "dnotify"),
  LIMIT_MS,
);

for (const { kind, holding, named } of REFUSED) {
  scenarioTest(
    `a snapshot of a program holding ${holding} fails naming it, and the program runs on`,
    async (s) => {
      const app = await s.launch([prog("unsaveable"), kind, s.dir], kind);
      await refusedRunsOn(s, app, named);
      assert.equal((await inTime(app.wait(), "The program's exit")).code, 0);
    },
    LIMIT_MS,
  );
}

scenarioTest(
  "a socket with descriptors in flight that a process outside the application holds too is refused by name, the program runs on",
  async (s) => {
    const app = await s.launch([prog("unsaveable"), "rights-outside", s.dir], "outside");
    const holder = new Deno.Command(prog("fd_holder"), {
      args: [join(s.dir, "give.sock")],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      await refusedRunsOn(
        s,
        app,
        new RegExp(
          `process \\d+: descriptor \\d+ \\(socket:\\[\\d+\\]\\) has descriptors in flight \\(SCM_RIGHTS, not received yet\\) and is open in process ${holder.pid} \\(fd_holder, outside the application\\) too`,
        ),
      );
    } finally {
      holder.kill("SIGKILL");
      await holder.output();
    }
  },
  LIMIT_MS,
);

/** A program that holds what a snapshot must refuse (it prints "tick N" until `<dir>/go`): the
 * snapshot fails with a message that matches `named`, writes nothing, and the program runs on. */
function refusedTest(name: string, program: string, args: string[], named: RegExp): void {
  scenarioTest(name, async (s) => {
    await Deno.chmod(s.dir, 0o777); // for a program that becomes nobody
    const app = await s.launch([prog(program), s.dir, ...args], program.replaceAll("_", "-"));
    await s.waitFor(/^ready$/m, "ready");
    const dir = join(s.dir, "never.amber");
    await assert.rejects(app.snapshot({ dir, stop: true }), (e: unknown) => {
      assert.ok(e instanceof SnapshotError, `Expected a SnapshotError, got ${e}`);
      assert.match(e.message, named);
      return true;
    });
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    const ticks = [...(await s.text()).matchAll(/^tick \d+$/gm)].length;
    await s.waitFor(new RegExp(`^tick ${ticks + 5}$`, "m"), "more ticks after the snapshot");
    await s.pass();
  }, LIMIT_MS);
}

refusedTest(
  "an epoll whose registered file only another process holds now is refused by name, the program runs on",
  "epoll_moved",
  ["gone"],
  /process \d+: descriptor \d+ is an epoll watching a file registered as descriptor \d+, which no descriptor of this process holds now/,
);

selfCheckingTest(
  "a process's own /proc file stays open on the restored process's own",
  "file_kinds",
  "proc-file",
  ["proc"],
);

refusedTest(
  "an inotify watch added before the library was loaded, whose path only CAP_DAC_READ_SEARCH could find (the program runs as nobody), is refused by name",
  "inotify_state",
  ["nobody"],
  /process \d+: descriptor \d+ \(inotify\) has watch 1 whose path only a process with CAP_DAC_READ_SEARCH can find/,
);

refusedTest(
  "a POSIX message queue with a notification registered is refused by name, the program runs on",
  "mq_state",
  ["notify"],
  /process \d+: descriptor \d+ \(POSIX message queue \/amber-mq-[^)]*\) has a notification registered \(mq_notify\)/,
);

selfCheckingTest(
  "a signalfd names exited children by virtual pid, before and after a restore",
  "signalfd_reaper",
  "reaper",
);

selfCheckingTest(
  "memfds keep their name, bytes, offset, seals and mappings across a restore",
  "memfd_state",
  "memfd",
);

for (const mode of ["plain", "taken"] as const) {
  scenarioTest(
    mode === "plain"
      ? "a deleted file held open comes back deleted, with its bytes, mode and offsets"
      : "a deleted file whose path was taken meanwhile comes back nameless, the new file untouched",
    async (s) => {
      const app = await s.launch([prog("deleted_file"), s.dir, mode], `deleted-${mode}`);
      await s.waitFor(/^ready$/m, "ready");
      const image = await s.freeze(app);
      if (mode === "taken") await Deno.writeTextFile(join(s.dir, "scratch"), "new owner");
      await s.restore(image);
      await s.pass();
    },
    LIMIT_MS,
  );
}

selfCheckingTest(
  "a nameless O_TMPFILE file comes back nameless and can still be linked (AT_EMPTY_PATH, /proc), and one linked before keeps its name",
  "tmpfile_link",
  "tmpfile",
);

selfCheckingTest(
  "a Unix datagram server is bound again with its unread datagrams, and its clients connect again",
  "unix_dgram_server",
  "dgram",
);

selfCheckingTest(
  "an SO_PASSCRED datagram socket's unread datagram from its own process comes back in its name (SCM_CREDENTIALS)",
  "queued_creds",
  "creds-self",
  ["self"],
);

scenarioTest(
  "an SO_PASSCRED datagram socket holding unread datagrams of other processes is refused by name (their credentials would name the reader), the program runs on",
  async (s) => {
    const app = await s.launch([prog("queued_creds"), s.dir, "others"], "creds-others");
    await s.waitFor(/^ready$/m, "ready");
    const outside = await new Deno.Command(prog("queued_creds"), { args: [s.dir, "send"] })
      .output();
    assert.equal(outside.code, 0, new TextDecoder().decode(outside.stderr));
    await refusedRunsOn(
      s,
      app,
      /descriptor \d+ \(bound Unix datagram socket .*log\.sock\) holds an unread message from pid \d+ \(uid \d+, gid \d+\) whose credentials \(SO_PASSCRED\) a restore cannot keep/,
    );
  },
  LIMIT_MS,
);

scenarioTest(
  "a client of a Unix datagram server outside the application connects to it again",
  async (s) => {
    const path = join(s.dir, "sink.sock");
    const sink = new Deno.Command(prog("dgram_sink"), { args: [path], stdout: "piped" }).spawn();
    try {
      const output = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.equal((await inTime(output.read(), "The sink's bind")).value, "bound\n");
      await freezeAndThaw(s, [prog("unix_dgram_server"), s.dir, path], "client");
      await s.pass();
      const received = await inTime(output.read(), "The sink's datagram");
      assert.equal(received.value, "received after restore\n");
    } finally {
      try {
        sink.kill("SIGKILL");
      } catch { /* it has ended */ }
      await sink.status;
    }
  },
  LIMIT_MS,
);

for (const restored of [true, false]) {
  scenarioTest(
    restored
      ? "with tcpEstablished a TCP connection survives: unread bytes, then both ways, one connection"
      : "with tcpEstablished a program that is not stopped keeps using its connection as before",
    async (s) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      let conn: Deno.Conn | undefined;
      try {
        const accepted = listener.accept();
        accepted.catch(() => {}); // settled below, or when the listener closes
        const app = await s.launch([prog("tcp_kept"), String(listener.addr.port), s.dir], "kept");
        conn = await inTime(accepted, "The client's connection");
        assert.equal(await inTime(readLine(conn), "The client's hello"), "hello\n");
        await s.waitFor(/^ready$/m, "ready");
        await conn.write(new TextEncoder().encode("before\n")); // unread at the snapshot
        const dir = join(s.dir, "kept.amber");
        const image = await app.snapshot({ dir, stop: restored, tcpEstablished: true });
        if (restored) await s.restore(image);
        await Deno.writeTextFile(join(s.dir, "go"), "");
        assert.equal(await inTime(readLine(conn), "The client's line"), "after\n");
        await conn.write(new TextEncoder().encode("bye\n"));
        await s.waitFor(/^PASS$/m, "PASS");
      } finally {
        conn?.close();
        listener.close();
      }
    },
    LIMIT_MS,
  );
}

scenarioTest(
  "with tcpEstablished a server's accepted connection survives beside its listener",
  async (s) => {
    const app = await s.launch([prog("tcp_echo_epoll")], "echo-kept");
    const port = Number(/^port (\d+)$/m.exec(await s.waitFor(/^ready$/m, "ready"))![1]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      assert.equal(await echo(conn, "hello\n"), "hello\n");
      const dir = join(s.dir, "echo.amber");
      await s.restore(await app.snapshot({ dir, stop: true, tcpEstablished: true }));
      assert.equal(await echo(conn, "still here\n"), "still here\n");
      assert.doesNotMatch(await s.text(), /^closed/m, "the server saw its connection end");
      assert.equal(await echo(conn, "quit\n"), "bye\n");
      await s.waitFor(/^PASS$/m, "PASS");
    } finally {
      conn.close();
    }
  },
  LIMIT_MS,
);

selfCheckingTest(
  "a deleted file mapped shared by a parent and its child stays shared, with its bytes",
  "deleted_mapping",
  "deleted-mapping",
);
