/**
 * A small etcd v3 client over etcd's JSON gateway (`/v3/kv/...`), enough for the VNE registry:
 * read a prefix, put a key, delete a key; leases and a put-if for the ownership of
 * virtual IPs (lease.ts). Keys and values travel base64-encoded; answers are
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
  kvs: z.array(
    z.object({ key: z.string(), value: z.string().optional(), lease: z.string().optional() })
      .loose(),
  ).optional(),
});

const LeaseAnswer = z.object({ ID: z.string() });
const KeepAliveAnswer = z.object({
  result: z.object({ TTL: z.string().optional() }).loose().optional(),
});
const TxnAnswer = z.object({ succeeded: z.boolean().optional() });

/** An etcd endpoint, such as `http://127.0.0.1:2379`. */
export class Etcd {
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, "");
  }

  async #post(path: string, body: unknown, timeoutMs = 5_000): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
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
    return new Map([...(await this.rangeLeased(prefix))].map(([k, v]) => [k, v.value]));
  }

  /** Every key under `prefix`, with its value and its lease ("0": none). */
  async rangeLeased(prefix: string): Promise<Map<string, { value: string; lease: string }>> {
    const answer = RangeAnswer.parse(
      await this.#post("/v3/kv/range", { key: b64(prefix), range_end: prefixEnd(prefix) }),
    );
    return new Map(
      (answer.kvs ?? []).map((kv) => [
        unb64(kv.key),
        { value: unb64(kv.value ?? ""), lease: kv.lease ?? "0" },
      ]),
    );
  }

  /** Puts `value` at `key`, attached to `lease` if given (the key goes when the lease does). */
  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.#post("/v3/kv/put", {
      key: b64(key),
      value: b64(value),
      ...(lease ? { lease } : {}),
    });
  }

  /** Grants a lease of `ttlS` seconds; its ID. */
  async grant(ttlS: number): Promise<string> {
    return LeaseAnswer.parse(await this.#post("/v3/lease/grant", { TTL: ttlS }, 2_000)).ID;
  }

  /** Renews the lease `id`; false if it has expired (or never was). */
  async keepAlive(id: string): Promise<boolean> {
    const answer = KeepAliveAnswer.parse(
      await this.#post("/v3/lease/keepalive", { ID: id }, 2_000),
    );
    return Number(answer.result?.TTL ?? 0) > 0;
  }

  /**
   * Puts `value` at `key`, attached to the lease `lease`, if the key holds `expected` now
   * (undefined: if there is no such key). Returns whether it did.
   */
  async putIf(
    key: string,
    expected: string | undefined,
    value: string,
    lease: string,
  ): Promise<boolean> {
    const compare = expected === undefined
      ? { key: b64(key), target: "CREATE", create_revision: "0" }
      : { key: b64(key), target: "VALUE", value: b64(expected) };
    const answer = TxnAnswer.parse(
      await this.#post("/v3/kv/txn", {
        compare: [compare],
        success: [{ request_put: { key: b64(key), value: b64(value), lease } }],
      }),
    );
    return answer.succeeded === true;
  }

  /** Deletes `key` if it holds `expected` now. Returns whether it did. */
  async deleteIf(key: string, expected: string): Promise<boolean> {
    const answer = TxnAnswer.parse(
      await this.#post("/v3/kv/txn", {
        compare: [{ key: b64(key), target: "VALUE", value: b64(expected) }],
        success: [{ request_delete_range: { key: b64(key) } }],
      }),
    );
    return answer.succeeded === true;
  }

  async delete(key: string): Promise<void> {
    await this.#post("/v3/kv/deleterange", { key: b64(key) });
  }
}
