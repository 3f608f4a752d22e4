/**
 * `amber ps [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import type { ExitRecord } from "../exited.ts";
import { columns, printJson } from "./output.ts";

/** What a process runs: its arguments, from /proc. */
function commandOf(pid: number): string {
  try {
    const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((a) => a);
    const line = args.join(" ");
    return line.length > 60 ? `${line.slice(0, 57)}...` : line;
  } catch {
    return "";
  }
}

/** "exited 3 at <time>" or "killed by signal 15 at <time>". */
function exitedState({ at, code, signal }: ExitRecord): string {
  return `${signal ? `killed by signal ${signal}` : `exited ${code}`} at ${at}`;
}

/** The `ps` command: every application, its processes, their virtual and system pids. */
export function psCommand() {
  return new Command("ps")
    .description(
      "List the applications running under Amber, with their processes, and the detached " +
        "ones that have ended, with their status (until `kill` removes them)",
    )
    .option("--json", "print JSON")
    .action(async (options) => {
      const { list } = await import("../apps.ts"); // loaded when the command runs
      const apps = await list();
      if (options.json) {
        printJson(apps.map(({ app: _app, ...listing }) => listing));
        return;
      }
      if (apps.length === 0) {
        console.log("No applications are running under Amber.");
        return;
      }
      const rows = [["NAME", "ID", "STATE", "VPID", "PID", "PARENT", "COMMAND"]];
      for (const app of apps) {
        if (app.exited) {
          rows.push([app.name, "-", exitedState(app.exited), "", "", "", ""]);
          continue;
        }
        const state = app.orphanedSupervisor
          ? `running, state directory gone (supervisor pid ${app.orphanedSupervisor})`
          : app.stale
          ? "stale"
          : "running";
        if (app.processes.length === 0) rows.push([app.name, app.id || "-", state]);
        app.processes.forEach((p, i) => {
          const head = i === 0 ? [app.name, app.id || "-", state] : ["", "", ""];
          const pid = p.pid < 0 ? "-" : p.alive ? String(p.pid) : `${p.pid} (gone)`;
          const command = p.alive && p.pid > 0 ? commandOf(p.pid) : "";
          rows.push([...head, String(p.vpid), pid, String(p.parent), command]);
        });
      }
      console.log(columns(rows));
    });
}
