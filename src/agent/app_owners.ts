/**
 * With etcd, every application an agent's computer runs, in a VNE or not, is owned by name: the
 * key `/amber/app/<name>` holds its application ID and computer, put with a put-if under the
 * agent's lease (lease.ts), so that two computers never run an application of the same name at
 * once. An agent refuses to restore a name another computer owns; an application of its own
 * whose name another computer owns is stopped and then ended; and, as for a virtual IP, each
 * owned application's supervisor gets the lease's renewals, so that it stops by itself before
 * the key can expire if its agent dies (docs/migration.md).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { list } from "../apps.ts";
import { isRestoredHeld } from "../migrate/hold.ts";
import { AmberError, type AmberErrorReason } from "../errors.ts";
import { parse } from "./mirror.ts";

export const OWNER_PREFIX = "/amber/app/";

const OwnerValue = z.object({ appId: z.string(), host: z.string() });

/** An application name owned by another computer (the agent answers 409). */
export class NameOwnedError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "agent";
  /** The class name, shown in messages. */
  override name = "NameOwnedError";
}

/** The key that owns the application name `name`. */
export const ownerKey = (name: string) => `${OWNER_PREFIX}${name}`;

/** The key's value for the application `appId` of the computer `host`. */
export const ownerValue = (appId: string, host: string) => JSON.stringify({ appId, host });

/** A key's owner; undefined if there is no key or it is not one. */
export const parseOwner = (text: string | undefined) => parse(OwnerValue, text);

/**
 * The applications this computer runs, by name (their IDs): not a copy held for a migration
 * (it owns nothing until released), nor one whose supervisor is gone.
 */
export async function runningApps(): Promise<Map<string, string>> {
  const apps = new Map<string, string>();
  for (const l of await list()) {
    if (!l.id || l.stale || l.exited) continue;
    try {
      if (!isRestoredHeld(l.app)) apps.set(l.name, l.id);
    } catch {
      // Ended meanwhile.
    }
  }
  return apps;
}
