/**
 * The errors Amber's API throws for domain failures. Bad arguments are `TypeError` or
 * `RangeError`; everything else is an {@linkcode AmberError}.
 *
 * @module
 */

/** The base class of Amber's domain errors. */
export class AmberError extends Error {
  /** The class name, shown in messages. */
  override name = "AmberError";
}

/** There is no application of that name. */
export class AppNotFoundError extends AmberError {
  /** The class name, shown in messages. */
  override name = "AppNotFoundError";
  /** The name that was looked up. */
  readonly appName: string;

  /** Makes the error for the application `appName` that was not found. */
  constructor(appName: string, options?: ErrorOptions) {
    super(`No application named '${appName}'`, options);
    this.appName = appName;
  }
}

/** An application of that name already exists. */
export class AppExistsError extends AmberError {
  /** The class name, shown in messages. */
  override name = "AppExistsError";
  /** The name that is taken. */
  readonly appName: string;

  /** Makes the error for the name `appName` that is taken. */
  constructor(appName: string, options?: ErrorOptions) {
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
  /** The class name, shown in messages. */
  override name = "ProgramError";
}

/** A directory is not a readable, intact Amber image. */
export class ImageError extends AmberError {
  /** The class name, shown in messages. */
  override name = "ImageError";
}

/** An intact image that cannot be restored on this machine (CPU features, kernel, format). */
export class IncompatibleImageError extends ImageError {
  /** The class name, shown in messages. */
  override name = "IncompatibleImageError";
}

/** A snapshot did not complete; the application keeps running. */
export class SnapshotError extends AmberError {
  /** The class name, shown in messages. */
  override name = "SnapshotError";
}

/** A restore did not complete; nothing of it is left running. */
export class RestoreError extends AmberError {
  /** The class name, shown in messages. */
  override name = "RestoreError";
}

/** A feature that is designed but not built yet. */
export class NotImplementedError extends AmberError {
  /** The class name, shown in messages. */
  override name = "NotImplementedError";
}
