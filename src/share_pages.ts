/**
 * Pages a forked child still shares with its parent are stored once in an image: once every
 * process file is written, each child's file refers to its parent's copy of each such page
 * (ctl_share_pages.c, docs/cow-sharing.md). Orphans, whose parent is not in the image, refer to
 * the first of their siblings, as the restore forks them from a helper with that one's memory.
 * The same pass packs the pages of every process file that hold mostly zeros
 * (common/packed_page.h): a root's file is packed alone, before its children's are shared.
 *
 * @module
 */

import { sharePages } from "../ffi/control.ts";
import { PROCESS_FILE_NAME } from "./manifest.ts";

const PROCESS_FILE = new RegExp(`^${PROCESS_FILE_NAME.source}$`);

/** A process of the image and its parent, by virtual pid (the manifest's tree). */
export interface TreeProcess {
  vpid: number;
  parent: number;
}

/**
 * Rewrites the process files in `dir` (parents first, so that a grandchild's reference goes
 * to where its parent's page is stored) and returns how many pages are now stored once. Each
 * file's pages of mostly zeros are packed; a page its parent packed is not shared.
 */
export async function storeSharedPagesOnce(dir: string, all: TreeProcess[]): Promise<number> {
  // Only those that wrote a file: not a zombie, nor one that exited during the snapshot.
  const written = new Set<number>();
  for await (const entry of Deno.readDir(dir)) {
    const match = PROCESS_FILE.exec(entry.name);
    if (match && entry.isFile) written.add(Number(match[1]));
  }
  const tree = all.filter((p) => written.has(p.vpid));
  const here = new Set(tree.map((p) => p.vpid));
  const firstOrphan = new Map<number, number>(); // the dead parent's vpid -> its first child
  const from = new Map<number, number>();
  for (const p of [...tree].sort((a, b) => a.vpid - b.vpid)) {
    if (here.has(p.parent)) from.set(p.vpid, p.parent);
    else if (firstOrphan.has(p.parent)) from.set(p.vpid, firstOrphan.get(p.parent)!);
    else firstOrphan.set(p.parent, p.vpid);
  }
  const depth = (vpid: number): number => {
    let n = 0;
    for (let at = from.get(vpid); at !== undefined && n <= tree.length; at = from.get(at)) n++;
    return n;
  };
  const order = [...from.keys()].sort((a, b) => depth(a) - depth(b) || a - b);
  // AMBER_PACK=off in the environment: no page is packed.
  const pack = Deno.env.get("AMBER_PACK") !== "off";
  // Those that refer to no other file first (from 0: packed only).
  for (const p of tree) if (pack && !from.has(p.vpid)) await sharePages(dir, p.vpid, 0);
  let shared = 0;
  for (const vpid of order) shared += await sharePages(dir, vpid, from.get(vpid)!, pack);
  return shared;
}
