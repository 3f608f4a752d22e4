/**
 * `amber inspect DIR [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import type { ImageReport, ProcessDetails } from "../../mod.ts";
import { fdsOf, locksOf, regionsOf } from "../process_details.ts";
import { columns, formatBytes, plural, printJson } from "./output.ts";

function address(value: unknown): bigint | undefined {
  if (typeof value === "number") return BigInt(value);
  if (typeof value === "string" && /^(0x)?[0-9a-f]+$/i.test(value)) {
    return BigInt(`0x${value.replace(/^0x/i, "")}`);
  }
  return undefined;
}

/** The thread count in a process's details ("?" if it has none). */
export function threadCount(details: ProcessDetails): string {
  const { threads } = details;
  if (typeof threads === "number") return String(threads);
  return Array.isArray(threads) ? String(threads.length) : "?";
}

/** The memory a process had mapped: the sum of its regions' sizes ("?" if unknown). */
export function mappedBytes(details: ProcessDetails): string {
  const regions = regionsOf(details);
  if (!regions) return "?";
  let total = 0n;
  for (const { start, end } of regions) {
    const a = address(start);
    const b = address(end);
    if (a === undefined || b === undefined) return "?";
    total += b - a;
  }
  return formatBytes(Number(total));
}

/** The bytes of memory the image holds for a process ("?" if unknown). */
export function savedBytes(details: ProcessDetails): string {
  return typeof details.savedBytes === "number" ? formatBytes(details.savedBytes) : "?";
}

/** The file locks a process takes again on descriptor `fd`: " (posix write 0-99, flock read)". */
function lockText(details: ProcessDetails, fd: number): string {
  const mine = locksOf(details).filter((l) => l.fd === fd).map((l) =>
    l.kind === "flock"
      ? `flock ${l.type}`
      : `${l.kind} ${l.type} ${l.start}-${l.end < 0 ? "end" : l.end}`
  );
  return mine.length ? ` (${mine.join(", ")})` : "";
}

/** Each process's descriptors, one line each: "4200001  0 stdio, 3 file /x, 4 pipe pipe:[12]". */
function descriptorLines(processes: { vpid: number; details: ProcessDetails }[]): string[][] {
  const rows = [["VPID", "DESCRIPTORS"]];
  for (const { vpid, details } of processes) {
    const text = fdsOf(details).map((f) =>
      [f.fd, f.kind, f.name].filter((x) => x !== "").join(" ") + lockText(details, f.fd) +
      (typeof f.inFlightOn === "number" ? ` (in flight on ${f.inFlightOn})` : "")
    ).join(", ");
    rows.push([String(vpid), text || "none"]);
  }
  return rows;
}

function field(label: string, value: string): string {
  return `${label.padEnd(13)}${value}`;
}

function indented(rows: string[][]): string {
  return columns(rows).split("\n").map((line) => `  ${line}`).join("\n");
}

/** What a restore loses of the connections, one indented line each, or "none lost". */
function lostText(lines: string[]): string {
  return lines.length ? ["", ...lines.map((line) => `  ${line}`)].join("\n") : "none lost";
}

/** The report as text; `xcr0` and `lost` (the connections' lines) from modules loaded late. */
function printReport(report: ImageReport, xcr0Bits: bigint, lost: string[]): void {
  const { manifest } = report.image;
  const { app, machine } = manifest;
  const total = manifest.files.reduce((sum, file) => sum + file.size, 0);
  const failed = report.files.filter((check) => check.status !== "ok").length;
  const n = report.files.length;
  const xcr0 = xcr0Bits.toString(16);
  const processes = [["VPID", "PARENT", "COMMAND", "THREADS", "MAPPED", "SAVED", "FILE"]];
  for (const { vpid, parent, details: d, file } of manifest.processes) {
    processes.push([
      String(vpid),
      String(parent),
      typeof d.comm === "string" ? d.comm : "?",
      threadCount(d),
      mappedBytes(d),
      savedBytes(d),
      file,
    ]);
  }
  const files = [["NAME", "SIZE", "HASH", "CHECK"]];
  for (const f of report.files) {
    files.push([
      f.name,
      formatBytes(f.size),
      f.hash ?? `${f.metaHash} (pages by their own)`,
      f.status === "ok" ? "ok" : `BAD (${f.status})`,
    ]);
  }
  console.log([
    field("Image", report.image.dir),
    field("Application", `${app.name} (id ${app.id}, hostname ${app.hostname || "the real one"})`),
    field("Created", manifest.createdAt),
    field("Machine", `kernel ${machine.kernel}, XCR0 0x${xcr0}`),
    field(
      "Parent",
      manifest.parent
        ? `${manifest.parent.dir} (only changed pages are here)` +
          (report.chain ? `: ${report.chain}` : "")
        : "none: the image stands on its own",
    ),
    field("Processes", String(manifest.processes.length)),
    indented(processes),
    ...sharedPagesLine(manifest.processes),
    field("Descriptors", ""),
    indented(descriptorLines(manifest.processes)),
    field("Connections", lostText(lost)),
    field("Files", `${plural(n, "file")}, ${formatBytes(total)}`),
    indented(files),
    field("Checksums", failed ? `${failed} of ${n} files do not verify` : `all ${n} files verify`),
    field("Restorable", restorable(report, failed)),
  ].join("\n"));
}

/** Pages a forked child still shared with its parent, stored once (docs/cow-sharing.md). */
function sharedPagesLine(processes: { details: ProcessDetails }[]): string[] {
  const n = processes.reduce(
    (sum, p) => sum + (typeof p.details.sharedPages === "number" ? p.details.sharedPages : 0),
    0,
  );
  return n
    ? [field("Shared", `${plural(n, "page")} of children stored once, in their parent's file`)]
    : [];
}

/** Whether a restore here would take the image: not if a file or the chain is damaged. */
function restorable(report: ImageReport, failed: number): string {
  if (failed) return `no: ${plural(failed, "file")} ${failed === 1 ? "does" : "do"} not verify`;
  if (report.chain) return `no: ${report.chain}`;
  return report.incompatibility ? `no: ${report.incompatibility}` : "yes, here";
}

/** The `inspect` command: describe an image and verify its checksums. */
export function inspectCommand() {
  return new Command("inspect")
    .description("Describe an image and verify its files; exit 1 if any file is damaged")
    .argument("<dir>", "the image directory")
    .option("--json", "print JSON")
    .action(async (dir, options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [
        { damageError, describeImage, xcr0Bits },
        { lostConnectionLines, lostConnections },
        { changedFileLines, changedOpenFiles },
      ] = await Promise.all([
        import("../image.ts"),
        import("../lost.ts"),
        import("../changed_files.ts"),
      ]);
      const report = await describeImage(dir);
      const changed = changedFileLines(changedOpenFiles(report.image));
      if (changed.length && !report.incompatibility) {
        report.incompatibility =
          "files its program held open (or mapped) for writing changed after the " +
          `snapshot (restore --accept-changed-files to restore anyway): ${changed.join("; ")}`;
      }
      const { manifest } = report.image;
      if (options.json) printJson(report);
      else {
        printReport(
          report,
          xcr0Bits(manifest.machine.xcr0),
          lostConnectionLines(lostConnections(manifest)),
        );
      }
      const bad = report.files.find((check) => check.status !== "ok");
      if (bad) throw damageError(dir, bad);
    });
}
