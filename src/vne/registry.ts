/**
 * The VNE registry of this computer: the VNE table in Amber's state directory, which the
 * interposition library reads as shared memory. {@linkcode createVne}, {@linkcode listVnes}
 * and {@linkcode removeVne} are what `amber vne` does; with an agent and etcd, the agent
 * mirrors the same table between computers.
 *
 * @module
 */

import { join } from "node:path";
import { ControlError, Table } from "../../ffi/control.ts";
import { Origin, Proto, type VneClaim, type VneDump, VneTable } from "../../ffi/vne.ts";
import { appDir, stateDir, TABLES_FILE } from "../paths.ts";
import { checkAppName } from "../names.ts";
import { formatIp, formatSubnet, inSubnet, parseSubnet, type Subnet } from "./address.ts";
import { VneError, VneInUseError } from "./errors.ts";

/** The VNE table file of this computer. */
export function vneTablePath(): string {
  return join(stateDir(), "vne.table");
}

/** Opens (creating it if needed) this computer's VNE table. */
export function openVneTable(): VneTable {
  return VneTable.open(vneTablePath());
}

/** One application holding an address of a VNE. */
export interface VneMember {
  /** Its name. */
  app: string;
  /** Its virtual IP. */
  ip: string;
  /** Its virtual hostname, "" if none. */
  hostname: string;
  /** The computer it runs on: "" for this one, else its agent's name. */
  host: string;
}

/** A VNE as {@linkcode listVnes} reports it. */
export interface VneInfo {
  /** Its name. */
  name: string;
  /** Its subnet, as `10.10.2.0/24`. */
  subnet: string;
  /** The applications in it, on every computer this one knows of. */
  members: VneMember[];
  /** The virtual addresses bound in it, and the real ones behind them. */
  addresses: VneAddress[];
}

/** A virtual address bound in a VNE and the real address where it is now. */
export interface VneAddress {
  /** "tcp" or "udp". */
  proto: "tcp" | "udp";
  /** The virtual IP. */
  ip: string;
  /** The virtual port. */
  port: number;
  /** The real IPv4 address ("127.0.0.1" for this computer). */
  realIp: string;
  /** The real port. */
  realPort: number;
}

/** Returns `name` if it can name a VNE (the rules of application names). */
export function checkVneName(name: string): string {
  try {
    return checkAppName(name);
  } catch {
    throw new RangeError(
      `Invalid VNE name '${name}': expected 1 to 63 letters, digits, '.', '_' or '-', ` +
        `starting with a letter or digit`,
    );
  }
}

/** Whether the application `name` with ID `appId` runs on this computer. */
export function localAppAlive(name: string, appId: string): boolean {
  try {
    using table = Table.open(join(appDir(name), TABLES_FILE));
    return table.info().appId === appId;
  } catch {
    return false;
  }
}

/**
 * Forgets what applications of this computer that have ended left in the table: their claims
 * and their address rows. Returns the table's contents afterwards.
 */
export function prune(table: VneTable): VneDump {
  const dump = table.dump();
  const alive = new Map<string, boolean>();
  const isAlive = (claim: Pick<VneClaim, "app" | "appId">) => {
    let known = alive.get(claim.appId);
    if (known === undefined) {
      known = claim.app !== "" && localAppAlive(claim.app, claim.appId);
      alive.set(claim.appId, known);
    }
    return known;
  };
  let changed = false;
  for (const claim of dump.claims) {
    if (claim.origin === Origin.LOCAL && !isAlive(claim)) {
      table.unclaim(claim.vne, claim.ip, claim.appId);
      changed = true;
    }
  }
  const owners = new Map(dump.claims.map((c) => [c.appId, c.app]));
  for (const row of dump.rows) {
    if (row.origin !== Origin.LOCAL) continue;
    const app = owners.get(row.appId) ?? "";
    if (!isAlive({ app, appId: row.appId })) {
      table.deleteRow(row.vne, row.proto, row.ip, row.port);
      changed = true;
    }
  }
  return changed ? table.dump() : dump;
}

/** The subnet of a VNE definition. */
export function subnetOf(def: { subnet: number; prefix: number }): Subnet {
  return { base: def.subnet, prefix: def.prefix };
}

/**
 * Creates the VNE `name` with the subnet `subnet` (as `10.10.2.0/24`) on this computer.
 *
 * @example Create a VNE, list it, remove it
 * ```ts
 * import { createVne, listVnes, removeVne } from "@amber/amber";
 *
 * createVne("docs-example", "10.77.0.0/24");
 * console.log(listVnes().find((v) => v.name === "docs-example")); // subnet 10.77.0.0/24
 * removeVne("docs-example");
 * ```
 */
export function createVne(name: string, subnet: string, origin: number = Origin.LOCAL): VneInfo {
  checkVneName(name);
  const parsed = parseSubnet(subnet);
  using table = openVneTable();
  const dump = table.dump();
  if (dump.vnes.some((v) => v.name === name)) {
    throw new VneError(`A VNE named '${name}' already exists`);
  }
  const overlapping = dump.vnes.find((v) =>
    inSubnet(subnetOf(v), parsed.base) || inSubnet(parsed, subnetOf(v).base)
  );
  if (overlapping) {
    throw new VneError(
      `Subnet '${subnet}' overlaps VNE '${overlapping.name}' (${
        formatSubnet(subnetOf(overlapping))
      })`,
    );
  }
  table.define(name, parsed.base, parsed.prefix, origin);
  return { name, subnet: formatSubnet(parsed), members: [], addresses: [] };
}

function describe(dump: VneDump): VneInfo[] {
  return dump.vnes
    .map((v) => ({
      name: v.name,
      subnet: formatSubnet(subnetOf(v)),
      members: dump.claims.filter((c) => c.vne === v.name)
        .sort((a, b) => a.ip - b.ip)
        .map((c) => ({ app: c.app, ip: formatIp(c.ip), hostname: c.hostname, host: c.host })),
      addresses: dump.rows.filter((r) => r.vne === v.name)
        .sort((a, b) => a.ip - b.ip || a.port - b.port)
        .map((r) => ({
          proto: r.proto === Proto.TCP ? "tcp" as const : "udp" as const,
          ip: formatIp(r.ip),
          port: r.port,
          realIp: r.realIp === 0 ? "127.0.0.1" : formatIp(r.realIp),
          realPort: r.realPort,
        })),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every VNE this computer knows, with its applications, sorted by name. */
export function listVnes(): VneInfo[] {
  using table = openVneTable();
  return describe(prune(table));
}

/** The VNE `name`; throws {@linkcode VneError} if there is none. */
export function getVne(name: string): VneInfo {
  const found = listVnes().find((v) => v.name === name);
  if (!found) throw new VneError(`No VNE named '${name}': create it with 'amber vne create'`);
  return found;
}

/** Removes the VNE `name`; refuses while an application is in it. */
export function removeVne(name: string): void {
  checkVneName(name);
  using table = openVneTable();
  const info = describe(prune(table)).find((v) => v.name === name);
  if (!info) throw new VneError(`No VNE named '${name}'`);
  if (info.members.length > 0) {
    const apps = info.members.map((m) => `'${m.app}' (${m.ip})`).join(", ");
    throw new VneInUseError(`VNE '${name}' is in use by ${apps}: end them first`);
  }
  try {
    table.undefine(name);
  } catch (cause) {
    if (cause instanceof ControlError) throw new VneError(`Cannot remove VNE '${name}'`, { cause });
    throw cause;
  }
}
