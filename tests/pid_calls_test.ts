/**
 * Calls that name a process (priorities, scheduling, affinity, limits, capabilities, I/O
 * priorities, kcmp, pidfds, another process's memory, robust lists, queued signals, descriptor
 * owners; clone's children, waitid, socket credentials) take and give virtual pids, through
 * libc and through syscall(), and still act on the right processes after a restore gives them
 * new system pids. Each program checks every call before the snapshot and again after.
 */

import assert from "node:assert/strict";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "calls that name a process act on the process named by its virtual pid, also after a restore",
  async (s) => {
    await s.roundTrip([prog("pid_calls"), s.dir], "pid-calls");
  },
);

scenarioTest("setpriv changes capabilities under Amber", async (s) => {
  const app = await s.launch(
    [
      "setpriv",
      "--inh-caps=-all",
      "--bounding-set=-net_raw",
      "grep",
      "CapBnd",
      "/proc/self/status",
    ],
    "setpriv",
  );
  assert.deepEqual(await app.wait(), { code: 0 }, await s.text());
  const bounding = BigInt("0x" + (await s.text()).match(/CapBnd:\s*([0-9a-f]+)/)![1]);
  assert.equal(bounding & (1n << 13n), 0n, "CAP_NET_RAW (13) is still in the bounding set");
});

scenarioTest(
  "waitid, clone's children and socket credentials name processes by virtual pids, also after a restore",
  async (s) => {
    await s.roundTrip([prog("pid_children"), s.dir], "pid-children");
  },
);

scenarioTest(
  "python3 names itself by its virtual pid (calls and /proc/<pid> paths), also after a restore",
  async (s) => {
    const script = new URL("./progs/py_pid_calls.py", import.meta.url).pathname;
    await s.roundTrip(["python3", script, s.dir], "py-pid-calls");
  },
);

scenarioTest(
  "a snapshot refuses a descriptor whose SIGIO goes to a process outside the application",
  async (s) => {
    const app = await s.launch([prog("owner_outside"), s.dir, String(Deno.pid)], "outside");
    await s.waitFor(/^ready$/m);
    await assert.rejects(
      app.snapshot({ dir: `${s.dir}/never.amber`, stop: true }),
      new RegExp(`descriptor 3 .*SIGIO to process ${Deno.pid}, which is outside the application`),
    );
    const ticks = [...(await s.text()).matchAll(/^tick \d+$/gm)].length;
    await s.waitFor(new RegExp(`^tick ${ticks + 3}$`, "m"), "more ticks after the refusal");
    await s.pass();
  },
);

scenarioTest(
  "a sendmsg with SCM_CREDENTIALS and a large control message, cancelled while it blocks, leaves no copy behind",
  async (s) => {
    const app = await s.launch([prog("cancel_creds")], "cancel-creds");
    assert.deepEqual(await app.wait(), { code: 0 }, await s.text());
    await s.pass();
  },
);

scenarioTest(
  "a process outside the application reads its own system pid in /proc/<pid>/stat and status, so pkill -f of it inside is refused (ESRCH) instead of signalling pid 0, the caller's own group",
  async (s) => {
    const seconds = `${9000 + Math.floor(Math.random() * 900)}.5`;
    const outside = new Deno.Command("sleep", { args: [seconds] }).spawn();
    try {
      const pattern = `sleep ${seconds.slice(0, -1)}[5]`; // not its own command line
      const script = `cut -d' ' -f1 /proc/${outside.pid}/stat; ` +
        `grep '^Pid:' /proc/${outside.pid}/status; ` +
        `pkill -f '${pattern}'; echo "pkill status $?"; echo "still here"`;
      const app = await s.launch(["/bin/sh", "-c", script], "outside");
      assert.deepEqual(await app.wait(), { code: 0 }, await s.text());
      const text = await s.text();
      assert.match(text, new RegExp(`^${outside.pid}\\nPid:\\t${outside.pid}$`, "m"), text);
      assert.match(text, /^pkill status 1\nstill here$/m, text);
      Deno.kill(outside.pid, "SIGCONT"); // it runs on: a signal reaches it
    } finally {
      outside.kill("SIGKILL");
      await outside.status;
    }
  },
);
