/**
 * The agent's connections, counted in all and per peer address, against their caps. A peer
 * must not be able to take every connection the agent will hold, and so shut out the computers
 * that hold the token: at a cap, the oldest connection that is not busy with a request (one that
 * has said nothing yet, or waits between requests) is closed to make room, and only when every
 * connection in the way is busy is the new one closed at once. A flood of idle connections so
 * closes its own, oldest first, while a client that sends its request at once gets it in.
 *
 * @module
 */

/** One open connection. */
export interface Slot {
  /** The peer's address. */
  readonly peer: string;
  /** While a request is being read or answered: never closed to make room. */
  busy: boolean;
  /** Closes the connection (idempotent). */
  readonly close: () => void;
}

/** The agent's open connections, against their caps. */
export class Slots {
  #max: number;
  #perPeer: number;
  #all = new Set<Slot>(); // oldest first
  #peers = new Map<string, Set<Slot>>();

  constructor(max: number, perPeer: number) {
    this.#max = max;
    this.#perPeer = perPeer;
  }

  /** How many connections are open. */
  get size(): number {
    return this.#all.size;
  }

  /** Every open connection, oldest first. */
  all(): Slot[] {
    return [...this.#all];
  }

  /**
   * A slot for a new connection from `peer`, made room for by closing an idle one (counted in
   * `evicted`); undefined when the connections in the way are all busy.
   */
  admit(peer: string, close: () => void, evicted: () => void): Slot | undefined {
    const mine = this.#peers.get(peer);
    if (mine && mine.size >= this.#perPeer && !this.#evict(mine, evicted)) return undefined;
    if (this.#all.size >= this.#max && !this.#evict(this.#all, evicted)) return undefined;
    const slot: Slot = { peer, busy: false, close };
    this.#all.add(slot);
    const set = this.#peers.get(peer) ?? new Set();
    set.add(slot);
    this.#peers.set(peer, set);
    return slot;
  }

  /** Forgets `slot` (its connection is closed). */
  release(slot: Slot): void {
    this.#all.delete(slot);
    const set = this.#peers.get(slot.peer);
    set?.delete(slot);
    if (set?.size === 0) this.#peers.delete(slot.peer);
  }

  #evict(among: Set<Slot>, evicted: () => void): boolean {
    for (const slot of among) {
      if (slot.busy) continue;
      this.release(slot);
      slot.close();
      evicted();
      return true;
    }
    return false;
  }
}
