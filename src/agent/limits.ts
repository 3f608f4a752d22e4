/**
 * What one peer may take of the agent: connections, and how long and how much a request may
 * take to arrive. The agent answers on the network to anyone who connects, before it knows
 * whether they hold the token, so these bound what a peer without it can hold (docs/migration.md,
 * "Floods").
 *
 * @module
 */

/** The agent's limits on connections and requests; every field has a default. */
export interface AgentLimits {
  /** Connections open at once, from all peers; default 512. */
  maxConnections?: number;
  /** Connections open at once from one peer address; default 64. */
  maxConnectionsPerPeer?: number;
  /**
   * How long a connection has, from its opening, for its TLS handshake and its first request's
   * head (request line and headers); default 10 000 ms.
   */
  headTimeoutMs?: number;
  /**
   * How long a connection may wait for its next request after an answer (only answers to
   * authorized requests keep a connection open), its head included; default 120 000 ms: longer
   * than clients keep an idle connection (`fetch` 90 s), so that the agent never closes one as
   * the client sends on it.
   */
  idleTimeoutMs?: number;
  /** The largest request head, in bytes; default 16 KiB. */
  maxHeadBytes?: number;
  /**
   * While the agent waits for a request's body, each window of this many ms of waiting must
   * bring {@linkcode AgentLimits.bodyMinBytes} (or the rest of the body); default 30 000.
   */
  bodyWindowMs?: number;
  /** See {@linkcode AgentLimits.bodyWindowMs}; default 64 KiB. */
  bodyMinBytes?: number;
  /** The largest body of a request other than an image stream, in bytes; default 1 MiB. */
  maxBodyBytes?: number;
}

/** The defaults of {@linkcode AgentLimits}. */
export const DEFAULT_LIMITS: Readonly<Required<AgentLimits>> = Object.freeze({
  maxConnections: 512,
  maxConnectionsPerPeer: 64,
  headTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  maxHeadBytes: 16 << 10,
  bodyWindowMs: 30_000,
  bodyMinBytes: 64 << 10,
  maxBodyBytes: 1 << 20,
});

/** `limits` over the defaults; throws RangeError for a value that is not a positive integer. */
export function resolveLimits(limits: AgentLimits = {}): Required<AgentLimits> {
  const given = Object.entries(limits).filter(([, value]) => value !== undefined);
  const out = { ...DEFAULT_LIMITS, ...Object.fromEntries(given) };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(
        `Expected agent limit '${key}' to be a positive integer, found ${value}`,
      );
    }
  }
  return out;
}

/**
 * `limits` with one more, given as `key=value` (the command line's `--limit`); throws
 * RangeError for an unknown key or a value that is not a positive integer.
 */
export function parseLimit(text: string, limits: AgentLimits = {}): AgentLimits {
  const m = /^([A-Za-z]+)=(\d+)$/.exec(text);
  if (!m || !(m[1] in DEFAULT_LIMITS) || !(Number(m[2]) > 0)) {
    throw new RangeError(
      `Invalid limit '${text}': expected KEY=N with N a positive integer and KEY one of ` +
        Object.keys(DEFAULT_LIMITS).join(", "),
    );
  }
  return { ...limits, [m[1]]: Number(m[2]) };
}
