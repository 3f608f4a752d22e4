/**
 * The parts of a process's description (`amber_ctl_process_describe`, csrc/control/ctl_image.c)
 * that Amber reads back: its descriptors, its file locks and its memory regions, parsed with
 * zod. The description as a whole is kept as the C side wrote it (an older image may hold more
 * or fewer fields); a part of an unexpected shape reads as empty.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import type { ProcessDetails } from "../ffi/control.ts";

/** One descriptor of a process, as its description lists it. */
export const FdDetailsSchema = z.looseObject({ fd: z.int(), kind: z.string(), name: z.string() });
/** One file lock a process takes again on restore. */
export const LockDetailsSchema = z.looseObject({
  fd: z.int(),
  kind: z.string(),
  type: z.string(),
  start: z.number(),
  end: z.number(),
});
/** One memory region; its addresses as hex digits (or numbers, in older descriptions). */
export const RegionDetailsSchema = z.looseObject({
  start: z.union([z.number(), z.string()]),
  end: z.union([z.number(), z.string()]),
});

/** A descriptor of a process. */
export type FdDetails = z.infer<typeof FdDetailsSchema>;
/** A file lock of a process. */
export type LockDetails = z.infer<typeof LockDetailsSchema>;
/** A memory region of a process. */
export type RegionDetails = z.infer<typeof RegionDetailsSchema>;

/** A process's descriptors; [] if its description has none of the expected shape. */
export function fdsOf(details: ProcessDetails): FdDetails[] {
  return z.array(FdDetailsSchema).catch([]).parse(details.fds);
}

/** A process's file locks; [] if its description has none of the expected shape. */
export function locksOf(details: ProcessDetails): LockDetails[] {
  return z.array(LockDetailsSchema).catch([]).parse(details.locks);
}

/** A process's memory regions; null if its description has none of the expected shape. */
export function regionsOf(details: ProcessDetails): RegionDetails[] | null {
  return z.array(RegionDetailsSchema).nullable().catch(null).parse(details.regions ?? null);
}
