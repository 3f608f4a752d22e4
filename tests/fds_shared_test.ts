/**
 * Descriptors whose open file is shared between processes, and descriptor states that were
 * wrong after a restore. Each program checks its own state after the restore and says PASS.
 * Every scenario runs three ways: a snapshot with stop; a snapshot of a running program that
 * is then ended before the restore; and a second snapshot (with stop) of the restored program
 * restored again, before the program checks anything.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { open, SnapshotError } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const LIMIT_MS = 90_000;

type Way = "stop" | "running" | "twice";
const WAYS: readonly Way[] = ["stop", "running", "twice"];

const HOW: Record<Way, string> = {
  stop: "with stop",
  running: "of a running program ended before the restore",
  twice: "restored, snapshotted and restored again",
};

/** Launches argv, snapshots and restores it the given way, lets it go on and waits for PASS. */
export async function cycle(
  s: Scenario,
  argv: string[],
  way: Way,
  tag: string,
  detach = false,
): Promise<string> {
  const app = await s.launch(argv, tag, { detach });
  await s.waitFor(/^ready$/m, "ready");
  let image;
  if (way === "running") {
    image = await app.snapshot({ dir: join(s.dir, `${tag}.amber`) });
    await app.kill();
  } else {
    image = await s.freeze(app, tag);
  }
  let restored = await s.restore(image, { detach });
  if (way === "twice") {
    restored = await s.restore(await s.freeze(restored, `${tag}-again`), { detach });
  }
  return await s.pass();
}

function sharedTest(name: string, program: string, args: string[] = [], detach = false): void {
  for (const way of WAYS) {
    scenarioTest(`${name}, snapshot ${HOW[way]}`, async (s) => {
      // A process that became another user writes its file into the image through this folder.
      await Deno.chmod(s.dir, 0o711);
      await cycle(s, [prog(program), s.dir, ...args], way, program.replaceAll("_", "-"), detach);
    }, LIMIT_MS);
  }
}

sharedTest(
  "a listening socket a parent shares with its forked workers comes back as one",
  "prefork_listener",
);
sharedTest(
  "a listening socket and shared memory a root parent shares with workers that became nobody come back as one",
  "prefork_listener",
  ["nobody"],
);
sharedTest(
  "datagram sockets connected to themselves come back so, with what was waiting",
  "dgram_odd",
  [
    "self",
  ],
);
sharedTest(
  "a bound Unix datagram socket whose path was unlinked comes back bound, its path still gone",
  "dgram_odd",
  ["unlinked"],
);
sharedTest(
  "a pipe reopened through /proc/self/fd comes back as descriptions of the same pipe, each with its flags",
  "fd_reopened",
  ["pipe"],
);
sharedTest(
  "fd 0 that the program reopened itself on the launcher's file stays its own, not the restorer's",
  "fd_reopened",
  ["stdin"],
  true,
);
sharedTest("an unlinked open file keeps its owner and mode", "fd_reopened", ["owner"]);
sharedTest(
  "a pseudo-terminal made inside the application comes back with both ends, its modes and its session",
  "pty_session",
);

