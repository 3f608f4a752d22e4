/**
 * How a detached application ended: its supervisor leaves `<state>/exited/<name>.json`
 * (csrc/supervisor/exit_record.c) when the application's last process is gone, and
 * {@linkcode list}, {@linkcode open} and `amber ps` show it until `kill` removes it (or a new
 * application of the same name replaces it).
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { checkAppName } from "./names.ts";
import { stateDir } from "./paths.ts";

/** When and how an application ended. */
export interface ExitRecord {
  /** When its last process was gone, as an ISO 8601 UTC time. */
  at: string;
  /** Its first process's exit status, or 128 + n if signal n ended it. */
  code: number;
  /** The signal that ended its first process, if one did. */
  signal?: number;
  /** Why Amber ended it, if it did (a damaged page found after a lazy restore). */
  error?: string;
}

const ExitRecordSchema = z.object({
  at: z.iso.datetime(),
  code: z.int().min(0).max(255),
  signal: z.int().min(1).max(64).optional(),
  error: z.string().max(512).optional(),
});

const SUFFIX = ".json";

function exitedDir(): string {
  return join(stateDir(), "exited");
}

function recordPath(name: string): string {
  return join(exitedDir(), `${checkAppName(name)}${SUFFIX}`);
}

/** The record left by the ended application `name`, if there is one (a damaged one is none). */
export async function readExitRecord(name: string): Promise<ExitRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(recordPath(name));
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    throw cause;
  }
  try {
    return ExitRecordSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The names of the applications that left a record. */
export async function exitRecordNames(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(exitedDir())) {
      if (!entry.isFile || !entry.name.endsWith(SUFFIX)) continue;
      const name = entry.name.slice(0, -SUFFIX.length);
      try {
        names.push(checkAppName(name));
      } catch {
        // Not one of ours.
      }
    }
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) throw cause;
  }
  return names;
}

/** Removes the record of `name`; whether there was one. */
export function removeExitRecord(name: string): boolean {
  try {
    Deno.removeSync(recordPath(name));
    return true;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return false;
    throw cause;
  }
}
