/**
 * Who each process of an image is, and who may be given what on restore (docs/trust-model.md).
 *
 * At the snapshot the coordinator writes `credentials.bin`: each process's user, groups and
 * limits as the kernel reports them from outside (`/proc/<pid>/status` and `limits`), not as
 * the process's memory says (a process may have rewritten its own memory, library included).
 * The restorer gives each process exactly these before any byte of the image runs
 * (csrc/restorer/identity.c; layout in csrc/common/credentials.h).
 *
 * An image is input from its owner, the user who owns its directory and files: its checksums
 * prove that it is whole, not who wrote it. When root restores an image that another user owns,
 * that user is the ceiling: every process runs as her, and an image that asks for more is
 * refused here, by name, and again by the restorer (the files may change in between).
 *
 * @module
 */

import { join } from "node:path";
import type { ProcessInfo } from "./processes.ts";
import { RestoreError } from "./errors.ts";
import { CredsFile, CredsRecord } from "../ffi/contract.ts";

/** The file's name in an image. */
export const CREDENTIALS_FILE = CredsFile.NAME;

// struct amber_creds_rec, as the C compiler lays it out (ffi/contract.ts).
const { GROUPS, LIMITS } = CredsFile;
const { limits: LIMITS_AT, nice: NICE_AT, size: RECORD } = CredsRecord;
const UNLIMITED = 0xffffffffffffffffn;

/** One process's credentials and limits. */
export interface Credentials {
  vpid: number;
  uid: [number, number, number]; // real, effective, saved
  gid: [number, number, number];
  groups: number[];
  limits: [bigint, bigint][]; // soft, hard per RLIMIT_* number
  nice: number;
}

function field(status: string, name: string): number[] {
  const line = status.match(new RegExp(`^${name}:(.*)$`, "m"))?.[1] ?? "";
  return line.trim().split(/\s+/).filter((w) => w !== "").map(Number);
}

function limitValue(word: string): bigint {
  return word === "unlimited" ? UNLIMITED : BigInt(word);
}

/** Reads a running process's credentials from outside it; null if it is gone. */
function observe(vpid: number, pid: number): Credentials | null {
  let status: string, limits: string, stat: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
    limits = Deno.readTextFileSync(`/proc/${pid}/limits`);
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  const [ru, eu, su] = field(status, "Uid");
  const [rg, eg, sg] = field(status, "Gid");
  const rows = limits.split("\n").slice(1).filter((l) => l.trim() !== "");
  const limitPairs = rows.slice(0, LIMITS).map((row): [bigint, bigint] => {
    const words = row.slice(26).trim().split(/\s+/); // after the 26-column name
    return [limitValue(words[0]), limitValue(words[1])];
  });
  return {
    vpid,
    uid: [ru, eu, su],
    gid: [rg, eg, sg],
    groups: field(status, "Groups").slice(0, GROUPS),
    limits: limitPairs,
    nice: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]), // field 19
  };
}

/**
 * Writes `credentials.bin` into `dir` for the frozen `processes`. On this thread: each read is
 * some µs, where a hop to another thread and back for each cost the freeze 1-5 ms.
 */
export function saveCredentials(dir: string, processes: readonly ProcessInfo[]): void {
  const records: Credentials[] = [];
  for (const p of processes) {
    const c = p.alive ? observe(p.vpid, p.pid) : null;
    if (c) records.push(c);
  }
  const bytes = new Uint8Array(records.length * RECORD);
  const view = new DataView(bytes.buffer);
  records.forEach((c, i) => {
    const at = i * RECORD;
    view.setInt32(at + CredsRecord.vpid, c.vpid, true);
    view.setUint32(at + CredsRecord.ngroups, c.groups.length, true);
    c.uid.forEach((v, k) => view.setUint32(at + CredsRecord.uid + 4 * k, v, true));
    c.gid.forEach((v, k) => view.setUint32(at + CredsRecord.gid + 4 * k, v, true));
    c.groups.forEach((v, k) => view.setUint32(at + CredsRecord.groups + 4 * k, v, true));
    for (let r = 0; r < LIMITS; r++) {
      const [soft, hard] = c.limits[r] ?? [UNLIMITED, UNLIMITED];
      view.setBigUint64(at + LIMITS_AT + 16 * r, soft, true);
      view.setBigUint64(at + LIMITS_AT + 8 + 16 * r, hard, true);
    }
    view.setInt32(at + NICE_AT, c.nice, true);
  });
  Deno.writeFileSync(join(dir, CREDENTIALS_FILE), bytes, { mode: 0o600, createNew: true });
}

