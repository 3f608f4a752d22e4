/**
 * Commands that are designed but not built yet: `migrate`, `agent`. Each fails with a
 * message naming the feature.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { NotImplementedError } from "../errors.ts";

function unimplemented(name: string, summary: string, feature: string) {
  return new Command(name)
    .description(`${summary} (not implemented yet)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new NotImplementedError(`'amber ${name}' is not implemented yet: ${feature}`);
    });
}

/** `amber migrate`: move an application to another computer. */
export function migrateCommand() {
  return unimplemented(
    "migrate",
    "Move an application to another computer",
    "migration (snapshot, stream, restore on another computer) is not available",
  );
}

/** `amber agent`: the per-computer agent. */
export function agentCommand() {
  return unimplemented(
    "agent",
    "Run the per-computer agent",
    "the agent (receives images, answers for the VNE registry) is not available",
  );
}
