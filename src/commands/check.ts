/**
 * `amber check [--json]`
 *
 * @module
 */

import { Command } from "npm:@commander-js/extra-typings@15.1.0";
import { AmberError } from "../errors.ts";
import { columns, printJson } from "./output.ts";

/** The `check` command: which kernel features Amber relies on this computer has. */
export function checkCommand() {
  return new Command("check")
    .description(
      "Try every kernel and CPU feature Amber relies on and say which this computer has; exit " +
        "0 when Amber can work here, 1 naming what is missing",
    )
    .option("--json", "print JSON (errors as JSON too)")
    .action(async (options) => {
      const { check } = await import("../check.ts");
      const report = check();
      if (options.json) printJson(report);
      else {
        console.log(`Kernel ${report.kernel}`);
        console.log(columns(report.features.map((f) => [
          f.present ? "yes" : f.required ? "MISSING" : "no",
          f.name,
          f.detail,
        ])));
        const lost = report.features.filter((f) => !f.present && !f.required);
        for (const f of lost) console.log(`Without ${f.name}: no ${f.usedFor}.`);
        if (report.ok) console.log("Amber can work on this computer.");
      }
      if (!report.ok) {
        const names = report.features.filter((f) => report.missing.includes(f.id));
        throw new AmberError(
          `Amber cannot work on this computer: missing ${
            names.map((f) => `${f.name} (${f.detail})`).join("; ")
          }`,
        );
      }
    });
}
