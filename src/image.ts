/**
 * Reading images: {@linkcode inspect} reads and verifies one (manifest, files, checksums,
 * machine compatibility) and throws on any problem; {@linkcode describeImage} reports the same
 * checks without throwing for damaged files or another machine.
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { z } from "npm:zod@4.6.7";
import {
  ControlNotFoundError,
  fileHashes,
  type MachineInfo,
  machineInfo,
  pagesIntact,
  xcr0Bits,
} from "../ffi/control.ts";
import { type FileKind, fileKind, readRegularFile } from "../ffi/files.ts";
import { ImageError, IncompatibleImageError } from "./errors.ts";
import { lostConnections } from "./lost.ts";
import { changedMappedFile } from "./mapped_files.ts";
import { restoreRefusal, unrestorable } from "./restorable.ts";
import { ancestors } from "./parent.ts";
import type { Image } from "./image_handle.ts";
import { type ProgressCallback, reporter } from "./progress.ts";
import {
  IMAGE_FORMAT,
  IMAGE_VERSION,
  type ImageFile,
  MANIFEST_FILE,
  ManifestSchema,
} from "./manifest.ts";

/** The XCR0 bits a manifest names (for `amber inspect`). */
export { xcr0Bits };

export type { Image };

/** One file of an image, checked against its manifest entry. */
export interface FileCheck extends ImageFile {
  /** "ok", or what is wrong with the file ("kind": not a regular file). */
  status: "ok" | "missing" | "size" | "hash" | "kind";
  /** The size found on disk, when the file exists and is a regular file. */
  actualSize?: number;
  /** What was found instead of a regular file (a link, a FIFO...), for status "kind". */
  actualKind?: FileKind;
}

/** Everything {@linkcode describeImage} finds out about an image. */
export interface ImageReport {
  /** The image. */
  image: Image;
  /** Every file of the manifest, checked. */
  files: FileCheck[];
  /** What is wrong with the chain of parent images, for an incremental image; null if nothing. */
  chain: string | null;
  /** True if every file (and every parent's) exists with its size and hash. */
  verified: boolean;
  /**
   * Why a restore here (by this user, under the image's own name) would refuse the image, for
   * other reasons than damaged files (`verified`); null if it would not.
   */
  incompatibility: string | null;
}

