/**
 * The agent's mirror between this computer's VNE table and etcd, run every few tens of
 * milliseconds, so that the interposition library always translates from local shared memory:
 *
 * - this computer's entries (VNEs created here, its applications' claims and bound addresses)
 *   are published under `/amber/vne/`, with this agent's real address for the addresses;
 * - other computers' entries are copied into the local table, marked as mirrored;
 * - what disappeared on either side disappears on the other.
 *
 * A virtual IP belongs to the computer whose claim etcd holds: a restored migration takes the
 * claim over from its original (see `replaces`), and the original's computer stops publishing.
 *
 * ```
 * /amber/vne/def/<vne>                       {"subnet","prefix"}
 * /amber/vne/claim/<vne>/<ip>                {"appId","app","hostname","host"}
 * /amber/vne/row/<vne>/<proto>/<ip>/<port>   {"realIp","realPort","appId","host"}
 * ```
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { Origin, type VneClaim, type VneRow, type VneTable } from "../../ffi/vne.ts";
import { openVneTable, prune } from "../vne/registry.ts";

/** What the mirror needs of this agent's ownership (lease.ts's Ownership is one). */
export interface LeaseHolder {
  /** The lease its claims are put with; undefined while it holds none. */
  readonly lease: string | undefined;
}
import type { Etcd } from "./etcd.ts";

const PREFIX = "/amber/vne/";

const DefValue = z.object({ subnet: z.int().nonnegative(), prefix: z.int().min(0).max(32) });
const ClaimValue = z.object({
  appId: z.string(),
  app: z.string(),
  hostname: z.string(),
  host: z.string(),
});
const RowValue = z.object({
  realIp: z.int().nonnegative(),
  realPort: z.int().min(1).max(65535),
  appId: z.string(),
  host: z.string(),
});

/** A value etcd holds, as `schema` reads its JSON; undefined if there is none or it is not one. */
export function parse<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A claim's value as etcd holds it; undefined if there is none or it is not one. */
export const parseClaim = (text: string | undefined) => parse(ClaimValue, text);

const defKey = (vne: string) => `${PREFIX}def/${vne}`;
export const claimKey = (vne: string, ip: number) => `${PREFIX}claim/${vne}/${ip}`;
/** A claim's value, as this computer (`host`) publishes it. */
export const claimValue = (c: Pick<VneClaim, "appId" | "app" | "hostname">, host: string) =>
  JSON.stringify({ appId: c.appId, app: c.app, hostname: c.hostname, host });
const rowKey = (r: Pick<VneRow, "vne" | "proto" | "ip" | "port">) =>
  `${PREFIX}row/${r.vne}/${r.proto}/${r.ip}/${r.port}`;

/** How the mirror identifies this computer. */
export interface MirrorOptions {
  etcd: Etcd;
  /** This agent's name, written as `host` in what it publishes. */
  host: string;
  /** This computer's real IPv4 address as other computers reach it (host byte order). */
  advertise: number;
  /** Restored migrations: new application ID -> the original's, whose claim it takes over. */
  replaces: Map<string, string>;
  /** Where problems are reported (an entry that cannot be mirrored is skipped). */
  log: (line: string) => void;
  /**
   * This agent's lease (lease.ts): claims and rows are put with it, claims only if etcd holds
   * what was read (a put-if), and nothing is published while it is not held.
   */
  ownership?: LeaseHolder;
  /** Applications whose claims are not published: fenced, or held for a migration. */
  claimsNothing?: (appId: string, app: string) => boolean;
  /** Called before an application's claim is published (lease.ts hands its first renewal). */
  publishing?: (appId: string, app: string) => void;
}

/** Keeps the local VNE table and etcd in step; call {@linkcode Mirror.sync} periodically. */
export class Mirror {
  readonly #o: MirrorOptions;
  /** The leases of the keys read this round, and the lease to put with ("" for none). */
  #leases = new Map<string, string>();
  #lease = "";

  constructor(options: MirrorOptions) {
    this.#o = options;
  }

