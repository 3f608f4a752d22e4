/**
 * IPv4 addresses and subnets as VNEs use them: dotted text to host-byte-order integers and
 * back, CIDR subnets, membership.
 *
 * @module
 */

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** A virtual subnet: its first address and prefix length. */
export interface Subnet {
  /** The network address, host-byte-order integer, host bits clear. */
  base: number;
  /** The prefix length. */
  prefix: number;
}

/** Parses dotted IPv4 text into a host-byte-order integer; throws RangeError if it is not one. */
export function parseIp(text: string): number {
  const m = DOTTED.exec(text);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) {
    throw new RangeError(
      `Invalid IPv4 address '${text}': expected four numbers 0-255, as 10.10.2.5`,
    );
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** Dotted text of a host-byte-order integer. */
export function formatIp(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `10.10.2.0/24`; the prefix must be 8 to 30 and the host bits clear. */
export function parseSubnet(text: string): Subnet {
  const [ip, bits, extra] = text.split("/");
  const prefix = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
  if (extra !== undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new RangeError(
      `Invalid subnet '${text}': expected an IPv4 network with a prefix of 8 to 30 bits, as ` +
        `10.10.2.0/24`,
    );
  }
  const base = parseIp(ip);
  if ((base & ~mask(prefix)) >>> 0 !== 0) {
    throw new RangeError(
      `Invalid subnet '${text}': its host bits are not zero (did you mean ` +
        `${formatIp((base & mask(prefix)) >>> 0)}/${prefix}?)`,
    );
  }
  return { base, prefix };
}

/** `10.10.2.0/24`. */
export function formatSubnet(subnet: Subnet): string {
  return `${formatIp(subnet.base)}/${subnet.prefix}`;
}

/** Whether `ip` is in `subnet`. */
export function inSubnet(subnet: Subnet, ip: number): boolean {
  return ((ip & mask(subnet.prefix)) >>> 0) === subnet.base;
}

/** Whether `ip` can be given to an application: in the subnet, neither network nor broadcast. */
export function isHostAddress(subnet: Subnet, ip: number): boolean {
  const last = (subnet.base | ~mask(subnet.prefix)) >>> 0;
  return inSubnet(subnet, ip) && ip !== subnet.base && ip !== last;
}

/** The host addresses of a subnet, lowest first. */
export function* hostAddresses(subnet: Subnet): Generator<number> {
  const last = (subnet.base | ~mask(subnet.prefix)) >>> 0;
  for (let ip = subnet.base + 1; ip < last; ip++) yield ip;
}
