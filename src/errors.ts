/**
 * The errors Amber's API throws for domain failures. Bad arguments are `TypeError` or
 * `RangeError`; everything else is an {@linkcode AmberError}.
 *
 * @module
 */

/**
 * Why an {@linkcode AmberError} was thrown, for a program to act on (the message is for people):
 *
 * - `app-not-found`, `app-exists`: no application of that name; the name is taken.
 * - `program`: the program could not be started under Amber.
 * - `image-invalid`: not an Amber image (no manifest, a manifest of the wrong shape).
 * - `image-damaged`: a file of the image (or of a parent image) is missing or altered.
 * - `incompatible`: an intact image this machine cannot restore.
 * - `unsupported-resource`: the application holds something Amber cannot keep exactly; the
 *   snapshot refused, and the message names the process, the resource and why.
 * - `timeout`: processes did not reach a step (frozen, written, restored, ended) in time.
 * - `process-exited`: a process of the application exited during the snapshot.
 * - `busy`: the application kept creating processes while being frozen.
 * - `interrupted`: an `AbortSignal` (or Ctrl-C) abandoned the work; nothing of it was kept.
 * - `hook-failed`: a `beforeFreeze` or `afterResume` hook threw.
 * - `snapshot-failed`, `restore-failed`: any other reason a snapshot or a restore failed.
 * - `vne`, `vne-in-use`, `migration`, `agent`: virtual networks, migrations, the agent.
 * - `native`, `native-library`: Amber's native library failed, or could not be loaded.
 * - `state`: Amber's own state directory or files are not usable.
 * - `not-implemented`: a feature that is designed but not built yet.
 * - `failed`: anything else.
 */
export type AmberErrorReason =
  | "app-not-found"
  | "app-exists"
  | "program"
  | "image-invalid"
  | "image-damaged"
  | "incompatible"
  | "unsupported-resource"
  | "timeout"
  | "process-exited"
  | "busy"
  | "interrupted"
  | "hook-failed"
  | "snapshot-failed"
  | "restore-failed"
  | "vne"
  | "vne-in-use"
  | "migration"
  | "agent"
  | "native"
  | "native-library"
  | "state"
  | "not-implemented"
  | "failed";

/** Options of an {@linkcode AmberError}: its cause, and its reason if not the class's own. */
export interface AmberErrorOptions extends ErrorOptions {
  /** Why it was thrown; default: the reason of its class. */
  reason?: AmberErrorReason;
}

/**
 * The base class of Amber's domain errors: every failure of the API that is not a bad argument
 * (`TypeError`, `RangeError`) is one, with a {@linkcode AmberErrorReason} in `reason`.
 *
 * @example Act on the reason, not the message
 * ```ts
 * import { AmberError, open } from "@amber/amber";
 *
 * try {
 *   await open("no-such-application");
 * } catch (error) {
 *   if (!(error instanceof AmberError) || error.reason !== "app-not-found") throw error;
 * }
 * ```
 */
export class AmberError extends Error {
  /** The reason of errors of this class, unless the thrower gives another. */
  static readonly reason: AmberErrorReason = "failed";
  /** The class name, shown in messages. */
  override name = "AmberError";
  /** Why it was thrown, for programs. */
  readonly reason: AmberErrorReason;

  /** Makes an error with `message`; `options.reason` defaults to the class's. */
  constructor(message: string, options: AmberErrorOptions = {}) {
    super(message, options);
    this.reason = options.reason ?? (new.target as typeof AmberError).reason;
  }

  /** The error as JSON: `{ name, reason, message }`. */
  toJSON(): { name: string; reason: AmberErrorReason; message: string } {
    return { name: this.name, reason: this.reason, message: this.message };
  }
}

/**
 * Whether `error` is an {@linkcode AmberError} that says what went wrong for the caller, not a
 * bare failure of the native library that the caller should put in context.
 */
export function isDomainError(error: unknown): error is AmberError {
  return error instanceof AmberError && error.reason !== "native";
}

/** There is no application of that name. */
export class AppNotFoundError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "app-not-found";
  /** The class name, shown in messages. */
  override name = "AppNotFoundError";
  /** The name that was looked up. */
  readonly appName: string;

  /** Makes the error for the application `appName` that was not found. */
  constructor(appName: string, options?: AmberErrorOptions) {
    super(`No application named '${appName}'`, options);
    this.appName = appName;
  }
}

/** An application of that name already exists. */
export class AppExistsError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "app-exists";
  /** The class name, shown in messages. */
  override name = "AppExistsError";
  /** The name that is taken. */
  readonly appName: string;

  /** Makes the error for the name `appName` that is taken. */
  constructor(appName: string, options?: AmberErrorOptions) {
    super(
      `An application named '${appName}' already exists: choose another name, ` +
        `or end it with 'amber kill ${appName}'`,
      options,
    );
    this.appName = appName;
  }
}

/** The program could not be started under Amber (missing, not executable, static, ...). */
export class ProgramError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "program";
  /** The class name, shown in messages. */
  override name = "ProgramError";
}

/** A directory is not a readable, intact Amber image. */
export class ImageError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "image-invalid";
  /** The class name, shown in messages. */
  override name = "ImageError";
}

/** An intact image that cannot be restored on this machine (CPU features, kernel, format). */
export class IncompatibleImageError extends ImageError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "incompatible";
  /** The class name, shown in messages. */
  override name = "IncompatibleImageError";
}

/** A snapshot did not complete; the application keeps running. */
export class SnapshotError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "snapshot-failed";
  /** The class name, shown in messages. */
  override name = "SnapshotError";
}

/** A restore did not complete; nothing of it is left running. */
export class RestoreError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "restore-failed";
  /** The class name, shown in messages. */
  override name = "RestoreError";
}

/** A feature that is designed but not built yet. */
export class NotImplementedError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "not-implemented";
  /** The class name, shown in messages. */
  override name = "NotImplementedError";
}
