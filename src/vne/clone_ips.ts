/**
 * The virtual IPs of clones in a VNE: each clone of an image in a VNE takes its own address,
 * from a range the caller gives (`10.10.2.20-10.10.2.29`) or else the lowest free ones.
 *
 * @module
 */

import { formatIp, formatSubnet, hostAddresses, isHostAddress, parseIp } from "./address.ts";
import { VneError } from "./errors.ts";
import { imageVneDef } from "./join.ts";
import { openVneTable, prune, subnetOf } from "./registry.ts";

/** Parses `FIRST-LAST` (two addresses, FIRST not above LAST) into its addresses, in order. */
export function parseIpRange(text: string): number[] {
  const [first, last, extra] = text.split("-");
  if (last === undefined || extra !== undefined) {
    throw new RangeError(
      `Invalid IP range '${text}': expected FIRST-LAST, as 10.10.2.20-10.10.2.29`,
    );
  }
  const from = parseIp(first.trim()), to = parseIp(last.trim());
  if (from > to || to - from >= 65536) {
    throw new RangeError(
      `Invalid IP range '${text}': the first address must not be above the last, and at most ` +
        `65536 addresses`,
    );
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * `count` free virtual IPs of VNE `vne` for clones, lowest first: from `range` (all of it in
 * the VNE's subnet) when given, else from the whole subnet. Throws {@linkcode VneError} when
 * there are not enough.
 */
export function cloneAddresses(vne: string, count: number, range?: string): string[] {
  using table = openVneTable();
  const dump = prune(table);
  const subnet = subnetOf(imageVneDef(dump, vne));
  const candidates = range === undefined ? [...hostAddresses(subnet)] : parseIpRange(range);
  const outside = candidates.find((ip) => !isHostAddress(subnet, ip));
  if (outside !== undefined) {
    throw new RangeError(
      `IP '${formatIp(outside)}' of range '${range}' is not a host address of VNE '${vne}' ` +
        `(${formatSubnet(subnet)})`,
    );
  }
  const taken = new Set(dump.claims.filter((c) => c.vne === vne).map((c) => c.ip));
  const free = candidates.filter((ip) => !taken.has(ip)).slice(0, count);
  if (free.length < count) {
    throw new VneError(
      `Cannot give ${count} clones each a virtual IP of VNE '${vne}': ` +
        (range === undefined ? "the VNE" : `range '${range}'`) + ` has only ${free.length} free`,
    );
  }
  return free.map(formatIp);
}
