/**
 * Linux errno numbers (x86_64) with their names and descriptions, so that a `-errno` from the
 * control library becomes a readable error.
 *
 * @module
 */

import { Errno, ErrnoText } from "./contract.ts";

// Every errno the C library names, by name, and its strerror text: generated from the C
// library (tools/contract.ts), never typed here.
export { Errno };

const NAMES: ReadonlyMap<number, keyof typeof Errno> = new Map(
  (Object.entries(Errno) as [keyof typeof Errno, number][]).map(([name, n]) => [n, name]),
);

/** The symbolic name of an errno number, such as `ENOENT`; `errno 999` when unknown. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

/** A short description of an errno number, such as "no such file or directory". */
export function errnoDescription(errno: number): string {
  const name = NAMES.get(errno);
  if (name === undefined) return "unknown error";
  // strerror's sentence case, lowered to sit inside a message; "RFS specific error" stays.
  const text: string = ErrnoText[name];
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}
