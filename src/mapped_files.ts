/**
 * The files an image's processes had mapped privately (their executables and libraries) must
 * be found again as they were, or the restored code would not be the code that was frozen.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import type { Image } from "./image_handle.ts";

const MappedRegionSchema = z.object({
  kind: z.string(),
  name: z.string(),
  fileSize: z.number().optional(),
  fileMtimeNs: z.string().optional(),
});
const DetailsSchema = z.object({ regions: z.array(MappedRegionSchema).default([]) });

/** Why the image's mapped files are not as they were here, or null if they are. */
export async function changedMappedFile(image: Image): Promise<string | null> {
  const seen = new Set<string>();
  for (const process of image.manifest.processes) {
    const details = DetailsSchema.safeParse(process.details);
    if (!details.success) continue;
    for (const region of details.data.regions) {
      if (region.kind !== "file" || region.fileSize === undefined || seen.has(region.name)) {
        continue;
      }
      seen.add(region.name);
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(region.name);
      } catch {
        return `the file '${region.name}' that process ${process.vpid} had mapped is missing`;
      }
      const mtimeNs = stat.mtime ? BigInt(stat.mtime.getTime()) * 1_000_000n : null;
      const savedNs = BigInt(region.fileMtimeNs ?? "0");
      // Deno gives milliseconds; compare at that precision.
      const sameTime = mtimeNs !== null && mtimeNs / 1_000_000n === savedNs / 1_000_000n;
      if (stat.size !== region.fileSize || !sameTime) {
        return `the file '${region.name}' that process ${process.vpid} had mapped has changed ` +
          `since the snapshot`;
      }
    }
  }
  return null;
}
