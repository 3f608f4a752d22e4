/**
 * A snapshot's image read back before it takes its name (`verify`): every file against the
 * manifest just made, each process file's pages against its table of page hashes. The hashes
 * were taken from the bytes as they were copied out of the application, so a page stored at the
 * wrong place, or not stored, is found here and not at a restore that needs it.
 *
 * @module
 */

import { checkFiles } from "./image.ts";
import type { Manifest } from "./manifest.ts";

/** Throws, naming the first file that does not hold what the manifest says it does. */
export async function checkWritten(dir: string, manifest: Manifest): Promise<void> {
  const bad = (await checkFiles({ dir, manifest }, true)).find((check) => check.status !== "ok");
  if (!bad) return;
  const what = bad.status === "hash" ? "does not match its hashes" : `is ${bad.status}`;
  throw new Error(`the image read back is not what was written: its file '${bad.name}' ${what}`);
}
