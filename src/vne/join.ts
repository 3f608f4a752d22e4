/**
 * Putting an application into its VNE: when it is launched ({@linkcode joinVne}: a free
 * virtual IP, checked and claimed) and when it is restored ({@linkcode rejoinVne}: the same
 * virtual IP claimed here, and every address it had bound registered again at this computer).
 *
 * @module
 */

import { appVne, copyAppVneFromImage, Origin, setAppVne, type VneDump } from "../../ffi/vne.ts";
import { checkHostname } from "../names.ts";
import {
  formatIp,
  formatSubnet,
  hostAddresses,
  isHostAddress,
  parseIp,
  type Subnet,
} from "./address.ts";
import { VneError } from "./errors.ts";
import { checkVneName, openVneTable, prune, subnetOf } from "./registry.ts";

/** Where a new application goes: its VNE, and optionally its virtual IP. */
export interface VneOptions {
  /** The VNE's name. */
  vne: string;
  /** Its virtual IP, in the VNE's subnet and free; default: the lowest free one. */
  ip?: string;
  /** Its virtual hostname, which the VNE's applications can resolve. */
  hostname?: string;
}

/** The application being put into a VNE. */
export interface Joiner {
  name: string;
  id: string;
  /** Its tables file. */
  tables: string;
}

/** Checks and claims the application's virtual IP; returns it. */
export function joinVne(app: Joiner, options: VneOptions): string {
  const vne = checkVneName(options.vne);
  const hostname = options.hostname === undefined ? "" : checkHostname(options.hostname);
  using table = openVneTable();
  const dump = prune(table);
  const def = dump.vnes.find((v) => v.name === vne);
  if (!def) throw new VneError(`No VNE named '${vne}': create it with 'amber vne create'`);
  const subnet = subnetOf(def);
  const taken = new Map(dump.claims.filter((c) => c.vne === vne).map((c) => [c.ip, c]));
  let ip: number | undefined;
  if (options.ip !== undefined) {
    ip = parseIp(options.ip);
    if (!isHostAddress(subnet, ip)) {
      throw new RangeError(
        `IP '${options.ip}' is not a host address of VNE '${vne}' (${formatSubnet(subnet)})`,
      );
    }
  } else {
    ip = hostAddresses(subnet).find((candidate) => !taken.has(candidate));
    if (ip === undefined) throw new VneError(`VNE '${vne}' has no free IP left`);
  }
  const holder = taken.get(ip);
  if (holder) {
    throw new VneError(
      `IP '${formatIp(ip)}' of VNE '${vne}' is already used by '${holder.app}'` +
        (holder.host ? ` on '${holder.host}'` : ""),
    );
  }
  const named = hostname && dump.claims.find((c) => c.vne === vne && c.hostname === hostname);
  if (named) {
    throw new VneError(`Hostname '${hostname}' is already used in VNE '${vne}' by '${named.app}'`);
  }
  table.claim({ vne, ip, appId: app.id, app: app.name, hostname, host: "" }, Origin.LOCAL);
  setAppVne(app.tables, vne, ip, table.path);
  return formatIp(ip);
}

/**
 * After a restore's tables are made from an image: if the image was in a VNE, claims its
 * virtual IP here (taking it over from `replaceAppId`, the original of a migration) and points
 * every address it had bound at this computer. Returns the VNE's name, or "" if none.
 */
export function rejoinVne(
  app: Joiner,
  imageTables: string,
  hostname: string,
  replaceAppId = "",
  ip?: string,
): string {
  copyAppVneFromImage(app.tables, imageTables);
  const identity = appVne(app.tables);
  if (!identity.vne) {
    if (ip !== undefined) throw new VneError(`Cannot give it IP '${ip}': the image is in no VNE`);
    return "";
  }
  const vne = identity.vne;
  using table = openVneTable();
  const dump = prune(table);
  const def = imageVneDef(dump, vne);
  if (ip !== undefined) identity.ip = otherIp(vne, subnetOf(def), ip);
  const holder = dump.claims.find((c) => c.vne === vne && c.ip === identity.ip);
  if (holder && holder.appId !== replaceAppId) {
    throw new VneError(
      `IP '${formatIp(identity.ip)}' of VNE '${vne}' is already used by '${holder.app}'` +
        (holder.host ? ` on '${holder.host}'` : "") + `: end it before restoring this image`,
    );
  }
  table.claim(
    { vne, ip: identity.ip, appId: app.id, app: app.name, hostname, host: "" },
    Origin.LOCAL,
    replaceAppId,
  );
  setAppVne(app.tables, vne, identity.ip, table.path);
  for (const bind of identity.binds) {
    table.putRow({
      vne,
      proto: bind.proto,
      ip: identity.ip,
      port: bind.port,
      realIp: 0,
      realPort: bind.realPort,
      appId: app.id,
    }, Origin.LOCAL);
  }
  return vne;
}

/** The definition of the VNE an image is in; throws if this computer does not know it. */
export function imageVneDef(dump: VneDump, vne: string): VneDump["vnes"][number] {
  const def = dump.vnes.find((v) => v.name === vne);
  if (!def) {
    throw new VneError(
      `The image is in VNE '${vne}', which this computer does not know: create it first`,
    );
  }
  return def;
}

/** A restore at another virtual IP than the frozen one (a clone's): checked, as a number. */
function otherIp(vne: string, subnet: Subnet, text: string): number {
  const ip = parseIp(text);
  if (!isHostAddress(subnet, ip)) {
    throw new RangeError(
      `IP '${text}' is not a host address of VNE '${vne}' (${formatSubnet(subnet)})`,
    );
  }
  return ip;
}

/** Frees what an application held in its VNE here (after a failed start, or on request). */
export function leaveVne(tables: string, appId: string): void {
  let identity;
  try {
    identity = appVne(tables);
  } catch {
    return;
  }
  if (!identity.vne) return;
  using table = openVneTable();
  table.unclaim(identity.vne, identity.ip, appId);
}