for (const stop of [true, false]) {
  scenarioTest(
    `fd 0 that the launcher had on a file comes back on the file at its offset (${
      stop ? "with" : "without"
    } stop)`,
    async (s) => {
      const input = join(s.dir, "input");
      await Deno.writeTextFile(input, "first\nsecond\n");
      const name = s.name("stdin-file");
      const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
      const run = [Deno.execPath(), "run", "-A", "--quiet", cli, "run", "--name", name];
      const argv = [...run, "--output", s.output, "--", prog("fd_reopened"), s.dir, "stdin-file"];
      const launcher = new Deno.Command("sh", {
        args: ["-c", 'input="$1"; shift; exec "$@" <"$input"', "sh", input, ...argv],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await s.waitFor(/^ready$/m, "ready");
        const app = await open(name);
        const dir = join(s.dir, "stdin-file.amber");
        const image = stop ? await s.freeze(app, "stdin-file") : await app.snapshot({ dir });
        if (!stop) await app.kill();
        await s.restore(image);
        await s.pass();
      } finally {
        await (await open(name).catch(() => null))?.kill();
        try {
          launcher.kill("SIGKILL");
        } catch { /* it has ended */ }
        await launcher.status;
      }
    },
    LIMIT_MS,
  );
}
sharedTest(
  "named FIFOs open for reading, writing and both come back on their path with their unread bytes",
  "fifo_state",
  ["one"],
);
sharedTest(
  "a named FIFO from a parent writer to its child reader comes back with its unread bytes",
  "fifo_state",
  ["fork"],
);
sharedTest(
  "an inotify instance comes back with its watches, their numbers and a gap left by a removed one",
  "inotify_state",
);
sharedTest(
  "an inotify instance of a program that runs as nobody (no file handles) comes back with its watches, found by the paths it added them with",
  "inotify_state",
  ["unprivileged"],
);
scenarioTest(
  "an inotify watch whose file was replaced by another at its path is refused at the restore, naming the watch",
  async (s) => {
    await Deno.chmod(s.dir, 0o711);
    const app = await s.launch([prog("inotify_state"), s.dir, "unprivileged"], "inotify-swap");
    await s.waitFor(/^ready$/m, "ready");
    const image = await s.freeze(app, "inotify-swap");
    const file = join(s.dir, "own", "file");
    await Deno.remove(file); // its inode number may well be the next file's
    await Deno.writeTextFile(file, "another");
    await assert.rejects(
      s.restore(image),
      /descriptor \d+: inotify watch 3 on .*\/own\/file is not the file it had open \(replaced since the snapshot\)/,
    );
  },
  LIMIT_MS,
);
sharedTest(
  "POSIX message queues come back with their attributes, mode and messages in order, one unlinked still unlinked",
  "mq_state",
);
sharedTest(
  "epoll registrations whose descriptor was dup'ed and closed (its number reused since) come back under their numbers",
  "epoll_moved",
);

scenarioTest(
  "a named FIFO that a process outside the application holds too is refused naming both; once it is gone the snapshot goes through",
  async (s) => {
    const app = await s.launch([prog("fifo_state"), s.dir, "outside"], "fifo-outside");
    await s.waitFor(/^ready$/m, "ready");
    const fifo = join(s.dir, "fifo");
    const holder = new Deno.Command("sh", {
      args: ["-c", 'exec sleep 60 3>"$1"', "sh", fifo],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Until the outside writer has the FIFO open.
      for (let i = 0; i < 200; i++) {
        const fds = [...Deno.readDirSync(`/proc/${holder.pid}/fd`)].map((e) => e.name);
        if (fds.includes("3")) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const dir = join(s.dir, "refused.amber");
      await assert.rejects(app.snapshot({ dir, stop: true }), (e: unknown) => {
        assert.ok(e instanceof SnapshotError, `Expected a SnapshotError, got ${e}`);
        assert.match(
          e.message,
          new RegExp(
            `process \\d+: descriptor \\d+ \\(named FIFO ${fifo}\\) is open in process ${holder.pid} \\(sleep, outside the application\\) too`,
          ),
        );
        return true;
      });
      await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
      const ticks = [...(await s.text()).matchAll(/^tick \d+$/gm)].length;
      await s.waitFor(new RegExp(`^tick ${ticks + 5}$`, "m"), "more ticks after the snapshot");
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
    await s.restore(await s.freeze(app, "alone"));
    await s.pass();
  },
  LIMIT_MS,
);
sharedTest(
  "a pseudo-terminal keeps the bytes not read yet both ways (output the master has not read, input the raw slave has not)",
  "pty_bytes",
);
sharedTest(
  "a pseudo-terminal in canonical mode keeps its lines not read yet and the line being typed, its echo once",
  "pty_canon",
);
scenarioTest(
  "a program snapshotted without stop goes on with its canonical-mode lines and echo as they were, and so does its image",
  async (s) => {
    const app = await s.launch([prog("pty_canon"), s.dir], "pty-canon-on");
    await s.waitFor(/^ready$/m, "ready");
    const image = await app.snapshot({ dir: join(s.dir, "pty-canon-on.amber") });
    await s.pass(); // the original, whose lines the snapshot took out and typed again
    await s.restore(image); // <dir>/go is there: it checks at once
    await s.waitFor(/^PASS$[\s\S]*^PASS$/m, "a second PASS");
  },
  LIMIT_MS,
);
sharedTest(
  "a pipe's end, a file at its offset and a socket in flight (SCM_RIGHTS) over stream, datagram and seqpacket pairs are received after the restore, each with its message",
  "fds_in_flight",
);
sharedTest(
  "connections waiting in Unix stream, seqpacket and TCP listeners' accept queues from the application's own clients are accepted after the restore (Unix ones in order)",
  "backlog_kept",
);
