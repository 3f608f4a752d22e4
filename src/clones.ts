/**
 * {@linkcode restoreClones}: templating, several independent applications from one image.
 *
 * @module
 */

import { join } from "node:path";
import { appVne } from "../ffi/vne.ts";
import type { App } from "./app.ts";
import { NotImplementedError } from "./errors.ts";
import { type Image, verify } from "./image.ts";
import { checkAppName, checkHostname } from "./names.ts";
import { TABLES_FILE } from "./paths.ts";
import { restore, type RestoreOptions } from "./restore.ts";

/** Options for {@linkcode restoreClones}: those of {@linkcode restore}, with per-clone output. */
export interface ClonesOptions extends Omit<RestoreOptions, "output" | "hostname" | "replaces"> {
  /** The clones are named NAME-1 to NAME-N; default: the name the application had when frozen. */
  name?: string;
  /**
   * Where clone i (from 1) appends its stdout and stderr: a file name to which `.i` is added,
   * or a function of i; default: they inherit this process's.
   */
  output?: string | ((clone: number) => string);
}

/**
 * Restores `count` independent copies of one image: clone i (from 1) is named NAME-i, sees the
 * hostname it had when frozen with `-i` added (the real one's if it had none), and has its own
 * system IDs behind the same virtual IDs. If one cannot start, those already started are
 * killed and the error is thrown. An image in a virtual network environment cannot be cloned
 * yet (each clone would need its own virtual IP and real ports): with more than one clone it
 * throws {@linkcode NotImplementedError}, and nothing is left running.
 *
 * @example Three counters from one template image
 * ```ts
 * import { launch, restoreClones } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const image = await app.snapshot({ dir: `${dir}/template.amber`, stop: true });
 * const clones = await restoreClones(image, 3, { detach: true });
 * for (const clone of clones) console.log(clone.name, clone.processes());
 * for (const clone of clones) await clone.kill();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function restoreClones(
  image: Image | string,
  count: number,
  options: ClonesOptions = {},
): Promise<App[]> {
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new RangeError(`Invalid count of clones '${count}': expected an integer from 1 to 1000`);
  }
  // The metadata, once for all; each clone's restore checks the pages (src/restore.ts).
  const { dir, manifest } = await verify(typeof image === "string" ? image : image.dir, false);
  const base = options.name ?? manifest.app.name;
  const host = manifest.app.hostname || Deno.hostname();
  const clones: App[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const output = typeof options.output === "function"
        ? options.output(i)
        : options.output === undefined
        ? undefined
        : `${options.output}.${i}`;
      clones.push(
        await restore(dir, {
          ...options,
          name: checkAppName(`${base}-${i}`),
          hostname: checkHostname(`${host.slice(0, 64 - `-${i}`.length)}-${i}`),
          output,
        }),
      );
      if (i === 1 && count > 1) refuseVne(dir, clones[0]);
    }
  } catch (cause) {
    for (const clone of clones) await clone.kill().catch(() => {});
    throw cause;
  }
  return clones;
}

/** Clones in a VNE are not built yet: the first clone, restored, says whether it is in one. */
function refuseVne(image: string, first: App): void {
  const { vne } = appVne(join(first.dir, TABLES_FILE));
  if (vne) {
    throw new NotImplementedError(
      `Cannot clone '${image}': it is in VNE '${vne}', and clones in a VNE (each with its own ` +
        `virtual IP) are not supported yet; restore it once instead`,
    );
  }
}