  /** One round: publish this computer's entries, copy the others', drop what is gone. */
  async sync(): Promise<void> {
    using table = openVneTable();
    const local = prune(table);
    const leased = await this.#o.etcd.rangeLeased(PREFIX);
    const remote = new Map([...leased].map(([k, v]) => [k, v.value]));
    this.#leases = new Map([...leased].map(([k, v]) => [k, v.lease]));
    const ownership = this.#o.ownership;
    this.#lease = ownership?.lease ?? "";
    const puts = new Map<string, string>();
    const deletes: string[] = [];
    this.#defs(table, local.vnes, remote, puts);
    const mine = this.#claims(table, local.claims, remote, puts, deletes);
    this.#rows(table, local.rows, remote, mine, puts, deletes);
    for (const [key, value] of puts) {
      const owned = key.startsWith(`${PREFIX}claim/`) || key.startsWith(`${PREFIX}row/`);
      if (!owned) await this.#o.etcd.put(key, value);
      else if (ownership && !this.#lease) continue; // not this computer's to publish now
      else if (key.startsWith(`${PREFIX}claim/`)) {
        await this.#o.etcd.putIf(key, remote.get(key), value, this.#lease || "0");
      } else await this.#o.etcd.put(key, value, this.#lease || undefined);
    }
    for (const key of deletes) await this.#o.etcd.delete(key);
  }

  /** Whether etcd gives every virtual IP that `appId` claims here to it, on this computer. */
  async owns(appId: string): Promise<boolean> {
    using table = openVneTable();
    const claims = prune(table).claims.filter((c) =>
      c.origin === Origin.LOCAL && c.appId === appId
    );
    const remote = await this.#o.etcd.range(`${PREFIX}claim/`);
    return claims.every((c) => {
      const value = parse(ClaimValue, remote.get(claimKey(c.vne, c.ip)));
      return value?.appId === appId && value.host === this.#o.host;
    });
  }

  #defs(
    table: VneTable,
    vnes: { name: string; subnet: number; prefix: number; origin: number }[],
    remote: Map<string, string>,
    puts: Map<string, string>,
  ): void {
    for (const def of vnes) {
      if (def.origin === Origin.LOCAL && !remote.has(defKey(def.name))) {
        puts.set(defKey(def.name), JSON.stringify({ subnet: def.subnet, prefix: def.prefix }));
      }
    }
    const names = new Set<string>();
    for (const [key, text] of remote) {
      if (!key.startsWith(`${PREFIX}def/`)) continue;
      const name = key.slice(`${PREFIX}def/`.length);
      names.add(name);
      const value = parse(DefValue, text);
      if (!value || vnes.some((v) => v.name === name)) continue;
      this.#try(
        `define VNE '${name}'`,
        () => table.define(name, value.subnet, value.prefix, Origin.MIRROR),
      );
    }
    for (const def of vnes) {
      if (def.origin === Origin.MIRROR && !names.has(def.name)) {
        this.#try(`remove VNE '${def.name}'`, () => table.undefine(def.name));
      }
    }
  }

  /** Returns the claim keys this computer holds in etcd. */
  #claims(
    table: VneTable,
    claims: VneClaim[],
    remote: Map<string, string>,
    puts: Map<string, string>,
    deletes: string[],
  ): Set<string> {
    const me = this.#o.host;
    const mine = new Set<string>();
    const localKeys = new Set<string>();
    const kept = new Set<string>();
    for (const c of claims) {
      if (c.origin !== Origin.LOCAL) continue;
      const key = claimKey(c.vne, c.ip);
      localKeys.add(key);
      if (this.#o.claimsNothing?.(c.appId, c.app)) {
        kept.add(key); // neither published nor dropped: lease.ts decides
        continue;
      }
      const current = parse(ClaimValue, remote.get(key));
      const ours = !current || current.host === me ||
        current.appId === this.#o.replaces.get(c.appId);
      if (!ours) continue;
      this.#o.publishing?.(c.appId, c.app);
      mine.add(key);
      const value = claimValue(c, me);
      if (remote.get(key) !== value || this.#staleLease(key)) puts.set(key, value);
    }
    const theirs = new Set<string>();
    for (const [key, text] of remote) {
      if (!key.startsWith(`${PREFIX}claim/`)) continue;
      const value = parse(ClaimValue, text);
      if (!value) continue;
      if (value.host === me) {
        if (!mine.has(key) && !kept.has(key)) deletes.push(key);
        continue;
      }
      theirs.add(key);
      if (localKeys.has(key)) continue; // held here until this computer's application ends
      const [vne, ip] = key.slice(`${PREFIX}claim/`.length).split("/");
      const held = claims.find((c) => c.vne === vne && c.ip === Number(ip));
      if (
        held && held.appId === value.appId && held.host === value.host &&
        held.hostname === value.hostname
      ) continue;
      this.#try(`mirror the claim on ${key}`, () =>
        table.claim(
          {
            vne,
            ip: Number(ip),
            appId: value.appId,
            app: value.app,
            hostname: value.hostname,
            host: value.host,
          },
          Origin.MIRROR,
          held?.appId ?? "",
        ));
    }
    for (const c of claims) {
      if (c.origin === Origin.MIRROR && !theirs.has(claimKey(c.vne, c.ip))) {
        this.#try(`drop the claim on ${c.vne}/${c.ip}`, () => table.unclaim(c.vne, c.ip, c.appId));
      }
    }
    return mine;
  }

  #rows(
    table: VneTable,
    rows: VneRow[],
    remote: Map<string, string>,
    mine: Set<string>,
    puts: Map<string, string>,
    deletes: string[],
  ): void {
    const me = this.#o.host;
    const published = new Set<string>();
    const localKeys = new Set<string>();
    for (const r of rows) {
      if (r.origin !== Origin.LOCAL) continue;
      localKeys.add(rowKey(r));
      if (!mine.has(claimKey(r.vne, r.ip))) continue;
      const key = rowKey(r);
      published.add(key);
      const realIp = r.realIp === 0 ? this.#o.advertise : r.realIp;
      const value = JSON.stringify({ realIp, realPort: r.realPort, appId: r.appId, host: me });
      if (remote.get(key) !== value || this.#staleLease(key)) puts.set(key, value);
    }
    const theirs = new Set<string>();
    for (const [key, text] of remote) {
      if (!key.startsWith(`${PREFIX}row/`)) continue;
      const value = parse(RowValue, text);
      if (!value) continue;
      if (value.host === me) {
        if (!published.has(key)) deletes.push(key);
        continue;
      }
      theirs.add(key);
      if (localKeys.has(key)) continue;
      const [vne, proto, ip, port] = key.slice(`${PREFIX}row/`.length).split("/");
      const row = { vne, proto: Number(proto), ip: Number(ip), port: Number(port) };
      const held = rows.find((r) =>
        r.vne === row.vne && r.proto === row.proto && r.ip === row.ip && r.port === row.port
      );
      if (held && held.realIp === value.realIp && held.realPort === value.realPort) continue;
      this.#try(
        `mirror the address ${key}`,
        () =>
          table.putRow({
            ...row,
            realIp: value.realIp,
            realPort: value.realPort,
            appId: value.appId,
          }, Origin.MIRROR),
      );
    }
    for (const r of rows) {
      if (r.origin === Origin.MIRROR && !theirs.has(rowKey(r))) {
        this.#try(
          `drop the address ${rowKey(r)}`,
          () => table.deleteRow(r.vne, r.proto, r.ip, r.port),
        );
      }
    }
  }

  /** Whether `key` is held with another lease than this agent's (one of a stopped agent's). */
  #staleLease(key: string): boolean {
    return this.#lease !== "" && (this.#leases.get(key) ?? "0") !== this.#lease;
  }

  #try(what: string, action: () => unknown): void {
    try {
      action();
    } catch (error) {
      this.#o.log(`Cannot ${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
