/**
 * What the commands share for output: aligned columns, byte sizes, JSON, and reporting an
 * error with the right exit code (2 for usage errors, 1 for failures).
 *
 * @module
 */

import { CommanderError, InvalidArgumentError } from "npm:@commander-js/extra-typings@15.1.0";
import { checkAppName, checkHostname } from "../names.ts";
import { AmberError } from "../errors.ts";
import { checkTimeout } from "../wait.ts";

/** Exit status of a command line that was used wrongly. */
export const EXIT_USAGE = 2;
/** Exit status of a command that failed. */
export const EXIT_FAILURE = 1;
/** Exit status after Ctrl-C abandoned a command, as shells report a program SIGINT ended. */
export const EXIT_INTERRUPTED = 130;

/** Prints `value` as indented JSON on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Formats rows as left-aligned columns separated by two spaces. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** A byte count for people: "812 B", "4.0 KiB", "2.3 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}

/** "1 process", "2 processes". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function asArgument<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (error) {
      if (error instanceof RangeError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/** Parses an application name argument. */
export const nameArgument = asArgument(checkAppName);
/** Parses a hostname argument. */
export const hostnameArgument = asArgument(checkHostname);
/** Parses a count of clones: an integer from 1 to 1000. */
export const countArgument = asArgument((value: string) => {
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(count >= 1 && count <= 1000)) {
    throw new RangeError(`Invalid count '${value}': expected an integer from 1 to 1000`);
  }
  return count;
});
/** Parses a duration: "500ms", "10s", "2m", "1h", or a number of seconds; in ms. */
export const durationArgument = asArgument((value: string) => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match?.[2] ?? "s"] ?? NaN;
  const ms = match ? Number(match[1]) * scale : NaN;
  if (!(ms >= 1)) {
    throw new RangeError(`Invalid duration '${value}': expected e.g. 500ms, 10s, 2m or 1h`);
  }
  return ms;
});
/** Parses a timeout in milliseconds. */
export const timeoutArgument = asArgument((value: string) =>
  checkTimeout(/^\d+$/.test(value) ? Number(value) : NaN, "timeout")
);

/** "error:" in red on a terminal that takes colours (not node:util's styleText: loading Node's
 * compatibility modules costs the command line's start-up). */
function errorLine(message: string): string {
  const red = Deno.stderr.isTerminal() && !Deno.noColor;
  return `${red ? "\x1b[31merror:\x1b[39m" : "error:"} ${message}`;
}

/**
 * Prints `error` on stderr and returns the exit status: 0 for help and version, 2 for usage
 * errors (commander's, or a RangeError from a bad value), 1 for every failure.
 */
export function reportError(error: unknown, json = false): number {
  if (json) return reportJsonError(error);
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? 0 : EXIT_USAGE; // commander has printed the message.
  }
  if (!(error instanceof Error)) {
    console.error(errorLine(String(error)));
    return EXIT_FAILURE;
  }
  console.error(errorLine(error.message));
  const debug = Boolean(Deno.env.get("AMBER_DEBUG"));
  if (debug && error.stack) console.error(error.stack);
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause) {
    // The native library's load failure says why only in its causes.
    if (!debug && !(error instanceof AmberError && error.reason === "native-library")) break;
    console.error(`  caused by: ${cause.message}`);
  }
  return exitStatus(error);
}

/** The exit status for `error` (see {@linkcode reportError}). */
function exitStatus(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  return error instanceof RangeError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * Prints `error` as `{"error": {"name", "reason", "message"}}` on stderr (one line) and returns
 * the same exit status as {@linkcode reportError}. Usage errors have the reason "usage".
 */
export function reportJsonError(error: unknown): number {
  const status = exitStatus(error);
  if (status === 0) return 0; // --help or --version: commander printed them.
  let body: { name: string; reason: string; message: string };
  if (error instanceof AmberError) {
    body = error.toJSON();
  } else if (error instanceof CommanderError) {
    body = { name: "UsageError", reason: "usage", message: error.message.replace(/^error: /, "") };
  } else if (error instanceof Error) {
    const reason = error instanceof RangeError || error instanceof TypeError ? "usage" : "failed";
    body = { name: error.name, reason, message: error.message };
  } else {
    body = { name: "Error", reason: "failed", message: String(error) };
  }
  console.error(JSON.stringify({ error: body }));
  return status;
}

/**
 * Runs `work` with a signal that Ctrl-C (SIGINT) aborts. The API then undoes what it started;
 * once it has, the error is printed and the command exits with {@linkcode EXIT_INTERRUPTED}
 * at once (a native wait that an abort cannot cancel may still be running).
 */
export async function interruptible<T>(
  work: (signal: AbortSignal) => Promise<T>,
  json = false,
): Promise<T> {
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort(new Error("interrupted by SIGINT"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await work(interrupt.signal);
  } catch (error) {
    if (!interrupt.signal.aborted) throw error;
    reportError(error, json);
    Deno.exit(EXIT_INTERRUPTED);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}
