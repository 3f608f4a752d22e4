/**
 * `amber tables NAME [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import type { TableRow } from "../../mod.ts";
import { isProcessRow, pidRole } from "../processes.ts";
import { columns, formatBytes, nameArgument, printJson } from "./output.ts";

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

function hex(key: number): string {
  return `0x${(key >>> 0).toString(16).padStart(8, "0")}`;
}

/** The attributes column: what restore needs to re-create the resource. */
export function attributes(row: TableRow): string {
  switch (row.kind) {
    case "pid": {
      const parent = isProcessRow(row) ? ` parent=${row.parent}` : "";
      return `${pidRole(row)}${parent}${row.alive ? "" : " gone"}`;
    }
    case "sem":
      return `key=${hex(row.key)} mode=${octal(row.mode)} nsems=${row.nitems}`;
    case "shm":
      return `key=${hex(row.key)} mode=${octal(row.mode)} size=${formatBytes(row.size)}`;
    case "msg":
      return `key=${hex(row.key)} mode=${octal(row.mode)} qbytes=${row.size}`;
  }
}

/** The `tables` command: an application's virtual <-> system translation table. */
export function tablesCommand() {
  return new Command("tables")
    .description("Show an application's translation table: virtual and system IDs")
    .argument("<name>", "the application", nameArgument)
    .option("--json", "print JSON")
    .action(async (name, options) => {
      const { open } = await import("../apps.ts"); // loaded when the command runs
      const rows = (await open(name)).tables();
      if (options.json) {
        printJson(rows);
        return;
      }
      const lines = [["KIND", "VIRTUAL", "SYSTEM", "OWNER", "ATTRIBUTES"]];
      for (const row of rows) {
        const sid = row.sid < 0 ? "-" : String(row.sid);
        lines.push([row.kind, String(row.vid), sid, String(row.owner), attributes(row)]);
      }
      console.log(columns(lines));
    });
}
