/**
 * A small etcd v3 client over etcd's JSON gateway (`/v3/kv/...`), enough for the VNE registry:
 * read a prefix, put a key, delete a key. Keys and values travel base64-encoded; answers are
 * validated with zod.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { AmberError } from "../errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function b64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function unb64(text: string): string {
  return decoder.decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}

/** The end of the range of keys that start with `prefix`. */
function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  bytes[bytes.length - 1]++;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const RangeAnswer = z.object({
  header: z.object({ revision: z.string().optional() }).loose().optional(),
  kvs: z.array(z.object({ key: z.string(), value: z.string().optional() }).loose()).optional(),
});

/** An etcd endpoint, such as `http://127.0.0.1:2379`. */
export class Etcd {
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, "");
  }

  async #post(path: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (cause) {
      throw new AmberError(`Cannot reach etcd at '${this.url}'`, { cause });
    }
    const text = await response.text();
    if (!response.ok) {
      throw new AmberError(`etcd at '${this.url}' answered ${response.status} to ${path}: ${text}`);
    }
    return JSON.parse(text);
  }

  /** Every key under `prefix`, with its value. */
  async range(prefix: string): Promise<Map<string, string>> {
    const answer = RangeAnswer.parse(
      await this.#post("/v3/kv/range", { key: b64(prefix), range_end: prefixEnd(prefix) }),
    );
    return new Map((answer.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value ?? "")]));
  }

  async put(key: string, value: string): Promise<void> {
    await this.#post("/v3/kv/put", { key: b64(key), value: b64(value) });
  }

  async delete(key: string): Promise<void> {
    await this.#post("/v3/kv/deleterange", { key: b64(key) });
  }
}
