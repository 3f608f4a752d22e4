/**
 * Where Amber keeps things: its state directory, one directory per application, and the
 * build directory that holds the helper programs.
 *
 * ```
 * $AMBER_STATE_DIR, else ${XDG_RUNTIME_DIR:-/tmp}/amber-<uid>   (mode 0700)
 *   apps/<name>/                                                (mode 0700)
 *     tables        the translation tables (amber_ctl_table_create)
 *     log           the interposition library's own log
 * ```
 *
 * @module
 */

import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { privateDir } from "../ffi/files.ts";
import { AmberError, AppExistsError } from "./errors.ts";
import { checkAppName } from "./names.ts";
import { BUILD_HINT } from "../ffi/symbols.ts";
import { PathLimit, pathTooLong } from "./path_limits.ts";

/** The file name of an application's tables inside its directory. */
export const TABLES_FILE = "tables";

/**
 * Creates `dir` (mode 0700) if needed, and refuses one that another user could tamper with:
 * a directory in /tmp may have been made first by someone else, who could then swap an
 * application's translation tables, or be a link planted there to make Amber change the mode
 * of another directory. The last part of the path is made and opened without following a link
 * (ffi/files.ts); its parents, when missing, are made as any directory.
 */
function ensureDir(dir: string): string {
  const parent = dirname(dir);
  if (!existsSync(parent)) mkdirSync(parent, { recursive: true, mode: 0o700 });
  try {
    privateDir(dir);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new AmberError(
      `Amber's state directory is not safe to use: ${why} (it must be a directory, not a link, ` +
        `owned by uid ${Deno.uid()}, mode 0700); set AMBER_STATE_DIR or remove it`,
      { cause, reason: "state" },
    );
  }
  return dir;
}

/** Amber's state directory, created (mode 0700) if needed. */
export function stateDir(): string {
  const override = Deno.env.get("AMBER_STATE_DIR");
  const base = Deno.env.get("XDG_RUNTIME_DIR") || "/tmp";
  const dir = override || join(base, `amber-${Deno.uid() ?? 0}`);
  const why = pathTooLong(dir, PathLimit.STATE_DIR);
  if (why) {
    throw new AmberError(
      `Amber's state directory '${dir}' cannot be used: ${why}; set AMBER_STATE_DIR to a ` +
        `shorter path`,
    );
  }
  return ensureDir(dir);
}

/** The directory that holds one directory per application, created if needed. */
export function appsDir(): string {
  return ensureDir(join(stateDir(), "apps"));
}

/** The directory of the application `name` (which may not exist). */
export function appDir(name: string): string {
  return join(appsDir(), checkAppName(name));
}

/** Creates the directory of a new application `name` (mode 0700) and returns it. */
export function makeAppDir(name: string): string {
  const dir = appDir(name);
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (cause) {
    if (cause instanceof Deno.errors.AlreadyExists) throw new AppExistsError(name, { cause });
    throw cause;
  }
  return dir;
}

/** Removes an application's directory and everything in it; a missing one is fine. */
export async function removeAppDir(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) throw cause;
  }
}

/** The directory of Amber's helper programs: `$AMBER_BUILD_DIR`, else `build/` of the checkout. */
export function buildDir(): string {
  const override = Deno.env.get("AMBER_BUILD_DIR");
  if (override) return override;
  const url = new URL("../build", import.meta.url);
  if (url.protocol !== "file:") {
    throw new AmberError(
      `Cannot find Amber's helper programs (amber-supervisor, amber-restorer, libamber.so): ` +
        `Amber was loaded from '${url.origin}', not from a local checkout, and ` +
        `AMBER_BUILD_DIR is not set; ${BUILD_HINT}`,
      { reason: "native-library" },
    );
  }
  return fileURLToPath(url);
}

function helper(file: string): string {
  const path = join(buildDir(), file);
  if (!existsSync(path)) {
    throw new AmberError(
      `Amber's helper program '${path}' was not found: ${BUILD_HINT}`,
      { reason: "native-library" },
    );
  }
  return path;
}

/** The per-application supervisor, `amber-supervisor`; throws if it is not built. */
export function supervisorPath(): string {
  return helper("amber-supervisor");
}

/** The restorer, `amber-restorer`; throws if it is not built. */
export function restorerPath(): string {
  return helper("amber-restorer");
}
