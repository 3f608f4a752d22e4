/**
 * Application names, hostnames and random IDs: what is accepted and how defaults are made.
 *
 * @module
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HOSTNAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Random lowercase hex digits: `count` of them. */
export function randomHex(count: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(count / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, count);
}

/** Returns `name` if it can name an application (it is also a directory name); throws otherwise. */
export function checkAppName(name: string): string {
  if (!NAME.test(name)) {
    throw new RangeError(
      `Invalid application name '${name}': expected 1 to 63 letters, digits, '.', '_' or '-', ` +
        `starting with a letter or digit`,
    );
  }
  return name;
}

/** Returns `hostname` if it is a valid virtual hostname (at most 64 characters). */
export function checkHostname(hostname: string): string {
  if (hostname.length > 64 || !HOSTNAME.test(hostname)) {
    throw new RangeError(
      `Invalid hostname '${hostname}': expected at most 64 characters of letters, digits, '-' ` +
        `and '.'`,
    );
  }
  return hostname;
}

/** A fresh name for an application running `program`: its base name and 4 hex digits. */
export function defaultAppName(program: string): string {
  const base = (program.split("/").pop() ?? "").replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[._-]+/, "").slice(0, 50);
  return `${base || "app"}-${randomHex(4)}`;
}

/**
 * A fresh image directory name for a snapshot of `appName` taken at `date`:
 * `NAME-YYYYMMDD-HHMMSS-mmm-xxxx.amber`, local time to the millisecond and 4 random hex digits,
 * so that two snapshots taken at once, by this or another process, never get the same name.
 */
export function defaultImageName(appName: string, date: Date = new Date()): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const day = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `${appName}-${day}-${time}-${pad(date.getMilliseconds(), 3)}-${randomHex(4)}.amber`;
}

/** A fresh application ID: 16 hex digits. */
export function newAppId(): string {
  return randomHex(16);
}
