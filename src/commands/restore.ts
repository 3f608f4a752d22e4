/**
 * `amber restore DIR [--name NEW] [--clones N [--ips FIRST-LAST]] [--detach] [--lazy]
 *   [--accept-changed-files] [--accept-shared-files] [--output F] [--timeout MS]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import type { App } from "../app.ts";
import type { Clone } from "../clones.ts";
import {
  countArgument,
  EXIT_FAILURE,
  interruptible,
  nameArgument,
  printJson,
  timeoutArgument,
} from "./output.ts";
import { progressBar } from "./progress_bar.ts";

/** The `restore` command: thaw an image as a new application. */
export function restoreCommand() {
  return new Command("restore")
    .description(
      "Restore an image as a new application: same virtual IDs, new system IDs. Without " +
        "--detach, wait for it and exit with its status; with --detach, print its name.",
    )
    .argument("<dir>", "the image directory")
    .option("--name <name>", "the new application's name (default: the frozen one's)", nameArgument)
    .option(
      "--clones <n>",
      "start N independent copies, named NAME-1..N, hostnames with -1..N added " +
        "(--output F: clone i appends to F.i)",
      countArgument,
    )
    .option(
      "--ips <first-last>",
      "with --clones of an image in a VNE: the clones' virtual IPs, from this range " +
        "(default: the lowest free ones)",
    )
    .option("--detach", "return at once; the application runs on")
    .option("--lazy", "map memory from the image, read when first touched (keep the image)")
    .option(
      "--accept-changed-files",
      "restore even if files the program wrote in place changed after the snapshot",
    )
    .option(
      "--accept-shared-files",
      "with --clones: start them even though they would all write the files the program " +
        "held open (or mapped) for writing in place",
    )
    .option("--output <file>", "append the program's stdout and stderr to this file")
    .option("--timeout <ms>", "how long the processes may take to come back", timeoutArgument)
    .option("--json", "with --detach, print the applications as JSON (errors as JSON too)")
    .action(async (dir, options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [
        { restore },
        { restoreClones },
        { readImage },
        { lostConnectionLines, lostConnections },
        { sharedVpidsWarning, sharingVpids },
      ] = await Promise.all([
        import("../restore.ts"),
        import("../clones.ts"),
        import("../image.ts"),
        import("../lost.ts"),
        import("../vpid_range.ts"),
      ]);
      const { clones, json, ips, acceptSharedFiles, ...rest } = options;
      if (ips !== undefined && clones === undefined) {
        throw new RangeError("--ips is for --clones: give --clones N too");
      }
      if (acceptSharedFiles && clones === undefined) {
        throw new RangeError("--accept-shared-files is for --clones: give --clones N too");
      }
      // Ctrl-C before the application is back abandons the restore: nothing of it is left.
      const apps: App[] = await interruptible(async (signal) => {
        using bar = progressBar(json);
        const how = { ...rest, timeoutMs: options.timeout, signal, onProgress: bar.callback };
        return clones === undefined
          ? [await restore(dir, how)]
          : await restoreClones(dir, clones, { ...how, ips, acceptSharedFiles });
      }, json);
      const image = await readImage(dir);
      const lost = image.lost ?? lostConnections(image.manifest);
      // A restore keeps the image's virtual pids: other applications with the same ones (clones,
      // the original) share every file a program names by its pid.
      const shared = sharingVpids(apps.map((app) => app.name));
      if (!json) {
        for (const line of lostConnectionLines(lost)) {
          console.error(line); // stdout is the program's, or the name with --detach
        }
        const warning = sharedVpidsWarning(shared.names, shared.base);
        if (warning) console.error(warning);
      }
      if (options.detach) {
        if (json) {
          printJson(apps.map((app) => ({
            name: app.name,
            id: app.id,
            processes: app.processes(),
            ...cloneAddress(app),
            ...sameVpids(app.name, shared.names),
          })));
        } else {
          for (const app of apps) console.log(app.name);
        }
        return;
      }
      const codes = await Promise.all(apps.map(async (app) => (await app.wait()).code));
      // The first failure's status (one killed by a signal, whose status is unknown: 1), else 0.
      const failed = codes.find((code) => code !== 0);
      Deno.exitCode = failed === undefined ? 0 : failed ?? EXIT_FAILURE;
    });
}

/** For --json: the other applications with the same virtual pids, if any. */
function sameVpids(name: string, shared: readonly string[]): { sameVpidsAs?: string[] } {
  const others = shared.filter((other) => other !== name);
  return others.length ? { sameVpidsAs: others } : {};
}

/** A clone's hostname and, in a VNE, its VNE and virtual IP (for --json). */
function cloneAddress(app: App | Clone): { hostname?: string; vne?: string; ip?: string } {
  if (!("hostname" in app)) return {};
  return { hostname: app.hostname, ...(app.ip ? { vne: app.vne, ip: app.ip } : {}) };
}
