/**
 * The target's side of a streamed migration (outgoing.ts): once the stream's files are on disk,
 * the process files get their header back at offset 0, and the manifest is written here, from
 * the head the source sent and the files as they are here (hashes, process descriptions). The
 * frozen round of a pre-copy migration gets the pre-copy image as its parent here.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { ControlError, setProcessParent, untrailProcessFile } from "../../ffi/control.ts";
import { ImageError } from "../errors.ts";
import { type Manifest, MANIFEST_HEAD_FILE, ManifestHeadSchema } from "../manifest.ts";
import { parentRef } from "../parent.ts";
import { writeManifest } from "../snapshot.ts";

/**
 * Completes the image in `dir` that a version 2 stream brought: puts the files in `trailers`
 * in order and writes the manifest. With `parent` (the image a pre-copy round brought here,
 * whose pages the agents did not send again), the process files and the manifest name it as
 * their parent: the source named its own index of it. Throws {@linkcode ImageError} if they do
 * not add up.
 */
export async function completeStreamedImage(
  dir: string,
  trailers: string[],
  parent?: string,
): Promise<Manifest> {
  for (const name of trailers) {
    try {
      await untrailProcessFile(join(dir, name));
      if (parent !== undefined) setProcessParent(join(dir, name), parent);
    } catch (cause) {
      if (!(cause instanceof ControlError)) throw cause;
      throw new ImageError(`Process file '${name}' did not come whole: ${cause.message}`, {
        cause,
      });
    }
  }
  const headPath = join(dir, MANIFEST_HEAD_FILE);
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(headPath));
  } catch (cause) {
    throw new ImageError(`The image stream has no valid '${MANIFEST_HEAD_FILE}'`, { cause });
  }
  const head = ManifestHeadSchema.safeParse(value);
  if (!head.success) {
    throw new ImageError(
      `The image stream's '${MANIFEST_HEAD_FILE}' is not valid: ${z.prettifyError(head.error)}`,
    );
  }
  await Deno.remove(headPath);
  const ref = parent === undefined ? head.data.parent : await parentRef(parent);
  return await writeManifest(dir, { ...head.data, parent: ref });
}
