/**
 * The durable records of a migration's hand-off (docs/migration.md): small JSON files, written
 * whole (a temporary file, synced, renamed over the old one, the directory synced), so that
 * after a crash a record is either the one before or the one after, never half of either.
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { z } from "npm:zod@4.6.7";
import { AmberError } from "../errors.ts";
import { randomHex } from "../names.ts";

/** Writes `value` as JSON to `path` so that it survives a crash once this returns. */
export async function writeRecord(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${randomHex(8)}.tmp`);
  try {
    using file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    await file.write(new TextEncoder().encode(JSON.stringify(value)));
    await file.sync();
    await Deno.rename(tmp, path);
  } catch (cause) {
    await Deno.remove(tmp).catch(() => {});
    throw cause;
  }
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}

/** The record at `path`, or undefined if there is none; throws AmberError if it is damaged. */
export async function readRecord<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    throw cause;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new AmberError(`The migration record '${path}' is damaged: remove it by hand`);
  }
  return parsed.data;
}

/** Removes the record at `path` (and syncs its directory), if there is one. */
export async function removeRecord(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return;
    throw cause;
  }
  using handle = await Deno.open(dirname(path), { read: true });
  await handle.sync();
}
