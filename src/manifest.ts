/**
 * The image manifest, `manifest.json`: what an image holds, validated with zod whenever one is
 * read.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import {
  type MachineInfo,
  MachineInfoSchema,
  type ProcessDetails,
  ProcessDetailsSchema,
} from "../ffi/control.ts";
import { ProcessFile } from "../ffi/contract.ts";
import { PathLimit } from "./path_limits.ts";

/** The value of `format` in every manifest. */
export const IMAGE_FORMAT = "amber-image";
/** The manifest version this Amber writes and reads. */
export const IMAGE_VERSION = 5;
/** The manifest's file name inside an image directory. */
export const MANIFEST_FILE = "manifest.json";
/** The manifest's head (see {@linkcode ManifestHeadSchema}) as a migration's stream carries it. */
export const MANIFEST_HEAD_FILE = "manifest-head.json";

/** A path inside the image: relative, with no '..' part. */
const ImagePath = z.string().min(1).refine(
  (name) => !name.startsWith("/") && !name.split("/").includes(".."),
  { message: "expected a relative path inside the image" },
);

/** One file of an image. */
export interface ImageFile {
  /** Its path inside the image. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /**
   * Its hash, 16 hex digits. Not for a process file that a snapshot wrote with its table of page
   * hashes (since image version 5): its `metaHash` checks all but its page data, and each page is
   * checked against its entry in that table, so the file is never read back whole to be hashed.
   */
  hash?: string;
  /**
   * For a process file: the hash of all but its page data, which is all a restore checks up
   * front (the restorer checks each page against the file's page hashes as it reads it).
   */
  metaHash?: string;
  /**
   * For a process file: the hash of all but its page data and its table of page hashes, which
   * is all a lazy restore checks up front (each entry of the table is checked against its page
   * once the program runs).
   */
  headHash?: string;
}

/** One file of the image with its size and hash (16 hex digits). */
export const ImageFileSchema: z.ZodType<ImageFile> = z.object({
  name: ImagePath,
  size: z.int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  metaHash: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  headHash: z.string().regex(/^[0-9a-f]{16}$/).optional(),
}).refine((f) => f.hash !== undefined || f.metaHash !== undefined, {
  message: "expected a hash or a metaHash",
});

/** Virtual pids are positive 32-bit integers (pid_t), as the C side reads them. */
const MAX_PID = 2 ** 31 - 1;

/** One process of an image. */
export interface ImageProcess {
  /** Its virtual pid. */
  vpid: number;
  /** Its parent's virtual pid (0 for the first process). */
  parent: number;
  /** The image file that holds it. */
  file: string;
  /** What the C side says of it. */
  details: ProcessDetails;
}

/** The name of a process's file in an image: `process-<vpid>.img` (csrc/common/image.h). */
export function processFileName(vpid: number): string {
  return `${ProcessFile.PREFIX}${vpid}${ProcessFile.SUFFIX}`;
}

/** The name of a streamed process file's index, beside it (`process-<vpid>.index`). */
export function indexFileName(processFile: string): string {
  return processFile.slice(0, -ProcessFile.SUFFIX.length) + ProcessFile.INDEX_SUFFIX;
}

/** A process file's name, the virtual pid in group 1. */
export const PROCESS_FILE_NAME = new RegExp(
  `${ProcessFile.PREFIX}(\\d+)${ProcessFile.SUFFIX.replace(".", "\\.")}`,
);

/** One process of the image; its file is `process-<vpid>.img`, nothing else. */
export const ImageProcessSchema: z.ZodType<ImageProcess> = z.object({
  vpid: z.int().positive().max(MAX_PID),
  parent: z.int().nonnegative().max(MAX_PID),
  file: ImagePath,
  details: ProcessDetailsSchema,
}).refine((p) => p.file === processFileName(p.vpid), {
  message: "expected a process's file to be named process-<vpid>.img",
  path: ["file"],
});

/** The parent of an incremental image: its directory, and the hash of its manifest then. */
export const ImageParentSchema: z.ZodType<ImageParent> = z.object({
  dir: z.string().min(1).max(PathLimit.IMAGE_DIR),
  manifestHash: z.string().regex(/^[0-9a-f]{16}$/),
});
/** The parent of an incremental image. */
export interface ImageParent {
  /** The parent image's directory. */
  dir: string;
  /** The hash of its manifest when this image was taken. */
  manifestHash: string;
}

/** What an image holds: application, machine, processes, files and their hashes. */
export interface Manifest {
  /** Always {@linkcode IMAGE_FORMAT}. */
  format: typeof IMAGE_FORMAT;
  /** Always {@linkcode IMAGE_VERSION}. */
  version: typeof IMAGE_VERSION;
  /** When the snapshot was taken, an ISO 8601 date. */
  createdAt: string;
  /** The application: its name, id and hostname. */
  app: { name: string; id: string; hostname: string };
  /** The machine it was taken on. */
  machine: MachineInfo;
  /** Its processes. */
  processes: ImageProcess[];
  /** Its files with their sizes and hashes. */
  files: ImageFile[];
  /** The image it is incremental to, if it is. */
  parent: ImageParent | null;
}

/** The whole manifest. */
export const ManifestSchema: z.ZodType<Manifest> = z.object({
  format: z.literal(IMAGE_FORMAT),
  version: z.literal(IMAGE_VERSION),
  createdAt: z.iso.datetime(),
  app: z.object({ name: z.string().max(63), id: z.string().max(39), hostname: z.string().max(64) }),
  machine: MachineInfoSchema,
  processes: z.array(ImageProcessSchema).min(1),
  files: z.array(ImageFileSchema),
  parent: ImageParentSchema.nullable(),
}).check((ctx) => {
  const names = new Set(ctx.value.files.map((f) => f.name));
  for (const p of ctx.value.processes) {
    if (!names.has(p.file)) {
      ctx.issues.push({
        code: "custom",
        input: p.file,
        path: ["processes"],
        message: `process ${p.vpid}'s file '${p.file}' is not among the image's files`,
      });
    }
  }
});

/**
 * A manifest before the image's files are read: what the computer that takes the snapshot
 * knows. A migration sends it with the files (src/migrate/outgoing.ts), and the target, which
 * has the files, completes it.
 */
export const ManifestHeadSchema = z.object({
  format: z.literal(IMAGE_FORMAT),
  version: z.literal(IMAGE_VERSION),
  createdAt: z.iso.datetime(),
  app: z.object({ name: z.string().max(63), id: z.string().max(39), hostname: z.string().max(64) }),
  machine: MachineInfoSchema,
  parent: ImageParentSchema.nullable(),
  /** Each process's parent, in virtual pids. */
  tree: z.array(
    z.object({ vpid: z.int().positive().max(MAX_PID), parent: z.int().nonnegative().max(MAX_PID) }),
  ),
});
/** A manifest before the image's files are read. */
export type ManifestHead = z.infer<typeof ManifestHeadSchema>;
