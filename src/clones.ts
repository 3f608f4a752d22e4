/**
 * {@linkcode restoreClones}: templating, several independent applications from one image.
 *
 * @module
 */

import { join } from "node:path";
import { imageVne } from "../ffi/vne.ts";
import type { App } from "./app.ts";
import { type Image, verify } from "./image.ts";
import { checkAppName, checkHostname } from "./names.ts";
import { filesWrittenInPlace } from "./changed_files.ts";
import { IncompatibleImageError } from "./errors.ts";
import { restore, type RestoreOptions } from "./restore.ts";
import { cloneAddresses } from "./vne/clone_ips.ts";

/** Options for {@linkcode restoreClones}: those of {@linkcode restore}, with per-clone output. */
export interface ClonesOptions
  extends Omit<RestoreOptions, "output" | "hostname" | "replaces" | "ip"> {
  /** The clones are named NAME-1 to NAME-N; default: the name the application had when frozen. */
  name?: string;
  /**
   * Where clone i (from 1) appends its stdout and stderr: a file name to which `.i` is added,
   * or a function of i; default: they inherit this process's.
   */
  output?: string | ((clone: number) => string);
  /**
   * For an image in a VNE: the virtual IPs the clones take, `FIRST-LAST` (as
   * `10.10.2.20-10.10.2.29`), the free ones in order; default: the lowest free ones of the VNE.
   */
  ips?: string;
  /**
   * Start them even though the image's program held files open for writing in place (not
   * appending), which every clone would then write at once, each believing it alone does (a
   * database's files): without it, more than one clone of such an image is refused, naming them.
   */
  acceptSharedFiles?: boolean;
}

/** A clone: the application, with the hostname and the virtual IP it was given. */
export interface Clone extends App {
  /** The hostname its processes see. */
  readonly hostname: string;
  /** Its virtual IP in the image's VNE; undefined when the image is in no VNE. */
  readonly ip?: string;
  /** The image's VNE, if it is in one. */
  readonly vne?: string;
}

/**
 * Restores `count` independent copies of one image: clone i (from 1) is named NAME-i, sees the
 * hostname it had when frozen with `-i` added (the real one's if it had none), and has its own
 * system IDs behind the same virtual IDs. An image in a virtual network environment gives each
 * clone its own virtual IP of the VNE (from `ips`, else the lowest free ones) under its own
 * hostname: the sockets it had bound listen again at the same virtual ports of the clone's
 * address (on other real ports where the first clone holds them). If one cannot start, those
 * already started are killed and the error is thrown.
 *
 * @example Three counters from one template image
 * ```ts
 * import { launch, restoreClones } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const image = await app.snapshot({ dir: `${dir}/template.amber`, stop: true });
 * const clones = await restoreClones(image, 3, { detach: true });
 * for (const clone of clones) console.log(clone.name, clone.hostname, clone.processes());
 * for (const clone of clones) await clone.kill();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function restoreClones(
  image: Image | string,
  count: number,
  options: ClonesOptions = {},
): Promise<Clone[]> {
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new RangeError(`Invalid count of clones '${count}': expected an integer from 1 to 1000`);
  }
  // The metadata, once for all; each clone's restore checks the pages (src/restore.ts).
  const { dir, manifest } = await verify(typeof image === "string" ? image : image.dir, false);
  const base = options.name ?? manifest.app.name;
  const host = manifest.app.hostname || Deno.hostname();
  const { ips: range, acceptSharedFiles, ...rest } = options;
  const { vne } = imageVne(join(dir, "tables.bin"));
  if (!vne && range !== undefined) {
    throw new RangeError(`Cannot give clones of '${dir}' the IPs '${range}': it is in no VNE`);
  }
  const ips = vne ? cloneAddresses(vne, count, range) : [];
  const shared = count > 1 && !acceptSharedFiles ? filesWrittenInPlace({ manifest }) : [];
  if (shared.length) {
    throw new IncompatibleImageError(
      `Cannot start ${count} clones of '${dir}': each would write, at once, the files its ` +
        `program held open (or mapped) for writing in place:\n` +
        shared.map((f) => `  '${f.path}' (process ${f.vpid}, ${f.held})\n`).join("") +
        `Give each clone its own copy of them (restore them one by one, the files copied in ` +
        `between), or accept it (--accept-shared-files, acceptSharedFiles).`,
    );
  }
  const clones: Clone[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const output = typeof options.output === "function"
        ? options.output(i)
        : options.output === undefined
        ? undefined
        : `${options.output}.${i}`;
      const hostname = checkHostname(`${host.slice(0, 64 - `-${i}`.length)}-${i}`);
      const ip = vne ? ips[i - 1] : undefined;
      const app = await restore(dir, {
        ...rest,
        // The first clone's writes are not changes a later one must refuse: it was accepted.
        acceptChangedFiles: rest.acceptChangedFiles || (acceptSharedFiles && i > 1),
        name: checkAppName(`${base}-${i}`),
        hostname,
        output,
        ip,
      });
      clones.push(Object.assign(app, { hostname, ip, vne: vne || undefined }));
    }
  } catch (cause) {
    for (const clone of clones) await clone.kill().catch(() => {});
    throw cause;
  }
  return clones;
}
