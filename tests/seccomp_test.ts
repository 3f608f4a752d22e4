/**
 * The kernel-side layer (docs/seccomp.md): raw system calls that name a process, made with the
 * `syscall` instruction where no libc function or syscall() can see them, get virtual ids and
 * act on the process named, before and after a restore; the program keeps its own SIGSYS.
 */

import assert from "node:assert/strict";
import type { App } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

/** A snapshot with stop refused for `why`, and the program ticking on after it. */
async function refusedRunsOn(s: Scenario, app: App, why: RegExp): Promise<void> {
  await assert.rejects(app.snapshot({ dir: `${s.dir}/never.amber`, stop: true }), why);
  const ticks = [...(await s.text()).matchAll(/^tick \d+$/gm)].length;
  await s.waitFor(new RegExp(`^tick ${ticks + 3}$`, "m"), "more ticks after the refusal");
}

scenarioTest(
  "raw system calls that name a process are translated by the seccomp layer, also after a restore",
  // The filter the restorer put back is Amber's again for the next snapshot.
  (s) => s.cycles([prog("raw_pid_calls"), s.dir], "raw-pid-calls"),
);

scenarioTest(
  "raw fcntl and ioctl owners of SIGIO, SO_PEERCRED, capget, capset and a timer aimed at a thread are translated, also after a restore",
  (s) => s.cycles([prog("raw_owner_calls"), s.dir], "raw-owner-calls"),
);

scenarioTest(
  "raw fork, vfork, clone and clone3 give virtual pids; rt_sigtimedwait, six-argument calls and /proc/<pid> paths are translated, also after a restore",
  (s) => s.cycles([prog("raw_clone_calls"), s.dir], "raw-clone-calls"),
);

scenarioTest(
  "a program's own seccomp filter gets its own SIGSYS, and a snapshot refuses it by name",
  async (s) => {
    const app = await s.launch([prog("own_filter"), s.dir], "own-filter");
    await s.waitFor(/^ready$/m);
    await refusedRunsOn(
      s,
      app,
      /it runs under a seccomp filter of its own, which Amber cannot save/,
    );
    await s.pass();
  },
);

scenarioTest("the layer is on by default as root, and off when asked", async (s) => {
  for (const seccomp of [undefined, "off"] as const) {
    const app = await s.launch([prog("raw_getpid")], "raw-getpid", { seccomp });
    assert.deepEqual(await app.wait(), { code: 0 });
  }
  const lines = [...(await s.text()).matchAll(/^libc (\d+) raw (\d+)$/gm)];
  assert.equal(lines.length, 2, await s.text());
  assert.equal(lines[0][2], lines[0][1], "with the layer on, a raw getpid is the virtual pid");
  assert.ok(Number(lines[1][2]) < 4200000, "with --seccomp off, a raw getpid is the system pid");
  assert.ok(Number(lines[1][1]) >= 4200000);
});

scenarioTest(
  "with the layer on, a statically linked program is not run (it would be ended), and it runs with the layer off",
  async (s) => {
    const source = `${s.dir}/static.c`;
    const program = `${s.dir}/static_prog`;
    await Deno.writeTextFile(
      source,
      '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("static %d\\n", getpid()); return 0; }\n',
    );
    const gcc = await new Deno.Command("gcc", { args: ["-static", "-o", program, source] })
      .output();
    assert.ok(gcc.success, new TextDecoder().decode(gcc.stderr));
    const script = `${program}; echo "exec status $?"`;
    for (const seccomp of [undefined, "off"] as const) {
      const app = await s.launch(["/bin/sh", "-c", script], "static", { seccomp });
      assert.deepEqual(await app.wait(), { code: 0 });
    }
    const text = await s.text();
    assert.match(text, /amber: cannot run .*static_prog: it is statically linked/);
    assert.match(text, /exec status 126/, "the shell was told it cannot run it");
    assert.match(text, /static \d+\nexec status 0/, "with the layer off it runs");
    assert.doesNotMatch(text, /Bad system call/);
  },
);

scenarioTest(
  "with the layer on, the dynamic loader runs as a program: ldd lists a program's libraries, and a program started through the loader has its virtual pid",
  async (s) => {
    const script = `ldd /bin/ls; echo "ldd status $?"; ` +
      `/lib64/ld-linux-x86-64.so.2 /bin/sh -c 'echo "pid $$ parent $PPID"'`;
    const app = await s.launch(["/bin/sh", "-c", script], "loader");
    assert.deepEqual(await app.wait(), { code: 0 }, await s.text());
    const text = await s.text();
    assert.match(text, /libc\.so\.6 => \S+libc\.so\.6/);
    assert.match(text, /^ldd status 0$/m);
    const [, pid, parent] = /^pid (\d+) parent (\d+)$/m.exec(text) ?? [];
    assert.ok(Number(pid) >= 4200000 && Number(parent) >= 4200000, text);
    assert.doesNotMatch(text, /statically linked|Exec format error/);
  },
);

scenarioTest(
  "a raw read of a signalfd gives ssi_pid virtual, and a handler set with a raw rt_sigaction gets si_pid virtual, also after a restore",
  (s) => s.cycles([prog("raw_signal_info"), s.dir], "raw-signal-info"),
);

