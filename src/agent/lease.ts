/**
 * With etcd, owning an application's virtual IP, and its name, is a lease (docs/migration.md):
 * the agent puts its computer's claims (mirror.ts) and names (app_owners.ts) with a lease of its
 * own, which it renews every second. An application may run only while its computer holds them:
 *
 * - if the agent could not renew the lease for {@linkcode FENCE_MS} (half its TTL, so before
 *   etcd lets it expire and another computer may take the claim), it stops (SIGSTOP) every
 *   application of this computer, and records them (`fenced.json`, so
 *   that a restarted agent knows them too);
 * - once etcd answers again, each stopped application whose claims etcd still gives to it, or
 *   to no one, takes them again (a put-if, under the new lease) and goes on (SIGCONT); one whose
 *   virtual IP another application took meanwhile has lost it, and is ended.
 *
 * A copy restored held for a migration claims nothing yet (handoff.ts), and is left alone.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "npm:zod@4.6.7";
import { AppState } from "../../ffi/control.ts";
import { Origin } from "../../ffi/vne.ts";
import { open } from "../apps.ts";
import { openAppTable } from "../app_table.ts";
import { AppNotFoundError } from "../errors.ts";
import { appDir, stateDir } from "../paths.ts";
import { isRestoredHeld } from "../migrate/hold.ts";
import { readRecord, writeRecord } from "../migrate/record.ts";
import { openVneTable, prune } from "../vne/registry.ts";
import type { Etcd } from "./etcd.ts";
import { claimKey, claimValue, parseClaim } from "./mirror.ts";
import { clearFrozen, frozenBySupervisor, handRenewal } from "./lease_files.ts";
import {
  NameOwnedError,
  OWNER_PREFIX,
  ownerKey,
  ownerValue,
  parseOwner,
  runningApps,
} from "./app_owners.ts";

/** The lease's time to live, in seconds. */
export const LEASE_TTL_S = 10;
/** How often it is renewed, in ms. */
const RENEW_MS = 1_000;
/** Without a renewal for this long, this computer's applications are stopped. */
export const FENCE_MS = (LEASE_TTL_S * 1000) / 2;

/** How long other computers are given to mirror this one's entries before an application goes on. */
const PUBLISHED_MS = 250;

const SIGCONT = 18;
const SIGSTOP = 19;

const Fenced = z.record(z.string(), z.string());

/** This agent's lease, and the applications it stopped for want of it. */
export class Ownership {
  readonly #etcd: Etcd;
  readonly #host: string;
  readonly #log: (line: string) => void;
  #id: string | undefined;
  #renewedAt = 0;
  #triedAt = 0;
  /** Stopped applications: name -> application ID. */
  #fenced: Record<string, string> = {};
  /** Applications that could not be handed a renewal (said once). */
  #unrenewable = new Set<string>();
  /** Names reserved for restores under way (their keys stay). */
  #reserved = new Set<string>();
  /** Applications whose supervisor was handed a renewal. */
  #handed = new Set<string>();
  #file = join(stateDir(), "fenced.json");

  readonly #replaces: Map<string, string>;
  /**
   * Publishes this computer's entries (the mirror's sync): an application that goes on again
   * connects at once, and the other computers must know its addresses by then.
   */
  publish: () => Promise<void> = () => Promise.resolve();

  /** `replaces`: the agent's map of released migrations' copies to their originals' IDs. */
  constructor(
    etcd: Etcd,
    host: string,
    replaces: Map<string, string>,
    log: (line: string) => void,
  ) {
    this.#etcd = etcd;
    this.#host = host;
    this.#replaces = replaces;
    this.#log = log;
  }

