/**
 * `amber snapshot NAME [-o DIR] [--parent DIR] [--stop] [--tcp-established] [--timeout MS] [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { defaultImageName } from "../names.ts";
import {
  formatBytes,
  interruptible,
  nameArgument,
  plural,
  printJson,
  timeoutArgument,
} from "./output.ts";

/** The `snapshot` command: freeze an application and write its image. */
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
    .option("--timeout <ms>", "how long each barrier may take (default 30000)", timeoutArgument)
    .option("--json", "print the image's manifest as JSON")
    .action(async (name, options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [{ open }, { lostConnectionLines, lostConnections }] = await Promise.all([
        import("../apps.ts"),
        import("../lost.ts"),
      ]);
      const dir = options.output ?? defaultImageName(name);
      const app = await open(name);
      // Ctrl-C abandons the snapshot: the application goes on as it was, nothing is left.
      const image = await interruptible((signal) =>
        app.snapshot({
          dir,
          stop: options.stop,
          timeoutMs: options.timeout,
          parent: options.parent,
          tcpEstablished: options.tcpEstablished,
          signal,
        })
      );
      if (options.json) {
        printJson(image);
        return;
      }
      const { processes, files } = image.manifest;
      const bytes = files.reduce((sum, file) => sum + file.size, 0);
      const stopped = options.stop ? "; the application has ended" : "";
      const parent = options.parent
        ? ` (pages unchanged since '${options.parent}' refer to it)`
        : "";
      console.log(
        `Snapshot of '${name}' written to '${dir}': ${
          plural(processes.length, "process", "processes")
        }, ` +
          `${plural(files.length, "file")}, ${formatBytes(bytes)}${parent}; ` +
          `frozen ${(image.frozenMs ?? 0).toFixed(0)} ms${stopped}.`,
      );
      for (const line of lostConnectionLines(lostConnections(image.manifest))) console.log(line);
    });
}