/** Reads an image's `credentials.bin`; [] when it has none. */
export async function readCredentials(dir: string): Promise<Credentials[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(dir, CREDENTIALS_FILE));
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return [];
    throw cause;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Credentials[] = [];
  for (let at = 0; at + RECORD <= bytes.length; at += RECORD) {
    const n = Math.min(view.getUint32(at + CredsRecord.ngroups, true), GROUPS);
    const u = (k: number) => view.getUint32(at + k, true);
    const { uid, gid } = CredsRecord;
    records.push({
      vpid: view.getInt32(at + CredsRecord.vpid, true),
      uid: [u(uid), u(uid + 4), u(uid + 8)],
      gid: [u(gid), u(gid + 4), u(gid + 8)],
      groups: Array.from({ length: n }, (_, k) => u(CredsRecord.groups + 4 * k)),
      limits: [],
      nice: view.getInt32(at + NICE_AT, true),
    });
  }
  return records;
}

/** The groups a user has: her primary group from /etc/passwd and her memberships. */
async function userGroups(uid: number): Promise<{ name: string; gid: number; groups: number[] }> {
  const passwd = (await Deno.readTextFile("/etc/passwd")).split("\n").map((l) => l.split(":"));
  const entry = passwd.find((f) => f.length >= 4 && Number(f[2]) === uid && f[2] !== "");
  if (!entry) return { name: String(uid), gid: -1, groups: [] };
  const [name, , , gid] = entry;
  const groups = (await Deno.readTextFile("/etc/group")).split("\n").map((l) => l.split(":"))
    .filter((f) => f.length >= 4 && f[3].split(",").includes(name))
    .map((f) => Number(f[2]));
  return { name, gid: Number(gid), groups: [...new Set([Number(gid), ...groups])] };
}

/** Who owns the image: the owner of its directory, who must own every file in it. */
async function imageOwner(dir: string): Promise<number> {
  const info = await Deno.lstat(dir);
  if (!info.isDirectory || info.uid === null) {
    throw new RestoreError(`Cannot restore '${dir}': it is not a directory`);
  }
  for await (const entry of Deno.readDir(dir)) {
    const file = await Deno.lstat(join(dir, entry.name));
    if (file.uid !== info.uid) {
      throw new RestoreError(
        `Cannot restore '${dir}': its file '${entry.name}' belongs to uid ${file.uid}, the ` +
          `image to uid ${info.uid}; an image has one owner`,
      );
    }
  }
  return info.uid;
}

/**
 * The `--as UID:GID:GROUPS` ceiling for the restorer when this (root) restores an image that
 * another user owns, or undefined when the image is this user's own. Throws a RestoreError
 * when the image asks for credentials its owner did not have.
 */
export async function restoreCeiling(dir: string): Promise<string | undefined> {
  const owner = await imageOwner(dir);
  const self = Deno.uid();
  if (self === null || owner === self) return undefined;
  if (self !== 0) return undefined; // the kernel gives her nothing she does not have
  const user = await userGroups(owner);
  const gid = user.gid >= 0 ? user.gid : owner;
  const allowed = new Set([gid, ...user.groups]);
  for (const c of await readCredentials(dir)) {
    const uid = c.uid.find((u) => u !== owner);
    const group = [...c.gid, ...c.groups].find((g) => !allowed.has(g));
    if (uid === undefined && group === undefined) continue;
    const asked = uid !== undefined ? `uid ${uid}` : `group ${group}`;
    throw new RestoreError(
      `Cannot restore '${dir}': process ${c.vpid} would run with ${asked}, which the image's ` +
        `owner (${user.name}, uid ${owner}) does not have; Amber never gives a restored ` +
        `process more than the owner of its image`,
    );
  }
  return `${owner}:${gid}:${[...allowed].join(",")}`;
}
