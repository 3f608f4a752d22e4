/**
 * Safe wrappers over the control library's VNE calls (`csrc/control/ctl_vne.c`): the
 * computer's VNE table, which the interposition library reads on every translation, and an
 * application's VNE identity in its tables. Addresses cross as host-byte-order integers.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { Errno } from "./errno.ts";
import { callJson, ControlError, cstr, unwrap } from "./control.ts";
import { library } from "./symbols.ts";

/** Who wrote an entry: this computer, or the agent mirroring another computer's. */
export const Origin = { LOCAL: 1, MIRROR: 2 } as const;
/** IP protocol numbers of the rows. */
export const Proto = { TCP: 6, UDP: 17 } as const;

const U32 = z.int().nonnegative().max(0xffffffff);
const Port = z.int().min(0).max(65535);

/** One VNE definition in the table. */
export const VneDefSchema = z.object({
  name: z.string(),
  subnet: U32,
  prefix: z.int().min(0).max(32),
  origin: z.int(),
});
/** One claim: an application holding a virtual IP (and maybe a hostname). */
export const VneClaimSchema = z.object({
  vne: z.string(),
  ip: U32,
  appId: z.string(),
  app: z.string(),
  hostname: z.string(),
  host: z.string(),
  origin: z.int(),
});
/** One address row: virtual (proto, ip, port) to real (ip, port); real ip 0 is this computer. */
export const VneRowSchema = z.object({
  vne: z.string(),
  proto: z.int(),
  ip: U32,
  port: Port,
  realIp: U32,
  realPort: Port,
  pid: z.int(),
  origin: z.int(),
  appId: z.string(),
});
/** Everything in the table. */
export const VneDumpSchema = z.object({
  generation: U32,
  vnes: z.array(VneDefSchema),
  claims: z.array(VneClaimSchema),
  rows: z.array(VneRowSchema),
});
export type VneDef = z.infer<typeof VneDefSchema>;
export type VneClaim = z.infer<typeof VneClaimSchema>;
export type VneRow = z.infer<typeof VneRowSchema>;
export type VneDump = z.infer<typeof VneDumpSchema>;

/** An application's VNE identity, from its tables. */
export const AppVneSchema = z.object({
  vne: z.string(),
  ip: U32,
  binds: z.array(z.object({ proto: z.int(), port: Port, realPort: Port, any: z.boolean() })),
});
export type AppVne = z.infer<typeof AppVneSchema>;

/** The computer's VNE table, mapped into this process; created if it does not exist. */
export class VneTable implements Disposable {
  #handle: Deno.PointerValue;
  readonly path: string;

  private constructor(handle: Deno.PointerObject, path: string) {
    this.#handle = handle;
    this.path = path;
  }

  /** Maps (creating it if needed) the VNE table at `path`. */
  static open(path: string): VneTable {
    const err = new Int32Array(1);
    const handle = library().amber_ctl_vne_open(cstr(path), err);
    if (handle === null) {
      unwrap("amber_ctl_vne_open", err[0] < 0 ? err[0] : -Errno.EIO, path);
      throw new ControlError("amber_ctl_vne_open", Errno.EIO, path);
    }
    return new VneTable(handle, path);
  }

  /** Bumped by every change. */
  generation(): number {
    return library().amber_ctl_vne_generation(this.#live());
  }

  /** Every definition, claim and row. */
  dump(): VneDump {
    const h = this.#live();
    return callJson(
      "amber_ctl_vne_dump",
      (buf, cap) => library().amber_ctl_vne_dump(h, buf, cap),
      VneDumpSchema,
      this.path,
    );
  }

  define(name: string, subnet: number, prefix: number, origin: number): void {
    const s = library().amber_ctl_vne_define(this.#live(), cstr(name), subnet, prefix, origin);
    unwrap("amber_ctl_vne_define", s, name);
  }

  undefine(name: string): void {
    unwrap(
      "amber_ctl_vne_undefine",
      library().amber_ctl_vne_undefine(this.#live(), cstr(name)),
      name,
    );
  }

  claim(claim: Omit<VneClaim, "origin">, origin: number, replaceAppId = ""): void {
    const s = library().amber_ctl_vne_claim(
      this.#live(),
      cstr(claim.vne),
      claim.ip,
      cstr(claim.appId),
      cstr(claim.app),
      cstr(claim.hostname),
      cstr(claim.host),
      origin,
      cstr(replaceAppId),
    );
    unwrap("amber_ctl_vne_claim", s, claim.vne);
  }

  /** Frees the claim on `ip` (held by `appId`, or by anyone if "") and `appId`'s rows. */
  unclaim(vne: string, ip: number, appId: string): boolean {
    const s = library().amber_ctl_vne_unclaim(this.#live(), cstr(vne), ip, cstr(appId));
    if (s === -Errno.ENOENT) return false;
    unwrap("amber_ctl_vne_unclaim", s, vne);
    return true;
  }

  putRow(row: Omit<VneRow, "pid" | "origin">, origin: number): void {
    const s = library().amber_ctl_vne_row_put(
      this.#live(),
      cstr(row.vne),
      row.proto,
      row.ip,
      row.port,
      row.realIp,
      row.realPort,
      cstr(row.appId),
      origin,
    );
    unwrap("amber_ctl_vne_row_put", s, row.vne);
  }

  deleteRow(vne: string, proto: number, ip: number, port: number): boolean {
    const s = library().amber_ctl_vne_row_delete(this.#live(), cstr(vne), proto, ip, port);
    if (s === -Errno.ENOENT) return false;
    unwrap("amber_ctl_vne_row_delete", s, vne);
    return true;
  }

  close(): void {
    if (this.#handle === null) return;
    library().amber_ctl_vne_close(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Deno.PointerObject {
    if (this.#handle === null) throw new TypeError(`VNE table '${this.path}' is closed`);
    return this.#handle;
  }
}

/** Sets an application's VNE identity in its tables file. */
export function setAppVne(tables: string, vne: string, ip: number, vneTable: string): void {
  const s = library().amber_ctl_table_set_vne(cstr(tables), cstr(vne), ip, cstr(vneTable));
  unwrap("amber_ctl_table_set_vne", s, tables);
}

/** An application's VNE identity and bound addresses, from its tables file. */
export function appVne(tables: string): AppVne {
  const p = cstr(tables);
  return callJson(
    "amber_ctl_table_vne",
    (buf, cap) => library().amber_ctl_table_vne(p, buf, cap),
    AppVneSchema,
    tables,
  );
}

/** Copies the VNE identity and bound addresses of an image's tables into `tables`. */
export function copyAppVneFromImage(tables: string, imageTables: string): void {
  const s = library().amber_ctl_table_vne_from_image(cstr(tables), cstr(imageTables));
  unwrap("amber_ctl_table_vne_from_image", s, imageTables);
}

/** The VNE identity and bound addresses an image's tables (`tables.bin`) carry. */
export function imageVne(imageTables: string): AppVne {
  const p = cstr(imageTables);
  return callJson(
    "amber_ctl_image_vne",
    (buf, cap) => library().amber_ctl_image_vne(p, buf, cap),
    AppVneSchema,
    imageTables,
  );
}
