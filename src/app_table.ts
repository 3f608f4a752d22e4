/**
 * Opening an application's translation tables: internal to Amber (their layout is not part of
 * the API), for the snapshot, migration and kill code.
 *
 * @module
 */

import { join } from "node:path";
import { ControlNotFoundError, Table } from "../ffi/control.ts";
import { AppNotFoundError } from "./errors.ts";
import { TABLES_FILE } from "./paths.ts";

/** An application as the internals know it: its name and its runtime directory. */
export interface AppRef {
  /** The application's name. */
  readonly name: string;
  /** Its runtime directory. */
  readonly dir: string;
}

/** Opens the application's tables; throws {@linkcode AppNotFoundError} if it has ended. */
export function openAppTable(app: AppRef): Table {
  try {
    return Table.open(join(app.dir, TABLES_FILE));
  } catch (cause) {
    if (cause instanceof ControlNotFoundError) throw new AppNotFoundError(app.name, { cause });
    throw cause;
  }
}