  /** Whether etcd's claim `text` leaves the virtual IP to `appId` (its own, no one's, its original's). */
  #mayHold(appId: string, text: string | undefined): boolean {
    const current = parseClaim(text);
    return !current || current.appId === appId || current.appId === this.#replaces.get(appId);
  }

  /** Whether etcd's owner `text` of a name leaves it to `appId` (this computer's, no one's, its original's). */
  #mayOwn(appId: string, text: string | undefined): boolean {
    const owner = parseOwner(text);
    return !owner || owner.host === this.#host || owner.appId === appId ||
      owner.appId === this.#replaces.get(appId);
  }

  /**
   * Reserves the name `name` for an application this agent is about to restore, until `done`
   * runs: refused (NameOwnedError) while another computer's application owns it, or while this
   * agent holds no lease. `replaces`: a migration's original, whose copy takes its key over once
   * released (its original's key stays until then).
   */
  async reserve(name: string, replaces?: string): Promise<{ done: () => void }> {
    const key = ownerKey(name);
    for (let tries = 0;; tries++) {
      const text = (await this.#etcd.range(key)).get(key);
      const owner = parseOwner(text);
      if (owner && owner.host !== this.#host && owner.appId !== replaces) {
        throw new NameOwnedError(
          `An application named '${name}' runs on computer '${owner.host}' (${owner.appId}): ` +
            `only one may run at a time`,
        );
      }
      // A migration's original runs on meanwhile: its key (if it has none yet, it gets it) is
      // taken over only at the commit. Any other restore puts a key first.
      if (owner || replaces) break;
      const lease = this.lease;
      if (!lease) {
        throw new NameOwnedError(`Cannot reserve the name '${name}': this agent holds no lease`);
      }
      if (await this.#etcd.putIf(key, text, ownerValue("", this.#host), lease)) break;
      if (tries === 2) throw new NameOwnedError(`Cannot reserve the name '${name}' in etcd`);
    }
    this.#reserved.add(name);
    return { done: () => this.#reserved.delete(name) };
  }

  /** Every application of this computer under the lease: those claiming a virtual IP, and all that run. */
  async #targets(): Promise<Map<string, string>> {
    using table = openVneTable();
    const claims = prune(table).claims.filter((c) => c.origin === Origin.LOCAL);
    const targets = new Map(claims.map((c) => [c.app, c.appId]));
    for (const [name, appId] of await runningApps()) {
      if (!targets.has(name)) targets.set(name, appId);
    }
    // One being restored here is not known yet (a migration's copy is held: it owns nothing).
    for (const name of this.#reserved) targets.delete(name);
    return targets;
  }

  /** Reads what a stopped agent had fenced. */
  async load(): Promise<void> {
    this.#fenced = (await readRecord(this.#file, Fenced).catch(() => undefined)) ?? {};
  }

  /** The lease to put this computer's entries with, while it is held. */
  get lease(): string | undefined {
    return this.#fresh() ? this.#id : undefined;
  }

  /** Whether the application `appId` is stopped for want of the lease. */
  isFenced(appId: string): boolean {
    return Object.values(this.#fenced).includes(appId);
  }

  #fresh(): boolean {
    return this.#id !== undefined && Date.now() - this.#renewedAt < FENCE_MS;
  }

  /**
   * Renews the lease every second, and checks every 100 ms whether it is held: a renewal that
   * hangs on a cut network does not delay the stop.
   */
  start(signal?: AbortSignal): void {
    let guarding = false;
    let adopted = false;
    const renew = async () => {
      try {
        if (this.#id === undefined || !(await this.#etcd.keepAlive(this.#id))) {
          if (this.#id !== undefined) this.#log(`Lease ${this.#id} expired: taking a new one`);
          this.#id = await this.#etcd.grant(LEASE_TTL_S);
        }
        this.#renewedAt = Date.now();
        await this.#handRenewals();
        if (!adopted) {
          // What ran while no agent watched: a copy whose IP etcd gives another has lost it.
          const remote = await this.#etcd.range("/amber/vne/claim/");
          using table = openVneTable();
          const lost = prune(table).claims.filter((c) =>
            c.origin === Origin.LOCAL && !this.#mayHold(c.appId, remote.get(claimKey(c.vne, c.ip)))
          );
          await this.#fence(
            "another application holds its virtual IP",
            new Map(lost.map((c) => [c.app, c.appId])),
          );
          adopted = true;
        }
      } catch (error) {
        this.#log(`Lease: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!signal?.aborted) setTimeout(renew, RENEW_MS);
    };
    const guard = async () => {
      if (!guarding) {
        guarding = true;
        try {
          if (!this.#fresh()) await this.#fence();
          else if (Object.keys(this.#fenced).length > 0) await this.#unfence();
        } catch (error) {
          this.#log(`Lease: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          guarding = false;
        }
      }
      if (!signal?.aborted) setTimeout(guard, 100);
    };
    void renew().then(guard);
  }

  /**
   * Hands the renewal to the supervisor of each application of this computer under the lease
   * (lease_files.ts), puts its name's owner key (app_owners.ts), and takes on those their
   * supervisor stopped: an agent that dies renews nothing, so they stopped by themselves;
   * #unfence lets them go on, or ends them. One whose name another computer owns is stopped.
   */
  async #handRenewals(): Promise<void> {
    const targets = await this.#targets();
    const owners = await this.#etcd.rangeLeased(OWNER_PREFIX);
    const lease = this.#id!;
    const lost = new Map<string, string>();
    let changed = false;
    for (const [name, appId] of targets) {
      try {
        const app = await open(name);
        if (app.id !== appId || isRestoredHeld(app)) continue;
        handRenewal(app.dir, FENCE_MS);
        this.#handed.add(appId);
        if (this.#fenced[name] !== appId && await frozenBySupervisor(app)) {
          this.#fenced[name] = appId;
          changed = true;
          this.#log(`'${name}' was stopped by its supervisor: the lease was not renewed`);
        }
        // A stopped application's key is neither put nor dropped (#unfence takes it again).
        if (this.#fenced[name] === appId) continue;
        const key = ownerKey(name),
          current = owners.get(key),
          value = ownerValue(appId, this.#host);
        if (!this.#mayOwn(appId, current?.value)) lost.set(name, appId);
        else if (current?.value !== value || current.lease !== lease) {
          // Lost to a put of another meanwhile: seen by the next round.
          await this.#etcd.putIf(key, current?.value, value, lease);
        }
      } catch (cause) {
        // Said once per application (one started in another network namespace never can be).
        if (!(cause instanceof AppNotFoundError) && !this.#unrenewable.has(appId)) {
          this.#unrenewable.add(appId);
          this.#log(`Cannot renew '${name}': ${cause}`);
        }
      }
    }
    if (changed) await writeRecord(this.#file, this.#fenced);
    // The keys of this computer's applications that ended go (a migrated one's copy may have
    // taken its key over: only if it is still theirs).
    const fenced = new Set(Object.values(this.#fenced));
    for (const [key, { value }] of owners) {
      const owner = parseOwner(value);
      const name = key.slice(OWNER_PREFIX.length);
      if (
        owner?.host === this.#host && targets.get(name) !== owner.appId &&
        !fenced.has(owner.appId) && !this.#reserved.has(name)
      ) {
        await this.#etcd.deleteIf(key, value);
      }
    }
    await this.#fence("another computer runs an application of that name", lost);
  }

  /**
   * Hands a renewal to the supervisor of `appId` (named `name`) if none was yet: the mirror
   * calls it before it publishes the application's claim, so that whatever etcd gives this
   * computer stops by itself if this agent dies.
   */
  handFirst(appId: string, name: string): void {
    if (this.#handed.has(appId) || !this.#fresh()) return;
    try {
      handRenewal(appDir(name), FENCE_MS);
      this.#handed.add(appId);
    } catch (cause) {
      this.#log(`Cannot renew '${name}': ${cause}`);
    }
  }

  /** Stops every application of this computer under the lease (or those `which`: name -> ID). */
  async #fence(
    why = "this computer's lease is not renewed",
    which?: Map<string, string>,
  ): Promise<void> {
    let changed = false;
    for (const [name, appId] of which ?? await this.#targets()) {
      if (this.#fenced[name] === appId) continue;
      try {
        const app = await open(name);
        // A copy held for a migration claims nothing; one still starting is not known yet.
        if (app.id !== appId || isRestoredHeld(app) || app.info().state !== AppState.RUNNING) {
          continue;
        }
        using t = openAppTable(app);
        t.signalApp(SIGSTOP);
        this.#fenced[name] = appId;
        changed = true;
        this.#log(`Stopped '${name}': ${why}`);
      } catch (cause) {
        if (!(cause instanceof AppNotFoundError)) this.#log(`Cannot stop '${name}': ${cause}`);
      }
    }
    if (changed) await writeRecord(this.#file, this.#fenced);
  }

  /**
   * Once this computer's entries are published and the other computers had time to mirror them
   * (they do every 50 ms by default): its rows may have expired with the lease meanwhile.
   */
  async #published(): Promise<void> {
    await this.publish().catch((e) => this.#log(`Mirror: ${e instanceof Error ? e.message : e}`));
    await new Promise((resolve) => setTimeout(resolve, PUBLISHED_MS));
  }

  /** Each stopped application takes its claims again and goes on, or has lost them and ends. */
  async #unfence(): Promise<void> {
    const lease = this.#id!;
    using table = openVneTable();
    const claims = prune(table).claims.filter((c) => c.origin === Origin.LOCAL);
    const remote = await this.#etcd.range("/amber/vne/claim/");
    const owners = await this.#etcd.range(OWNER_PREFIX);
    for (const [name, appId] of Object.entries(this.#fenced)) {
      const mine = claims.filter((c) => c.appId === appId);
      const owner = owners.get(ownerKey(name));
      let lost = !this.#mayOwn(appId, owner);
      let taken = lost ||
        await this.#etcd.putIf(ownerKey(name), owner, ownerValue(appId, this.#host), lease);
      for (const c of lost ? [] : mine) {
        const key = claimKey(c.vne, c.ip);
        if (!this.#mayHold(appId, remote.get(key))) {
          lost = true;
          break;
        }
        const ok = await this.#etcd.putIf(key, remote.get(key), claimValue(c, this.#host), lease);
        taken &&= ok;
      }
      let app;
      try {
        app = await open(name);
        if (app.id !== appId) app = undefined;
      } catch (cause) {
        if (!(cause instanceof AppNotFoundError)) throw cause;
      }
      if (app && lost) {
        this.#log(
          `Ending '${name}': another application took its virtual IP or its name while it was ` +
            `stopped`,
        );
        await app.kill();
      } else if (app && taken) {
        using t = openAppTable(app);
        await clearFrozen(app);
        delete this.#fenced[name]; // so that its rows are published again
        await this.#published();
        t.signalApp(SIGCONT);
        this.#log(`'${name}' goes on: its name and virtual IP are this computer's again`);
      } else if (app) {
        continue; // etcd changed meanwhile: the next round tries again
      }
      delete this.#fenced[name];
      await writeRecord(this.#file, this.#fenced);
    }
  }
}
