/**
 * How the agent listens: TLS with a certificate and key the user gives, or plain HTTP. Plain
 * HTTP sends the token and whole images (process memory) in clear, so it is allowed without a
 * word only on loopback; anywhere else the user must ask for it (`--insecure-http`), knowing the
 * network is private (the tests' network namespaces are). Clients trust the agent's certificate
 * through the system's store, or Deno's `DENO_CERT` (a CA file) for a private one.
 *
 * @module
 */

import { AmberError } from "../errors.ts";

/** What the agent's listening socket needs beyond its address. */
export interface TransportOptions {
  /** A PEM certificate file for TLS; with `key`. */
  cert?: string;
  /** Its PEM private key file. */
  key?: string;
  /** Plain HTTP on an address other than loopback, asked for knowingly. */
  insecureHttp?: boolean;
}

function loopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The TLS certificate and key to serve with, or none for plain HTTP; throws when plain HTTP is unsafe. */
export async function transport(
  hostname: string,
  options: TransportOptions,
): Promise<{ cert: string; key: string } | Record<never, never>> {
  if (!!options.cert !== !!options.key) {
    throw new AmberError("TLS needs both a certificate (--cert) and its key (--key)", {
      reason: "agent",
    });
  }
  if (options.cert && options.key) {
    try {
      return {
        cert: await Deno.readTextFile(options.cert),
        key: await Deno.readTextFile(options.key),
      };
    } catch (cause) {
      throw new AmberError("Cannot read the agent's TLS certificate or key", {
        cause,
        reason: "agent",
      });
    }
  }
  if (loopback(hostname) || options.insecureHttp) return {};
  throw new AmberError(
    `Listening on ${hostname} over plain HTTP would send the token and images (process memory) ` +
      `in clear: give a certificate and key (--cert, --key) for TLS, or --insecure-http on a ` +
      `network you trust`,
    { reason: "agent" },
  );
}
