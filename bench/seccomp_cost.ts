/**
 * The seccomp layer's cost per call (docs/seccomp.md): bench/progs/raw_call_cost.c runs plain,
 * under Amber with the layer off (`seccomp: "off"`) and with it on, and this prints
 * nanoseconds per call (minimum of rounds) for each. A call the filter does not watch (read)
 * pays only the filter's run; a trapped raw call pays a SIGSYS round trip and its translation.
 * Below it, the floors timed plain: a SIGSYS to an empty handler, and a seccomp user
 * notification answered by a supervisor thread, with a value or with CONTINUE. With the layer
 * on, two columns: every trapped call trapping (`AMBER_SYSCALL_REWRITE=off`), and the default,
 * where a raw call's site that trapped once is rewritten to call the translation without a
 * signal (the program's sites of raw getppid, kill and the Go-shaped stub are; the raw openat's,
 * which loads a RIP-relative address just before its syscall, is not).
 *
 * Run: `make bench`, or `deno run -A bench/seccomp_cost.ts`.
 */

import { join } from "node:path";
import { amberOutput, BENCH, plainOutput } from "./figures.ts";

const PROG = join(BENCH, "raw_call_cost");

/** Per call: the minimum over rounds, the steadiest figure on a shared computer. */
type Figures = Map<string, number>;

function parse(text: string): Figures {
  return new Map(
    [...text.matchAll(/^(\w+) ([\d.]+) ([\d.]+)$/gm)].map((m) => [m[1], Number(m[3])]),
  );
}

async function plain(): Promise<Figures> {
  return parse(await plainOutput(PROG));
}

async function underAmber(layer: "on" | "off", rewrite = true): Promise<Figures> {
  return parse(await amberOutput(PROG, { seccomp: layer }, rewrite ? [] : ["rewrite-off"]));
}

await plain(); // warm up
const base = await plain();
const off = await underAmber("off");
const trapping = await underAmber("on", false);
const on = await underAmber("on");
console.log(
  "call              plain ns   Amber, layer off   layer on, traps only   layer on, rewritten   added by the layer",
);
const FLOORS = [
  "getuid_plain",
  "getuid_amber_filter",
  "read_plain",
  "read_amber_filter",
  "sigsys_empty",
  "notify_answer",
  "notify_continue",
];
for (const [name, p] of base) {
  if (FLOORS.includes(name)) continue;
  const a = off.get(name) ?? NaN, t = trapping.get(name) ?? NaN, b = on.get(name) ?? NaN;
  console.log(
    [
      name.padEnd(16),
      p.toFixed(1).padStart(8),
      a.toFixed(1).padStart(18),
      t.toFixed(1).padStart(22),
      b.toFixed(1).padStart(20),
      (b - a).toFixed(1).padStart(20),
    ].join("  "),
  );
}

// What any kernel-side layer pays, timed plain with a one-call filter on getppid (trap_floor.h):
// beside the plain getppid, Amber's trapped one and a SIGSYS or a notification round trip.
const getppid = base.get("raw_getppid") ?? NaN;
console.log("\nraw getppid, one call filtered         ns   over the plain call");
const floor = (label: string, ns: number) =>
  console.log(
    `${label.padEnd(36)} ${ns.toFixed(0).padStart(6)}  ${(ns - getppid).toFixed(0).padStart(18)}`,
  );
floor("plain (no filter)", getppid);
floor("SIGSYS to an empty handler", base.get("sigsys_empty") ?? NaN);
floor("Amber's layer (SIGSYS, translated)", trapping.get("raw_getppid") ?? NaN);
floor("Amber's layer, the site rewritten", on.get("raw_getppid") ?? NaN);
floor("notification, answered", base.get("notify_answer") ?? NaN);
floor("notification, CONTINUE", base.get("notify_continue") ?? NaN);

// The filter alone (no library), on a call it does not watch: the kernel's seccomp entry and
// the compares.
const uid = base.get("getuid_plain") ?? NaN, filtered = base.get("getuid_amber_filter") ?? NaN;
console.log(
  `\nraw getuid (not watched): ${uid.toFixed(0)} ns plain, ${
    filtered.toFixed(0)
  } ns under Amber's filter alone (+${(filtered - uid).toFixed(0)})`,
);
const read = base.get("read_plain") ?? NaN, readFiltered = base.get("read_amber_filter") ?? NaN;
console.log(
  `raw read of /dev/zero (watched, below the signalfd window): ${read.toFixed(0)} ns plain, ${
    readFiltered.toFixed(0)
  } ns under Amber's filter alone (+${(readFiltered - read).toFixed(0)})`,
);

// The second filter (SCM_CREDENTIALS, docs/seccomp.md): only a process that turned SO_PASSCRED on
// has it. Before, a raw sendmsg and recvmsg pass in the kernel as any unwatched call; after, they
// trap (or go through a rewritten site); other calls stay in the kernel's cache of calls no
// filter needs to run for (raw getuid).
const row = (f: Figures, name: string) => (f.get(name) ?? NaN).toFixed(0);
const columns = [["plain", base], ["layer off", off], ["traps only", trapping], ["rewritten", on]];
for (const [label, f] of columns as [string, Figures][]) {
  console.log(
    `${label.padEnd(11)} raw sendmsg + recvmsg ${row(f, "raw_sendrecv")} ns, after SO_PASSCRED ${
      row(f, "raw_sendrecv_creds")
    } ns; raw getuid ${row(f, "raw_getuid")} ns, after ${row(f, "raw_getuid_creds")} ns`,
  );
}

// A raw sendmsg from the program's own code traps under the layer whatever it carries (a filter
// cannot read the message): its SCM_CREDENTIALS may name the sender's virtual pid, sent from a
// translated copy. From a Go-shaped site, rewritten after its first trap; drained by libc's recv.
for (const [label, f] of columns as [string, Figures][]) {
  console.log(
    `${label.padEnd(11)} raw sendmsg + recv ${row(f, "raw_sendmsg")} ns, with SCM_CREDENTIALS ${
      row(f, "raw_sendmsg_creds")
    } ns`,
  );
}
