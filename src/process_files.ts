/**
 * A process that switched to another user (a server that drops root, say) cannot create its
 * file in the coordinator's image directory. For such a process the coordinator makes the file
 * itself, owned by the process's user, and lets that user through the directory (search only,
 * no listing) while the agents write; then everything is the coordinator's again, mode 0600.
 *
 * @module
 */

import { join } from "node:path";

/** The effective uid of a running process (the owner of its /proc directory). */
async function processUid(pid: number): Promise<number | null> {
  try {
    return (await Deno.stat(`/proc/${pid}`)).uid;
  } catch {
    return null;
  }
}

/** Prepares `dir` for processes (vpid, system pid) that run as another user than this one. */
export async function prepareProcessFiles(
  dir: string,
  processes: readonly { vpid: number; pid: number }[],
): Promise<boolean> {
  const self = Deno.uid();
  let foreign = false;
  for (const { vpid, pid } of processes) {
    const uid = await processUid(pid);
    if (uid === null || uid === self) continue;
    const path = join(dir, `process-${vpid}.img`);
    await Deno.writeFile(path, new Uint8Array(), { mode: 0o600, createNew: true });
    await Deno.chown(path, uid, null);
    foreign = true;
  }
  if (foreign) await Deno.chmod(dir, 0o711);
  return foreign;
}

/** Takes the directory and its files back once the agents have written. */
export async function reclaimProcessFiles(dir: string): Promise<void> {
  const self = Deno.uid();
  if (self === null) return;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) await Deno.chown(join(dir, entry.name), self, Deno.gid());
  }
  await Deno.chmod(dir, 0o700);
}
