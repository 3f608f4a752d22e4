/**
 * Incremental images: an image may name a parent image, whose pages it refers to wherever they
 * did not change. The parent is named by its directory and the hash of its manifest, so that a
 * parent replaced or altered since is noticed before anything is restored.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { PathLimit, pathTooLong } from "./path_limits.ts";
import { fileHash } from "../ffi/control.ts";
import { ImageError } from "./errors.ts";
import type { Image } from "./image_handle.ts";
import { type ImageParent, MANIFEST_FILE } from "./manifest.ts";

/** How far up a chain of parents may go (the restorer's limit too). */
export const MAX_CHAIN = 15;

/** The reference an incremental image keeps to its parent. */
export async function parentRef(parent: Image | string): Promise<ImageParent> {
  const dir = resolve(typeof parent === "string" ? parent : parent.dir);
  const tooLong = pathTooLong(dir, PathLimit.IMAGE_DIR);
  if (tooLong) throw new ImageError(`The parent image '${dir}' cannot be used: ${tooLong}`);
  try {
    return { dir, manifestHash: await fileHash(join(dir, MANIFEST_FILE)) };
  } catch (cause) {
    throw new ImageError(`The parent image '${dir}' cannot be read`, { cause });
  }
}

/** The images up the chain of parents, nearest first; each checked against its reference. */
export async function ancestors(
  image: Image,
  read: (dir: string) => Promise<Image>,
): Promise<Image[]> {
  const chain: Image[] = [];
  let ref = image.manifest.parent;
  while (ref) {
    if (chain.length === MAX_CHAIN) {
      throw new ImageError(`Image '${image.dir}' has more than ${MAX_CHAIN} parents`);
    }
    const child = chain.at(-1) ?? image;
    let hash: string;
    try {
      hash = await fileHash(join(ref.dir, MANIFEST_FILE));
    } catch (cause) {
      throw new ImageError(
        `Image '${child.dir}' refers to pages of its parent '${ref.dir}', which is missing`,
        { cause, reason: "image-damaged" },
      );
    }
    if (hash !== ref.manifestHash) {
      throw new ImageError(
        `Image '${child.dir}' refers to pages of its parent '${ref.dir}', which has changed`,
        { reason: "image-damaged" },
      );
    }
    const parent = await read(ref.dir);
    chain.push(parent);
    ref = parent.manifest.parent;
  }
  return chain;
}
