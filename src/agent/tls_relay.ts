/**
 * TLS behind the agent's own TCP listener. Deno closes a TLS connection only once its
 * handshake is over, so a peer that connects and never starts one keeps its socket however the
 * agent closes it: a flood of such peers would take every descriptor. The agent therefore
 * accepts plain TCP (which it can close at once) and relays each connection's bytes to a TLS
 * listener of its own on loopback; closing the relay's two TCP ends makes the TLS end see the
 * end of its stream, so its handshake fails and its socket goes too.
 *
 * Local users can reach the loopback listener too. It serves only the relay's own connections: the
 * relay knows each one's local port once its connect returns, and a connection the listener
 * accepts from any other address is closed at once (or, while relay connects are under way, as
 * soon as those that were under way when it came in have returned without naming it). Its TLS
 * handshake may have begun by then (Deno starts it at the accept), but it is never read from.
 *
 * @module
 */

/** One relayed connection: the TLS end to serve, and how to close all its ends. */
export interface Relayed {
  tls: Deno.TlsConn;
  /** Resolves when both directions have ended. */
  done: Promise<void>;
}

const UNCLAIMED_MS = 2_000;

/** The loopback TLS listener and the connections relayed to it. */
export class TlsRelay {
  #inner: Deno.TlsListener;
  /** Relayed connections by the relay's local port: the TLS end, or who waits for it. */
  #waiting = new Map<number, (tls: Deno.TlsConn) => void>();
  #early = new Map<number, { tls: Deno.TlsConn; timer: ReturnType<typeof setTimeout> }>();
  /** Relay connects under way, and the connections accepted meanwhile that no port named yet. */
  #connecting = new Set<symbol>();
  #unnamed = new Set<{ tls: Deno.TlsConn; port: number; before: Set<symbol> }>();
  #accepting: Promise<void>;

  constructor(cert: string, key: string) {
    this.#inner = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert,
      key,
      alpnProtocols: ["http/1.1"],
    });
    this.#accepting = this.#accept();
  }

  /**
   * Relays `outer` to the TLS listener; `closers` gets what closes the relay's ends, and
   * `close` runs them all. Resolves with the TLS end, or undefined when the relay could not be
   * made.
   */
  async open(
    outer: Deno.TcpConn,
    closers: (() => void)[],
    close: () => void,
  ): Promise<Relayed | undefined> {
    const connect = Symbol();
    this.#connecting.add(connect);
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: (this.#inner.addr as Deno.NetAddr).port,
    }).catch(() => undefined);
    this.#connected(connect, client?.localAddr.port);
    if (!client) return undefined;
    closers.push(() => quietly(() => client.close()));
    client.setNoDelay(true);
    const port = client.localAddr.port;
    const early = this.#early.get(port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    clearTimeout(early?.timer);
    const tls = early?.tls ?? await new Promise<Deno.TlsConn | undefined>((resolve) => {
      this.#waiting.set(port, resolve);
      timer = setTimeout(() => resolve(undefined), UNCLAIMED_MS);
    });
    clearTimeout(timer);
    this.#early.delete(port);
    this.#waiting.delete(port);
    if (!tls) return undefined;
    closers.push(() => quietly(() => tls.close()));
    // Once the agent's side has ended and its last bytes are out, the relay ends.
    pump(outer, client).catch(close);
    const done = pump(client, outer).then(close, close);
    return { tls, done };
  }

  /** Stops the TLS listener; resolves once its accepting ended. */
  async close(): Promise<void> {
    quietly(() => this.#inner.close());
    await this.#accepting;
    for (const { tls, timer } of this.#early.values()) {
      clearTimeout(timer);
      quietly(() => tls.close());
    }
    this.#early.clear();
    for (const { tls } of this.#unnamed) quietly(() => tls.close());
    this.#unnamed.clear();
  }

  /** A relay connect returned (from `port`, or failed): the connections it may be are decided. */
  #connected(connect: symbol, port: number | undefined): void {
    this.#connecting.delete(connect);
    for (const unnamed of this.#unnamed) {
      unnamed.before.delete(connect);
      if (unnamed.port === port) {
        this.#unnamed.delete(unnamed);
        this.#claimable(unnamed.tls, unnamed.port);
      } else if (unnamed.before.size === 0) {
        this.#unnamed.delete(unnamed);
        quietly(() => unnamed.tls.close());
      }
    }
  }

  /** Keeps a relay's TLS end until its relay asks for it (it may not have yet). */
  #claimable(tls: Deno.TlsConn, port: number): void {
    const timer = setTimeout(() => {
      this.#early.delete(port);
      quietly(() => tls.close());
    }, UNCLAIMED_MS);
    this.#early.set(port, { tls, timer });
  }

  async #accept(): Promise<void> {
    for (;;) {
      let tls: Deno.TlsConn;
      try {
        tls = await this.#inner.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const { hostname, port } = tls.remoteAddr as Deno.NetAddr;
      const waiting = this.#waiting.get(port);
      if (hostname !== "127.0.0.1") {
        quietly(() => tls.close()); // the relay connects from 127.0.0.1 only
      } else if (waiting) {
        waiting(tls);
      } else if (this.#connecting.size > 0) {
        // A relay connect under way may be this one: decided when those under way return.
        this.#unnamed.add({ tls, port, before: new Set(this.#connecting) });
      } else {
        quietly(() => tls.close()); // a local peer's own
      }
    }
  }
}

function quietly(close: () => void): void {
  try {
    close();
  } catch {
    // Closed already.
  }
}

/** Copies `from` to `to` until `from` ends, then ends `to`'s writing side. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 << 10);
  for (let n; (n = await from.read(buf)) !== null;) {
    for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
  }
  await to.closeWrite();
}
