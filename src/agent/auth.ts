/**
 * The agent's shared token: read from a file, sent as `Authorization: Bearer <token>`, and
 * compared in constant time (both sides are hashed first, so neither the content nor the
 * length of the expected token leaks through timing).
 *
 * @module
 */

import { AmberError } from "../errors.ts";

const MIN_LENGTH = 16;

/**
 * Reads a token file: its first line, at least 16 characters. The file must be readable by its
 * owner alone: a token others can read lets them migrate applications in and out.
 */
export async function readToken(path: string): Promise<string> {
  let text: string;
  let mode: number | null;
  try {
    mode = (await Deno.stat(path)).mode;
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new AmberError(`Cannot read the token file '${path}'`, { cause, reason: "agent" });
  }
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new AmberError(
      `Token file '${path}' may be read or written by other users (mode ` +
        `0${(mode & 0o777).toString(8)}): anyone who reads it can migrate applications in and ` +
        `out. Make it the owner's alone: chmod 600 '${path}'`,
      { reason: "agent" },
    );
  }
  const token = text.split("\n")[0].trim();
  if (token.length < MIN_LENGTH) {
    throw new RangeError(
      `Token file '${path}' holds a token of ${token.length} characters; expected at least ` +
        `${MIN_LENGTH}`,
    );
  }
  return token;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Whether `request` carries the bearer token `token`, compared in constant time. */
export async function authorized(request: Request, token: string): Promise<boolean> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (.+)$/.exec(header);
  const [a, b] = await Promise.all([digest(match ? match[1] : ""), digest(token)]);
  let diff = match ? 0 : 1;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The headers that authenticate a request to an agent. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
