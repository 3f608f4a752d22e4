/**
 * {@linkcode check}: which kernel and CPU features Amber relies on this computer has, each
 * tried for real (`csrc/control/ctl_check.c`), what Amber uses it for, and whether Amber can
 * work without it.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { probeKernel, type Probes } from "../ffi/check.ts";
import { machineInfo, xcr0Bits } from "../ffi/control.ts";
import { Errno, errnoDescription, errnoName } from "../ffi/errno.ts";
import { features } from "./image.ts";
import { join } from "node:path";
import { buildDir, restorerPath, supervisorPath } from "./paths.ts";

/** One feature as {@linkcode check} found it. */
export interface Feature {
  /** A short stable id, as `pagemapScan`. */
  id: string;
  /** What it is, in words. */
  name: string;
  /** Whether it works here. */
  present: boolean;
  /** Whether Amber cannot work without it (else only what `usedFor` says is lost). */
  required: boolean;
  /** What Amber uses it for. */
  usedFor: string;
  /** What was found: sizes, settings, or why it failed. */
  detail: string;
}

/** What {@linkcode check} reports. */
export interface CheckReport {
  /** Whether Amber can work on this computer: every required feature is there. */
  ok: boolean;
  /** The kernel's release. */
  kernel: string;
  /** Every feature, in a fixed order. */
  features: Feature[];
  /** The ids of the required features that are missing. */
  missing: string[];
}

const FeatureSchema = z.object({
  id: z.string(),
  name: z.string(),
  present: z.boolean(),
  required: z.boolean(),
  usedFor: z.string(),
  detail: z.string(),
});

/** The shape of a {@linkcode CheckReport}, as `amber check --json` prints it. */
export const CheckReportSchema: z.ZodType<CheckReport> = z.object({
  ok: z.boolean(),
  kernel: z.string(),
  features: z.array(FeatureSchema),
  missing: z.array(z.string()),
});

/** Why a probe failed, in words. */
function failure(errno: number): string {
  return `${errnoName(errno)}: ${errnoDescription(errno)}`;
}

function outcome(errno: number, ok: string, notThere: string): string {
  if (errno === 0) return ok;
  const absent: number[] = [Errno.EINVAL, Errno.ENOTTY, Errno.ENOSYS, Errno.EOPNOTSUPP];
  if (absent.includes(errno)) return `${notThere} (${errnoName(errno)})`;
  return `refused: ${failure(errno)}`;
}

const SCOPES = [
  "0 (any process of the same user)",
  "1 (descendants only)",
  "2 (CAP_SYS_PTRACE only)",
  "3 (no ptrace at all)",
];

const CAP_SYS_PTRACE = 19;

/** Whether this process has capability `bit` in its effective set. */
function capable(bit: number): boolean {
  const status = Deno.readTextFileSync("/proc/self/status");
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0";
  return ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
}

