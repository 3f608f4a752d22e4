/**
 * `amber agent --listen HOST:PORT --token-file F [--cert F --key F | --insecure-http] [--name N]
 *   [--etcd URL] [--advertise IP] [--limit KEY=N]...`
 *
 * @module
 */

import { Command, InvalidArgumentError } from "npm:@commander-js/extra-typings@15.1.0";
import { type AgentLimits, DEFAULT_LIMITS, parseLimit } from "../agent/limits.ts";

/** The `agent` command: run this computer's agent until interrupted. */
export function agentCommand() {
  return new Command("agent")
    .description(
      "Run this computer's agent: receives migrated applications and, with etcd, mirrors the " +
        "VNE registry between computers",
    )
    .requiredOption("--listen <addr>", "where to listen, as HOST:PORT")
    .requiredOption("--token-file <file>", "a file holding the shared token (16+ characters)")
    .option("--cert <file>", "a PEM certificate: serve over TLS (with --key)")
    .option("--key <file>", "the certificate's PEM private key")
    .option(
      "--insecure-http",
      "serve plain HTTP on an address other than loopback (the token and images go in clear)",
    )
    .option("--name <name>", "this computer's name (default: its hostname)")
    .option("--etcd <url>", "etcd's URL, for a VNE registry shared between computers")
    .option(
      "--advertise <ip>",
      "this computer's address as the others reach it (default: the listen host)",
    )
    .option(
      "--limit <key=n>",
      "a limit on connections or requests (repeatable), one of: " +
        Object.entries(DEFAULT_LIMITS).map(([k, v]) => `${k} (default ${v})`).join(", "),
      (value: string, previous: AgentLimits) => {
        try {
          return parseLimit(value, previous);
        } catch (error) {
          if (error instanceof RangeError) throw new InvalidArgumentError(error.message);
          throw error;
        }
      },
      {} as AgentLimits,
    )
    .action(async (options) => {
      // Loaded when the command runs, so that every other command starts without them.
      const [{ readToken }, { serveAgent }] = await Promise.all([
        import("../agent/auth.ts"),
        import("../agent/server.ts"),
      ]);
      const token = await readToken(options.tokenFile);
      const controller = new AbortController();
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        Deno.addSignalListener(signal, () => controller.abort());
      }
      const agent = await serveAgent({
        ...options,
        token,
        signal: controller.signal,
        limits: options.limit,
      });
      await agent.finished;
    });
}
