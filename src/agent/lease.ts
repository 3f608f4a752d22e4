/**
 * With etcd, owning an application's virtual IP is a lease (docs/migration.md): the agent puts
 * its computer's claims (mirror.ts) with a lease of its own, which it renews every second. An
 * application may run only while its computer holds its claim:
 *
 * - if the agent could not renew the lease for {@linkcode FENCE_MS} (half its TTL, so before
 *   etcd lets it expire and another computer may take the claim), it stops (SIGSTOP) every
 *   application of this computer that claims a virtual IP, and records them (`fenced.json`, so
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
import { Origin, type VneClaim } from "../../ffi/vne.ts";
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
          await this.#fence(
            "another application holds its virtual IP",
            (c) => !this.#mayHold(c.appId, remote.get(claimKey(c.vne, c.ip))),
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
   * Hands the renewal to the supervisor of each application of this computer that claims a
   * virtual IP (lease_files.ts), and takes on those their supervisor stopped: an agent that dies
   * renews nothing, so they stopped by themselves; #unfence lets them go on, or ends them.
   */
  async #handRenewals(): Promise<void> {
    using table = openVneTable();
    const claims = prune(table).claims.filter((c) => c.origin === Origin.LOCAL);
    let changed = false;
    for (const [name, appId] of new Map(claims.map((c) => [c.app, c.appId]))) {
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
      } catch (cause) {
        if (!(cause instanceof AppNotFoundError)) this.#log(`Cannot renew '${name}': ${cause}`);
      }
    }
    if (changed) await writeRecord(this.#file, this.#fenced);
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

  /** Stops every application of this computer that claims a virtual IP (or those `which`). */
  async #fence(
    why = "this computer's lease on its virtual IP is not renewed",
    which: (c: VneClaim) => boolean = () => true,
  ): Promise<void> {
    using table = openVneTable();
    const claims = prune(table).claims.filter((c) => c.origin === Origin.LOCAL && which(c));
    let changed = false;
    for (const c of claims) {
      if (this.#fenced[c.app] === c.appId) continue;
      try {
        const app = await open(c.app);
        // A copy held for a migration claims nothing; one still starting is not known yet.
        if (app.id !== c.appId || isRestoredHeld(app) || app.info().state !== AppState.RUNNING) {
          continue;
        }
        using t = openAppTable(app);
        t.signalApp(SIGSTOP);
        this.#fenced[c.app] = c.appId;
        changed = true;
        this.#log(`Stopped '${c.app}': ${why}`);
      } catch (cause) {
        if (!(cause instanceof AppNotFoundError)) this.#log(`Cannot stop '${c.app}': ${cause}`);
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
    for (const [name, appId] of Object.entries(this.#fenced)) {
      const mine = claims.filter((c) => c.appId === appId);
      let lost = false;
      let taken = true;
      for (const c of mine) {
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
        this.#log(`Ending '${name}': another application took its virtual IP while it was stopped`);
        await app.kill();
      } else if (app && taken) {
        using t = openAppTable(app);
        await clearFrozen(app);
        delete this.#fenced[name]; // so that its rows are published again
        await this.#published();
        t.signalApp(SIGCONT);
        this.#log(`'${name}' goes on: its virtual IP is this computer's again`);
      } else if (app) {
        continue; // etcd changed meanwhile: the next round tries again
      }
      delete this.#fenced[name];
      await writeRecord(this.#file, this.#fenced);
    }
  }
}
