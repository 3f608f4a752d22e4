/**
 * `amber check` and `check()`: the features they report are the ones this machine has, as
 * seen independently here (the kernel's own files, a Python probe of soft-dirty bits, the
 * CPU's flags); `--json` parses with the report's schema; a missing required part makes it
 * exit 1 naming it.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { check } from "../mod.ts";
import { CheckReportSchema } from "../src/check.ts";
import { amberFresh, CLI, run } from "./cli_run.ts";

const BUILD = fileURLToPath(new URL("../build", import.meta.url));

function present(id: string): boolean {
  const feature = check().features.find((f) => f.id === id);
  assert.ok(feature, `no feature '${id}'`);
  return feature.present;
}

/** Whether a page Python writes shows its soft-dirty bit (always 0 without the kernel option). */
async function softDirtyHere(): Promise<boolean> {
  const script = "import mmap,struct,ctypes\n" +
    "m=mmap.mmap(-1,4096); m[0]=1\n" +
    "a=ctypes.addressof(ctypes.c_char.from_buffer(m))\n" +
    "f=open('/proc/self/pagemap','rb'); f.seek(a//4096*8)\n" +
    "print((struct.unpack('Q',f.read(8))[0]>>55)&1)\n";
  const { code, stdout } = await run("python3", ["-c", script]);
  assert.equal(code, 0);
  return stdout.trim() === "1";
}

/** Whether this process has capability `bit` in its effective set. */
async function hasCapability(bit: number): Promise<boolean> {
  const status = await Deno.readTextFile("/proc/self/status");
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0";
  return ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
}

Deno.test("check() reports the features this machine has", async () => {
  const report = check();
  assert.equal(report.ok, true, JSON.stringify(report.missing));
  assert.deepEqual(report.missing, []);
  assert.equal(report.kernel, Deno.osRelease());
  const [major, minor] = Deno.osRelease().split(".").map(Number);
  assert.equal(present("pagemapScan"), major > 6 || (major === 6 && minor >= 7), "PAGEMAP_SCAN");
  assert.equal(present("softDirty"), await softDirtyHere(), "soft-dirty");
  // Async write-protect and PAGEMAP_SCAN came in 6.7; a userfaultfd is allowed to root.
  assert.equal(present("dirtyTracking"), present("pagemapScan"), "dirty-page tracking");
  assert.equal(present("tcpRepair"), await hasCapability(12), "TCP_REPAIR needs CAP_NET_ADMIN");
  const cpu = await Deno.readTextFile("/proc/cpuinfo");
  const xsave = report.features.find((f) => f.id === "xsave")!;
  assert.equal(/ avx512f /.test(cpu), /AVX-512 yes/.test(xsave.detail), xsave.detail);
  const maps = await Deno.readTextFile("/proc/self/maps");
  const vdso = /^([0-9a-f]+)-([0-9a-f]+) .*\[vdso\]$/m.exec(maps);
  assert.ok(vdso);
  const size = parseInt(vdso[2], 16) - parseInt(vdso[1], 16);
  assert.match(report.features.find((f) => f.id === "vdso")!.detail, new RegExp(`vDSO ${size} `));
  const scope = await Deno.readTextFile("/proc/sys/kernel/yama/ptrace_scope").catch(() => "");
  const ptrace = report.features.find((f) => f.id === "ptrace")!;
  assert.match(ptrace.detail, scope ? new RegExp(`ptrace_scope ${scope.trim()}`) : /no Yama/);
  const audit = report.features.find((f) => f.id === "auditLibrary")!;
  assert.ok(audit.present, audit.detail);
  assert.match(audit.detail, /loaded at 0x6/);
  if (await hasCapability(0 /* CAP_CHOWN: root */)) {
    assert.equal(present("userfaultfd"), true, "root may use /dev/userfaultfd");
    assert.equal(present("ptrace"), true, "root may seize its child");
  }
});

Deno.test("amber check and --json: exit 0 here, a report of the schema", async () => {
  const words = await amberFresh("check");
  assert.equal(words.code, 0, words.stderr);
  assert.match(words.stdout, /^yes +PAGEMAP_SCAN ioctl|^no +PAGEMAP_SCAN ioctl/m);
  assert.match(words.stdout, /^Amber can work on this computer\.$/m);
  const json = await amberFresh("check", "--json");
  assert.equal(json.code, 0, json.stderr);
  const report = CheckReportSchema.parse(JSON.parse(json.stdout));
  assert.deepEqual(
    report.features.map((f) => [f.id, f.present]),
    check().features.map((f) => [f.id, f.present]),
  );
});

Deno.test("amber check without the helper programs exits 1 naming them", async () => {
  const empty = await Deno.makeTempDir({ prefix: "amber-check-" });
  try {
    const env = { AMBER_BUILD_DIR: empty, AMBER_LIB_DIR: BUILD, AMBER_STATE_DIR: empty };
    const words = await run(Deno.execPath(), ["run", "-A", "--quiet", CLI, "check"], env);
    assert.equal(words.code, 1);
    assert.match(words.stdout, /^MISSING +Amber's helper programs/m);
    assert.match(words.stderr, /Amber cannot work on this computer: missing Amber's helper/);
    const json = await run(Deno.execPath(), ["run", "-A", "--quiet", CLI, "check", "--json"], env);
    assert.equal(json.code, 1);
    const report = CheckReportSchema.parse(JSON.parse(json.stdout));
    assert.deepEqual([report.ok, report.missing], [false, ["helpers"]]);
    assert.match(JSON.parse(json.stderr).error.message, /missing Amber's helper programs/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