function helpersBuilt(): string | null {
  try {
    supervisorPath();
    restorerPath();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Where the seccomp filter sees the program's own code (AMBER_SECCOMP_LIBS_FROM). */
const FILTER_LINE = 0x700000000000;

/**
 * Whether the loader runs Amber's audit library (LD_AUDIT) and it maps a library below the
 * filter's line: `cat /proc/self/maps` with the audit library also preloaded as an ordinary one.
 */
function auditLibrary(): { present: boolean; detail: string } {
  let path;
  try {
    path = join(buildDir(), "libamber-audit.so");
  } catch (error) {
    return { present: false, detail: error instanceof Error ? error.message : String(error) };
  }
  const out = new Deno.Command("/bin/cat", {
    args: ["/proc/self/maps"],
    env: { LD_AUDIT: path, LD_PRELOAD: path },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const said = new TextDecoder().decode(out.stderr).trim();
  if (!out.success || said) return { present: false, detail: said || `cat exited ${out.code}` };
  const maps = new TextDecoder().decode(out.stdout);
  const at = maps.split("\n").find((line) => line.endsWith("/libamber-audit.so"))?.split("-")[0];
  if (!at) return { present: false, detail: "the loader did not map it" };
  const below = parseInt(at, 16) < FILTER_LINE;
  return {
    present: below,
    detail: below
      ? `the loader runs it; a library loaded at 0x${at}, below the line`
      : `a library loaded at 0x${at}, above the line (legacy address layout?)`,
  };
}

function findFeatures(p: Probes): Feature[] {
  const machine = machineInfo();
  const xcr0 = xcr0Bits(machine.xcr0);
  const scope = p.ptraceScope < 0 ? "no Yama LSM" : `Yama ptrace_scope ${SCOPES[p.ptraceScope]}`;
  const uffdSetting = p.unprivilegedUserfaultfd < 0
    ? "no vm.unprivileged_userfaultfd"
    : `vm.unprivileged_userfaultfd=${p.unprivilegedUserfaultfd}`;
  const helpers = helpersBuilt();
  const { probes } = p;
  return [
    {
      id: "helpers",
      name: "Amber's helper programs (amber-supervisor, amber-restorer)",
      present: helpers === null,
      required: true,
      usedFor: "every application: its supervisor; every restore",
      detail: helpers ?? "built",
    },
    {
      id: "vdso",
      name: "vDSO layout",
      present: p.vdso && machine.vdsoSize > 0,
      required: true,
      usedFor: "restores: a restored process keeps this kernel's vDSO; images record its hash",
      detail: p.vdso
        ? `vDSO ${machine.vdsoSize} bytes, vvar ${machine.vvarSize} bytes, hash ` +
          `${machine.vdsoHash}, kernel ${machine.kernel}`
        : "no vDSO mapped in this process",
    },
    {
      id: "xsave",
      name: "CPU state saved with XSAVE (CPU features)",
      present: p.osxsave && p.xsaveSize > 0,
      required: true,
      usedFor: "registers and CPU state of every thread; images restore only where XCR0 matches",
      detail: `XSAVE area ${p.xsaveSize} bytes, XCR0 0x${xcr0.toString(16)}: ` +
        `${features(xcr0).join(", ") || "none"}; AVX-512 ${p.avx512f ? "yes" : "no"}; ` +
        `signal frames need ${p.minSigStack} bytes`,
    },
    {
      id: "pagemap",
      name: "/proc/PID/pagemap",
      present: probes.pagemap === 0,
      required: true,
      usedFor: "snapshots: which pages hold data",
      detail: outcome(probes.pagemap, "readable", "not readable"),
    },
    {
      id: "pagemapScan",
      name: "PAGEMAP_SCAN ioctl",
      present: probes.pagemapScan === 0,
      required: false,
      usedFor: "fast snapshots of large sparse memory (without it pagemap is read page by page)",
      detail: outcome(probes.pagemapScan, "works", "this kernel has none (Linux 6.7 added it)"),
    },
    {
      id: "ptrace",
      name: "ptrace (PTRACE_SEIZE)",
      // Amber's coordinator is not the application's ancestor: above scope 0 it needs
      // CAP_SYS_PTRACE to seize a thread.
      present: probes.ptrace === 0 && (p.ptraceScope <= 0 || capable(CAP_SYS_PTRACE)),
      required: false,
      usedFor: "stopping threads that block every signal (Go runtimes) for a snapshot",
      detail: `${outcome(probes.ptrace, "seizes a child", "not available")}; ${scope}` +
        (p.ptraceScope > 0
          ? capable(CAP_SYS_PTRACE) ? "; CAP_SYS_PTRACE held" : "; no CAP_SYS_PTRACE"
          : ""),
    },
    {
      id: "seccompFilter",
      name: "seccomp filters",
      present: probes.seccompFilter === 0,
      required: false,
      usedFor: "the kernel-side layer: system calls made without libc",
      detail: outcome(probes.seccompFilter, "a filter installs", "this kernel has none"),
    },
    {
      id: "auditLibrary",
      name: "Amber's audit library (LD_AUDIT)",
      ...auditLibrary(),
      required: false,
      usedFor: "the kernel-side layer: a shared library's own system calls (its code mapped " +
        "below the filter's line), and the filter's traps in an exec'd program before Amber's " +
        "library is set up",
    },
    {
      id: "seccompUserNotif",
      name: "seccomp user notification",
      present: probes.seccompUserNotif === 0,
      required: false,
      usedFor: "the kernel-side layer: system calls answered by the supervisor",
      detail: outcome(probes.seccompUserNotif, "a listener is made", "this kernel has none"),
    },
    {
      id: "userfaultfd",
      name: "userfaultfd",
      present: probes.userfaultfd === 0 || probes.userfaultfdDev === 0,
      required: false,
      usedFor: "page faults served from an image (lazy restores map the image today)",
      detail: `system call: ${outcome(probes.userfaultfd, "works", "none")}; ` +
        `/dev/userfaultfd: ${outcome(probes.userfaultfdDev, "works", "none")}; ${uffdSetting}`,
    },
    {
      id: "tcpRepair",
      name: "TCP_REPAIR (CAP_NET_ADMIN)",
      present: probes.tcpRepair === 0,
      required: false,
      usedFor: "--tcp-established: keeping established TCP connections (else they come back reset)",
      detail: outcome(probes.tcpRepair, "allowed", "this kernel has none"),
    },
    {
      id: "dirtyTracking",
      name: "userfaultfd async write-protect with PAGEMAP_SCAN",
      present: probes.dirtyTracking === 0,
      required: false,
      usedFor: "incremental snapshots: which pages were written since the parent image, " +
        "without reading them (else every page is hashed and compared)",
      detail: outcome(
        probes.dirtyTracking,
        "a written page is reported: incremental snapshots track written pages",
        "not available (Linux 6.7 added it): incremental snapshots hash every page",
      ),
    },
    {
      id: "softDirty",
      name: "soft-dirty page bits",
      present: probes.softDirty === 0,
      required: false,
      usedFor: "telling written pages apart (incremental snapshots compare page hashes instead)",
      detail: outcome(
        probes.softDirty,
        "cleared and set again",
        "this kernel has none (CONFIG_MEM_SOFT_DIRTY)",
      ),
    },
  ];
}

/**
 * Tries, on this computer, every kernel and CPU feature Amber relies on: it installs a seccomp
 * filter and a user-notification listener in a child process, seizes a child with ptrace,
 * scans its own pagemap, clears soft-dirty bits in a child, makes a userfaultfd, puts a socket
 * into TCP repair mode, and reads the vDSO and the CPU's XSAVE layout. `ok` says whether Amber
 * can work here; the optional features only lose what their `usedFor` says.
 *
 * @example Preflight before launching
 * ```ts
 * import { check } from "@amber/amber";
 *
 * const report = check();
 * for (const f of report.features) console.log(f.present ? "yes" : "no ", f.name, f.detail);
 * if (!report.ok) console.log("missing:", report.missing.join(", "));
 * ```
 */
export function check(): CheckReport {
  const probes = probeKernel();
  const list = findFeatures(probes);
  const missing = list.filter((f) => f.required && !f.present).map((f) => f.id);
  return { ok: missing.length === 0, kernel: machineInfo().kernel, features: list, missing };
}