function flatten(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ` : "") + issue.message);
  const more = error.issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** Reads and validates an image's manifest; does not look at its other files. */
export async function readImage(dir: string): Promise<Image> {
  const abs = resolve(dir);
  let text: string;
  try {
    text = new TextDecoder().decode(readRegularFile(join(abs, MANIFEST_FILE)));
  } catch (cause) {
    const kind = notRegular(join(abs, MANIFEST_FILE));
    if (kind) {
      throw new ImageError(
        `'${dir}' is not an Amber image: its ${MANIFEST_FILE} is a ${kind}, ` +
          `not a regular file`,
        { cause },
      );
    }
    if (cause instanceof ControlNotFoundError) {
      try {
        await Deno.stat(abs);
      } catch {
        throw new ImageError(`Image '${dir}' does not exist`, { cause });
      }
      throw new ImageError(`'${dir}' is not an Amber image: it has no ${MANIFEST_FILE}`, {
        cause,
      });
    }
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new ImageError(`Cannot read the ${MANIFEST_FILE} of image '${dir}': ${why}`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ImageError(`'${dir}' is not an Amber image: ${MANIFEST_FILE} is not JSON`, {
      cause,
    });
  }
  checkVersion(dir, value);
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new ImageError(`'${dir}' is not an Amber image: ${flatten(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return { dir: abs, manifest: parsed.data, lost: lostConnections(parsed.data) };
}

function checkVersion(dir: string, value: unknown): void {
  const { format, version } = (typeof value === "object" && value !== null ? value : {}) as {
    format?: unknown;
    version?: unknown;
  };
  if (format !== IMAGE_FORMAT) {
    throw new ImageError(
      `'${dir}' is not an Amber image: its ${MANIFEST_FILE} does not say "format": ` +
        `"${IMAGE_FORMAT}"`,
    );
  }
  if (typeof version === "number" && version !== IMAGE_VERSION) {
    throw new IncompatibleImageError(
      `Image '${dir}' has format version ${version}; this Amber reads version ${IMAGE_VERSION}`,
    );
  }
}

/** The bytes of an image's files, its parents' not counted. */
export function imageBytes(image: Image): number {
  return image.manifest.files.reduce((sum, file) => sum + file.size, 0);
}

/** What is at `path`, if it is not a regular file (looked at without following a link). */
function notRegular(path: string): FileKind | null {
  try {
    const { kind } = fileKind(path);
    return kind === "file" ? null : kind;
  } catch {
    return null;
  }
}

/**
 * Checks every file of the manifest: a regular file (not a link, FIFO, device or directory,
 * nor under a directory that is a link), of the right size, with the right hash. Without
 * `pages`, a process file whose manifest entry has a meta hash is checked all but its page data
 * (a restore's restorer checks each page as it reads it in); with `pages` "lazy", where its
 * entry has a head hash, also but its table of page hashes (a lazy restore maps the table
 * unread: each entry is checked against its page, as the page is).
 */
export async function checkFiles(
  image: Image,
  pages: boolean | "lazy" = true,
  onChecked?: (bytes: number) => void,
): Promise<FileCheck[]> {
  const checks: FileCheck[] = [];
  for (const file of image.manifest.files) {
    const path = join(image.dir, file.name);
    let found: { kind: FileKind; size: number };
    try {
      found = fileKindInside(image.dir, file.name);
    } catch {
      checks.push({ ...file, status: "missing" });
      continue;
    }
    if (found.kind !== "file") {
      checks.push({ ...file, status: "kind", actualKind: found.kind });
      continue;
    }
    const size = found.size;
    let status: FileCheck["status"] = "ok";
    if (size !== file.size) status = "size";
    else {
      // A process file without a whole hash: its meta hash, and with `pages` each page against
      // its hash in the table that the meta hash checked.
      const whole = file.hash !== undefined && (pages === true || file.metaHash === undefined);
      const head = pages === "lazy" && file.headHash !== undefined;
      const found = await fileHashes(path, whole ? "whole" : head ? "head" : "meta");
      const match = whole
        ? found.hash === file.hash
        : head
        ? found.headHash === file.headHash
        : found.metaHash === file.metaHash &&
          (pages !== true || file.hash !== undefined || await pagesIntact(path));
      if (!match) status = "hash";
    }
    checks.push({ ...file, status, actualSize: size });
    onChecked?.(file.size);
  }
  return checks;
}

/** What is at `name` inside `dir`: each directory on the way must be one, not a link. */
function fileKindInside(dir: string, name: string): { kind: FileKind; size: number } {
  const parts = name.split("/");
  for (let i = 1; i < parts.length; i++) {
    const step = fileKind(join(dir, ...parts.slice(0, i)));
    if (step.kind !== "directory") return step;
  }
  return fileKind(join(dir, name));
}

const DAMAGED = { reason: "image-damaged" } as const;

/** The error for a file that failed its check. */
export function damageError(dir: string, check: FileCheck): ImageError {
  const what = `Image '${dir}' is damaged: file '${check.name}'`;
  switch (check.status) {
    case "missing":
      return new ImageError(`${what} is missing`, DAMAGED);
    case "size":
      return new ImageError(
        `${what} is ${check.actualSize} bytes, expected ${check.size} (truncated or changed)`,
        DAMAGED,
      );
    case "kind":
      return new ImageError(`${what} is a ${check.actualKind}, not a regular file`);
    default:
      return new ImageError(`${what} does not match its checksum (corrupt or changed)`, DAMAGED);
  }
}

/** How the restorer says a child's pages stored in another process's file are not there
 * (csrc/restorer/memory.c). */
const BAD_REFERENCE = /(\S+) refers to pages stored in (\S+), which (.*)$/;

/** How the restorer says a page failed its check (csrc/restorer/verify.c). */
const DAMAGED_PAGE = /image damaged: page (0x[0-9a-f]+) of (\S+) at depth (\d+)/;

/**
 * The error for a page the restorer found damaged, from the reason it gave (null if the reason
 * is another): it names the file the page came from, in this image or a parent.
 */
export async function pageDamage(image: Image, why: string): Promise<ImageError | null> {
  const ref = BAD_REFERENCE.exec(why);
  if (ref) {
    return new ImageError(
      `Image '${image.dir}' is damaged: file '${ref[1]}' refers to pages stored in '${ref[2]}', ` +
        `which ${ref[3]}`,
      DAMAGED,
    );
  }
  const m = DAMAGED_PAGE.exec(why);
  if (!m) return null;
  const depth = Number(m[3]);
  const dir = depth === 0
    ? image.dir
    : (await ancestors(image, readImage).catch(() => []))[depth - 1]?.dir ?? image.dir;
  return new ImageError(
    `Image '${dir}' is damaged: file '${m[2]}' does not match its checksum (corrupt or ` +
      `changed): its page at ${m[1]}`,
  );
}

const XCR0_FEATURES: readonly (readonly [number, string])[] = [
  [0, "x87"],
  [1, "SSE"],
  [2, "AVX"],
  [3, "MPX bound registers"],
  [4, "MPX bound configuration"],
  [5, "AVX-512 opmask"],
  [6, "AVX-512 upper ZMM"],
  [7, "AVX-512 high ZMM"],
  [9, "PKRU (protection keys)"],
  [17, "AMX tile configuration"],
  [18, "AMX tile data"],
  [19, "APX"],
];

/** The CPU state components (XCR0 bits) by name, as an image's compatibility check names them. */
export function features(xcr0: bigint): string[] {
  return XCR0_FEATURES.filter(([bit]) => (xcr0 >> BigInt(bit)) & 1n).map(([, name]) => name);
}

function describeSet(list: string[]): string {
  return list.length ? list.join(", ") : "none";
}

/** Why an image made on `made` cannot be restored on `here`; null if it can. */
export function incompatibility(made: MachineInfo, here: MachineInfo): string | null {
  const a = xcr0Bits(made.xcr0);
  const b = xcr0Bits(here.xcr0);
  if (a !== b) {
    const only = (x: bigint, y: bigint) => features(x).filter((f) => !features(y).includes(f));
    return `its CPU features differ from this machine's (XCR0 0x${a.toString(16)} in the ` +
      `image, 0x${b.toString(16)} here; only in the image: ${describeSet(only(a, b))}; ` +
      `only here: ${describeSet(only(b, a))})`;
  }
  if (
    made.vdsoHash !== here.vdsoHash || made.vdsoSize !== here.vdsoSize ||
    made.vvarSize !== here.vvarSize
  ) {
    return `it was made under kernel '${made.kernel}' and this machine runs kernel ` +
      `'${here.kernel}', whose vDSO differs`;
  }
  return null;
}

/**
 * Reads an image and verifies it completely: manifest, every file's size and hash, and that
 * this machine can restore it. Throws {@linkcode ImageError} or
 * {@linkcode IncompatibleImageError} on any problem.
 *
 * @example Verify an image before copying it elsewhere
 * ```ts
 * import { inspect, launch } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * await app.snapshot({ dir: `${dir}/sleep.amber`, stop: true });
 * const image = await inspect(`${dir}/sleep.amber`);
 * console.log(image.manifest.processes.length, "processes");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function inspect(
  dir: string,
  options: { onProgress?: ProgressCallback } = {},
): Promise<Image> {
  return await verify(dir, true, options);
}

/**
 * What a restore checks up front: as {@linkcode inspect}, but with `pages` false only the
 * metadata of process files (the restorer checks every page it reads against its hash), and
 * with `pages` "lazy" that less their tables of page hashes (see {@linkcode checkFiles}).
 */
export async function verify(
  dir: string,
  pages: boolean | "lazy",
  options: { onProgress?: ProgressCallback } = {},
): Promise<Image> {
  const image = await readImage(dir);
  const chain = options.onProgress ? await ancestors(image, readImage).catch(() => []) : [];
  const totalBytes = [image, ...chain].reduce((sum, one) => sum + imageBytes(one), 0);
  const report = reporter(options.onProgress);
  let bytes = 0;
  const checked = (size: number) => report({ phase: "verify", bytes: bytes += size, totalBytes });
  const bad = (await checkFiles(image, pages, checked)).find((check) => check.status !== "ok");
  if (bad) throw damageError(dir, bad);
  for (const parent of await ancestors(image, readImage)) {
    const damaged = (await checkFiles(parent, pages, checked)).find((check) =>
      check.status !== "ok"
    );
    if (damaged) throw damageError(parent.dir, damaged);
  }
  const why = incompatibility(image.manifest.machine, machineInfo()) ??
    await changedMappedFile(image) ?? unrestorable(image.manifest.processes);
  if (why) throw new IncompatibleImageError(`Image '${dir}' cannot be restored here: ${why}`);
  return image;
}

/**
 * Reads an image and reports on it: its manifest, each file's check, and whether this machine
 * can restore it. Throws {@linkcode ImageError} only if it is not an image at all.
 *
 * @example Tell a damaged image from an intact one
 * ```ts
 * import { describeImage, launch } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * await app.snapshot({ dir: `${dir}/sleep.amber`, stop: true });
 * await Deno.truncate(`${dir}/sleep.amber/tables.bin`, 10);
 * const report = await describeImage(`${dir}/sleep.amber`);
 * console.log(report.verified); // false
 * console.log(report.files.filter((file) => file.status !== "ok")); // tables.bin: "size"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function describeImage(dir: string): Promise<ImageReport> {
  const image = await readImage(dir);
  const files = await checkFiles(image);
  let chain: string | null = null;
  try {
    for (const parent of await ancestors(image, readImage)) {
      const damaged = (await checkFiles(parent)).find((check) => check.status !== "ok");
      if (damaged) chain = damageError(parent.dir, damaged).message;
    }
  } catch (cause) {
    chain = cause instanceof Error ? cause.message : String(cause);
  }
  return {
    image,
    files,
    chain,
    verified: files.every((check) => check.status === "ok") && chain === null,
    incompatibility: incompatibility(image.manifest.machine, machineInfo()) ??
      await changedMappedFile(image) ?? unrestorable(image.manifest.processes) ??
      await restoreRefusal(image.dir, image.manifest.app.name),
  };
}
