/**
 * `amber vne create NAME --subnet CIDR`, `amber vne ls [--json]`, `amber vne rm NAME`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { columns, printJson } from "./output.ts";

/** The `vne` command and its subcommands: virtual network environments of this computer. */
export function vneCommand() {
  const vne = new Command("vne")
    .description("Manage virtual network environments (virtual subnets whose addresses move)");
  vne.command("create")
    .description("Create a VNE with a virtual subnet")
    .argument("<name>", "the VNE's name")
    .requiredOption("--subnet <cidr>", "its virtual subnet, as 10.10.2.0/24")
    .option("--json", "print JSON")
    .action(async (name, options) => {
      const { createVne } = await import("../vne/registry.ts"); // loaded when the command runs
      const created = createVne(name, options.subnet);
      if (options.json) printJson(created);
      else console.log(`VNE '${created.name}' created with subnet ${created.subnet}.`);
    });
  vne.command("ls")
    .description("List the VNEs, their applications and virtual IPs")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listVnes } = await import("../vne/registry.ts"); // loaded when the command runs
      const vnes = listVnes();
      if (options.json) {
        printJson(vnes);
        return;
      }
      if (vnes.length === 0) {
        console.log("No VNEs: create one with 'amber vne create NAME --subnet 10.10.2.0/24'.");
        return;
      }
      const rows = [["VNE", "SUBNET", "APP", "IP", "HOSTNAME", "COMPUTER"]];
      for (const v of vnes) {
        if (v.members.length === 0) rows.push([v.name, v.subnet, "-"]);
        v.members.forEach((m, i) => {
          const head = i === 0 ? [v.name, v.subnet] : ["", ""];
          rows.push([...head, m.app, m.ip, m.hostname || "-", m.host || "this one"]);
        });
      }
      console.log(columns(rows));
    });
  vne.command("rm")
    .description("Remove a VNE (refused while an application is in it)")
    .argument("<name>", "the VNE's name")
    .option("--json", "print JSON")
    .action(async (name, options) => {
      const { removeVne } = await import("../vne/registry.ts"); // loaded when the command runs
      removeVne(name);
      if (options.json) printJson({ name, removed: true });
      else console.log(`VNE '${name}' removed.`);
    });
  return vne;
}