scenarioTest(
  "a raw clone of a thread without CLONE_SETTLS gives a virtual tid, in its words and its own gettid, that a raw tgkill reaches, through a live snapshot and two restores",
  (s) => s.cycles([prog("raw_thread_clone"), s.dir], "raw-thread-clone"),
);

scenarioTest(
  "a raw thread without CLONE_SETTLS that leads the snapshots (its creator blocks every signal) keeps its virtual tid through a live snapshot and two restores",
  (s) => s.cycles([prog("raw_thread_clone"), s.dir, "raw-leads"], "raw-thread-leads"),
);

scenarioTest(
  "a raw thread without CLONE_SETTLS that blocks every signal is seized by the snapshots and keeps its virtual tid through a live snapshot and two restores",
  (s) => s.cycles([prog("raw_thread_clone"), s.dir, "raw-deaf"], "raw-thread-deaf"),
);

scenarioTest(
  "a raw clone with CLONE_VM gives a virtual pid; a snapshot refuses the two processes sharing memory by name, and takes the application once the child is gone",
  async (s) => {
    const app = await s.launch([prog("raw_clone_vm"), s.dir], "raw-clone-vm");
    await s.waitFor(/^shared$/m);
    await refusedRunsOn(
      s,
      app,
      /processes \d+ and \d+ share one address space \(a clone with CLONE_VM/,
    );
    await Deno.writeTextFile(`${s.dir}/unshare`, "");
    await s.waitFor(/^ready$/m);
    const once = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(once, "second"));
    await s.pass();
  },
);

scenarioTest(
  "SysV IPC calls through libc, syscall() and raw give virtual object IDs and pids and act on the object named, also after a restore",
  (s) => s.cycles([prog("raw_sysv_calls"), s.dir], "raw-sysv-calls"),
);

scenarioTest(
  "ptrace, PR_SET_PTRACER and fanotify reads through libc, syscall() and raw name and report processes by virtual pid, also after a restore",
  (s) => s.cycles([prog("raw_trace_calls"), s.dir], "raw-trace-calls"),
);

scenarioTest(
  "a PI futex held by a raw FUTEX_LOCK_PI is refused by name at a snapshot; once it is let go the application is saved and restored, and raw PI calls keep the kernel's meaning",
  async (s) => {
    const app = await s.launch([prog("raw_pi_futex"), s.dir], "raw-pi-futex");
    await s.waitFor(/^held$/m);
    await refusedRunsOn(
      s,
      app,
      /the PI futex at 0x[0-9a-f]+ \(FUTEX_LOCK_PI from the program's own code\) is held by thread \d+/,
    );
    await Deno.writeTextFile(`${s.dir}/unlock`, "");
    await s.waitFor(/^ready$/m);
    const once = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(once, "second"));
    await s.pass();
  },
);

scenarioTest(
  "SCM_CREDENTIALS pids of raw sendmsg, recvmsg, sendmmsg and recvmmsg (and through syscall()) are virtual once the program turns SO_PASSCRED on, in a fork's child and an exec'd program too, with two filters at most, also after a restore; a process that never asks keeps one filter",
  (s) => s.cycles([prog("raw_creds"), s.dir], "raw-creds"),
);

scenarioTest(
  "set_tid_address made raw and through syscall() returns the virtual tid, and the word it names (also a seized thread's) is the one the kernel clears at the thread's end after two restores",
  (s) => s.cycles([prog("raw_tid_address"), s.dir], "raw-tid-address"),
);

scenarioTest(
  "SCM_CREDENTIALS naming the sender's own virtual pid, sent raw (sendmsg, sendmmsg), through syscall() and libc from read-only memory by a process that never turned SO_PASSCRED on, reach the receiver as that pid, after a restore and a second",
  (s) => s.checkedCycles([prog("creds_send"), s.dir], "creds-send"),
);

scenarioTest(
  "raw getpid, gettid, getppid, kill and /proc/<pid> from a shared library linked in and one dlopen'd see virtual ids, after a restore and a second",
  (s) => s.checkedCycles([prog("shared_lib_calls"), s.dir], "shared-lib-calls"),
);

scenarioTest(
  "a program exec'd inside the application whose libraries' constructors start a thread, block signals and set an action (trapped before Amber's library is set up) runs, and its libraries' raw calls see virtual ids, after a restore and a second",
  (s) => s.checkedCycles([prog("shared_lib_calls"), s.dir, "exec-self"], "exec-ctor"),
);

scenarioTest(
  "a program exec'd with libjemalloc preloaded (initial-exec thread-local data, which the audit library leaves room for) runs under Amber",
  async (s) => {
    const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
    assert.ok(
      await Deno.stat(jemalloc).catch(() => null),
      `${jemalloc} is missing: make deps installs it (libjemalloc2, with redis-server)`,
    );
    const script = `LD_PRELOAD=${jemalloc} python3 -c 'print("jemalloc", 6 * 7)'`;
    const app = await s.launch(["/bin/sh", "-c", script], "jemalloc");
    assert.deepEqual(await app.wait(), { code: 0 }, await s.text());
    assert.match(await s.text(), /^jemalloc 42$/m);
  },
);
