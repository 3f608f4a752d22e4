/**
 * The errors of virtual network environments and migration.
 *
 * @module
 */

import { AmberError, type AmberErrorOptions, type AmberErrorReason } from "../errors.ts";

/** A VNE operation failed: no such VNE, a name or subnet taken, an address not free. */
export class VneError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "vne";
  /** The class name, shown in messages. */
  override name = "VneError";
}

/** The VNE is still used by an application, so it cannot be removed. */
export class VneInUseError extends VneError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "vne-in-use";
  /** The class name, shown in messages. */
  override name = "VneInUseError";
}

/** A migration did not complete; the application runs on where it was. */
export class MigrationError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "migration";
  /** The class name, shown in messages. */
  override name = "MigrationError";
}

/** The agent refused or failed a request. */
export class AgentError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "agent";
  /** The class name, shown in messages. */
  override name = "AgentError";
  /** The HTTP status the agent answered with (0 when it could not be reached). */
  readonly status: number;

  /** Makes the error for the agent's answer `status` (0 when it could not be reached). */
  constructor(message: string, status: number, options?: AmberErrorOptions) {
    super(message, options);
    this.status = status;
  }
}
