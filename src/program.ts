/**
 * Finding the program to launch and checking that Amber can interpose on it: it must be an
 * executable file, either a dynamically linked ELF or a `#!` script, and not one that the
 * kernel runs with changed credentials (set-ID).
 *
 * @module
 */

import { delimiter, join, resolve } from "node:path";
import { ControlError, isDynamicElf } from "../ffi/control.ts";
import { ProgramError } from "./errors.ts";

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** The absolute path of `program`: itself if it has a '/', else the first match in PATH. */
export function resolveProgram(program: string): string {
  if (program === "") throw new ProgramError("Program '' was not found: the name is empty");
  if (program.includes("/")) {
    const path = resolve(program);
    const info = statOrNull(path);
    if (info === null) throw new ProgramError(`Program '${program}' was not found`);
    checkExecutable(program, info);
    return path;
  }
  const dirs = (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter);
  let found: { path: string; info: Deno.FileInfo } | undefined;
  for (const dir of dirs) {
    const path = resolve(join(dir || ".", program));
    const info = statOrNull(path);
    if (info === null || !info.isFile) continue;
    found ??= { path, info };
    if (((info.mode ?? 0) & 0o111) !== 0) return path;
  }
  if (found) checkExecutable(program, found.info);
  throw new ProgramError(`Program '${program}' was not found in PATH`);
}

function checkExecutable(program: string, info: Deno.FileInfo): void {
  if (!info.isFile) {
    throw new ProgramError(`Program '${program}' is not executable: it is not a regular file`);
  }
  if (((info.mode ?? 0) & 0o111) === 0) {
    throw new ProgramError(`Program '${program}' is not executable: it has no execute permission`);
  }
}

/**
 * Throws {@linkcode ProgramError} unless the program at `path` can run under the interposition
 * library: a `#!` script, or a dynamically linked ELF executable.
 */
export function checkInterposable(program: string, path: string): void {
  const head = new Uint8Array(4);
  let n: number | null;
  try {
    using file = Deno.openSync(path, { read: true });
    n = file.readSync(head);
  } catch (cause) {
    throw new ProgramError(`Program '${program}' cannot be read`, { cause });
  }
  checkSetId(program, path);
  if (n !== null && n >= 2 && head[0] === 0x23 && head[1] === 0x21) return; // "#!"
  let dynamic: boolean;
  try {
    dynamic = isDynamicElf(path);
  } catch (cause) {
    if (!(cause instanceof ControlError)) throw cause;
    throw new ProgramError(
      `Program '${program}' is neither an ELF executable nor a '#!' script (${cause.code})`,
      { cause },
    );
  }
  if (!dynamic) {
    throw new ProgramError(
      `Program '${program}' is statically linked and cannot be interposed: Amber needs a ` +
        `dynamically linked program (or a '#!' script)`,
    );
  }
}

/**
 * A set-user-ID or set-group-ID program that would change the caller's credentials runs in the
 * kernel's secure-execution mode, where no library is preloaded: Amber could never save it.
 */
function checkSetId(program: string, path: string): void {
  const info = statOrNull(path);
  const mode = info?.mode ?? 0;
  const user = (mode & 0o4000) !== 0 && info?.uid !== Deno.uid();
  const group = (mode & 0o2000) !== 0 && info?.gid !== Deno.gid();
  if (!user && !group) return;
  throw new ProgramError(
    `Program '${program}' is set-${user ? "user" : "group"}-ID: the kernel runs it with ` +
      `changed credentials and loads no preloaded library into it, so Amber could not save it ` +
      `(run a copy without the set-ID bit, or as its ${user ? "owner" : "group"})`,
  );
}
