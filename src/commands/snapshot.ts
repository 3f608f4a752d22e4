/**
 * `amber snapshot NAME [-o DIR] [--parent DIR] [--stop] [--tcp-established] [--verify] [--timeout MS] [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { defaultImageName } from "../names.ts";
import { snapshotEvery, statsText } from "./snapshot_every.ts";
import { progressBar } from "./progress_bar.ts";
import {
  countArgument,
  durationArgument,
  interruptible,
  nameArgument,
  printJson,
  timeoutArgument,
} from "./output.ts";

/** The `snapshot` command: freeze an application and write its image. */
/** Connections kept in an image of an application that goes on are of no use to a restore. */
const LIVE_TCP_NOTE = "The application goes on with its TCP connections, and closes them when " +
  "it ends: a restore of this image finds them reset. To keep them, snapshot with --stop.";

export function snapshotCommand() {
  return new Command("snapshot")
    .description("Freeze an application, write its image, and let it go on (or --stop it)")
    .argument("<name>", "the application", nameArgument)
    .option(
      "-o, --output <dir>",
      "the image directory to create (default: NAME-<time>-<random>.amber)",
    )
    .option("--parent <dir>", "an earlier image: write only the pages that changed since it")
    .option("--stop", "end the application once its image is written")
    .option("--tcp-established", "keep established TCP connections (TCP_REPAIR; use with --stop)")
    .option(
      "--verify",
      "read the image back before it takes its name, every page against its hash (with --stop, " +
        "the application runs on if it fails)",
    )
    .option("--timeout <ms>", "how long each barrier may take (default 30000)", timeoutArgument)
    .option("--json", "print the image's manifest as JSON")
    .option(
      "--every <duration>",
      "snapshot periodically (e.g. 10s, 500ms, 2m) until Ctrl-C, each incremental on the " +
        "last; -o is then the folder of the images (default: NAME.snapshots)",
      durationArgument,
    )
    .option(
      "--keep <n>",
      "with --every: keep at most N images, all restorable (default 5)",
      countArgument,
    )
    .option("--count <n>", "with --every: stop after N snapshots", countArgument)
    .action(async (name, options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [{ open }, { lostConnectionLines, lostConnections }] = await Promise.all([
        import("../apps.ts"),
        import("../lost.ts"),
      ]);
      if (options.every === undefined && (options.keep ?? options.count) !== undefined) {
        throw new RangeError("--keep and --count go with --every");
      }
      if (options.every !== undefined) {
        if (options.stop || options.parent) {
          throw new RangeError("--every cannot go with --stop or --parent");
        }
        await snapshotEvery(await open(name), { ...options, everyMs: options.every });
        return;
      }
      const dir = options.output ?? defaultImageName(name);
      const app = await open(name);
      // Ctrl-C abandons the snapshot: the application goes on as it was, nothing is left.
      const image = await interruptible(async (signal) => {
        using bar = progressBar(options.json);
        return await app.snapshot({
          onProgress: bar.callback,
          dir,
          stop: options.stop,
          timeoutMs: options.timeout,
          parent: options.parent,
          tcpEstablished: options.tcpEstablished,
          verify: options.verify,
          signal,
        });
      }, options.json);
      if (options.json) {
        printJson(image);
        return;
      }
      const stopped = options.stop ? "; the application has ended" : "";
      console.log(`Snapshot of '${name}' written to '${dir}'${stopped}.`);
      if (image.stats) console.log(statsText(image.stats, options.parent));
      const lost = lostConnections(image.manifest);
      for (const line of lostConnectionLines(lost, options.tcpEstablished)) console.log(line);
      if (options.tcpEstablished && !options.stop) console.log(LIVE_TCP_NOTE);
    });
}
