/**
 * Rewritten syscall sites (docs/seccomp.md): a raw system call site of the program that trapped
 * once jumps from then on to a trampoline that translates the call in the library without a
 * signal. Sites shaped like Go's stubs are rewritten, keep their virtual ids and the program's
 * registers, and stay rewritten through snapshots and restores; AMBER_SYSCALL_REWRITE=off keeps
 * every site on the trap. A Go program's own stubs (rawSyscallNoError, Syscall6) are rewritten
 * and stay so in the restored process. A thread blocked in a wait4 made through a rewritten site
 * is inside the rewritten path at every snapshot and comes back out of it restored; threads that
 * end free their stacks for it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { App } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

const LIMIT_MS = 90_000;

scenarioTest(
  "rewritten syscall sites translate their calls without a signal, before and after restores",
  (s) => s.cycles([prog("rewrite_sites"), s.dir], "rewrite"),
  LIMIT_MS,
);

scenarioTest(
  "a program with rewritten sites snapshots incrementally (its trampolines tracked for writes) and restores",
  async (s) => {
    const app = await s.launch([prog("rewrite_sites"), s.dir], "rewrite-parent");
    await s.waitFor(/^ready$/m, "ready");
    const base = await app.snapshot({ dir: join(s.dir, "base.amber") });
    const next = await app.snapshot({ dir: join(s.dir, "next.amber"), parent: base, stop: true });
    await s.restore(next);
    await s.pass();
  },
  LIMIT_MS,
);

scenarioTest(
  "with AMBER_SYSCALL_REWRITE=off no site is rewritten and the trapped calls are translated",
  async (s) => {
    await s.roundTrip([prog("rewrite_sites"), s.dir, "off"], "rewrite-off");
  },
  LIMIT_MS,
);

/** Where each named function of the program starts, from its symbol table. */
async function symbols(program: string, names: string[]): Promise<Map<string, bigint>> {
  const nm = await new Deno.Command("nm", { args: [program], stdout: "piped" }).output();
  assert.ok(nm.success, `nm ${program}`);
  const found = new Map<string, bigint>();
  for (const line of new TextDecoder().decode(nm.stdout).split("\n")) {
    const [address, , name] = line.split(" ");
    if (names.includes(name)) found.set(name, BigInt(`0x${address}`));
  }
  assert.equal(found.size, names.length, `symbols ${names} in ${program}`);
  return found;
}

/** The 48 bytes at `at` of the app's process, in hex, if its first syscall instruction there
 * does not come right after a jmp that took the place of the instruction before it (`before`
 * bytes long); "" if it does. */
async function notRewritten(app: App, at: bigint, before: number): Promise<string> {
  const [{ pid }] = app.processes();
  using mem = await Deno.open(`/proc/${pid}/mem`);
  await mem.seek(at, Deno.SeekMode.Start);
  const code = new Uint8Array(48);
  assert.equal(await mem.read(code), 48);
  const site = code.findIndex((b, i) => b === 0x0f && code[i + 1] === 0x05);
  assert.ok(site >= before, `no syscall in the code at 0x${at.toString(16)}`);
  if (code[site - before] === 0xe9) return "";
  return `process ${pid}: ${[...code].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`;
}

scenarioTest(
  "a Go program's syscall stubs are rewritten and stay so after restores, its calls keeping virtual pids",
  async (s) => {
    const program = prog("go_rewrite");
    const stubs = await symbols(program, [
      "syscall.rawSyscallNoError.abi0", // mov 8(%rsp), %rax; syscall
      "runtime/internal/syscall.Syscall6", // mov %rbx, %rdi; syscall
    ]);
    const check = async (app: App, phase: string) => {
      const raw = stubs.get("syscall.rawSyscallNoError.abi0")!;
      const six = stubs.get("runtime/internal/syscall.Syscall6")!;
      assert.equal(await notRewritten(app, raw, 5), "", `${phase}: rawSyscallNoError`);
      assert.equal(await notRewritten(app, six, 3), "", `${phase}: Syscall6`);
    };
    const app = await s.launch([program, s.dir], "go-rewrite");
    await s.waitFor(/^ready$/m, "ready");
    await check(app, "before");
    await app.snapshot({ dir: join(s.dir, "live.amber") });
    const once = await s.restore(await s.freeze(app, "first"));
    await check(once, "restored");
    const twice = await s.restore(await s.freeze(once, "second"));
    await check(twice, "restored twice");
    await s.pass();
  },
  LIMIT_MS,
);
