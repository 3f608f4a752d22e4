/**
 * {@linkcode snapshot}: the coordinator's side of the snapshot protocol. Every process is
 * frozen at one barrier before anything is written; the image is written under a temporary
 * name and renamed once complete, so a failed snapshot never leaves an image that looks whole.
 *
 * @module
 */

import { basename, dirname, join, relative, resolve } from "node:path";
import { errnoDescription } from "../ffi/errno.ts";
import {
  AgentState,
  ControlAgainError,
  ControlBusyError,
  ControlError,
  ControlIoError,
  ControlProcessGoneError,
  ControlTimeoutError,
  describeProcess,
  fileHashes,
  machineInfo,
  Phase,
  SnapshotFlag,
  Table,
  type TableInfo,
  type TableRow,
} from "../ffi/control.ts";
import { Errno } from "../ffi/errno.ts";
import { type AppRef, openAppTable } from "./app_table.ts";
import { processesOf, type ProcessInfo } from "./processes.ts";
import { unrestorableSnapshot } from "./restorable.ts";
import { type AmberErrorReason, isDomainError, SnapshotError } from "./errors.ts";
import { lostConnections } from "./lost.ts";
import type { Image } from "./image_handle.ts";
import {
  IMAGE_FORMAT,
  IMAGE_VERSION,
  type ImageFile,
  type ImageParent,
  type ImageProcess,
  type Manifest,
  MANIFEST_FILE,
  type ManifestHead,
  PROCESS_FILE_NAME,
} from "./manifest.ts";
import { checkAborted, removeTemporary, settled, unlessAborted } from "./abort.ts";
import { randomHex } from "./names.ts";
import { parentRef } from "./parent.ts";
import { storeSharedPagesOnce } from "./share_pages.ts";
import { checkWritten } from "./check_written.ts";
import { PathLimit, pathTooLong } from "./path_limits.ts";
import { checkTimeout, exists } from "./wait.ts";
import { checkVirtualized, namesOf, outcome } from "./virtualized.ts";
import { checkNotTraced } from "./traced.ts";
import { saveCredentials } from "./credentials.ts";
import { snapshotStats } from "./stats.ts";
import { freezeHooks } from "./hooks.ts";
import { freezeTimes } from "./freeze_times.ts";
import {
  type ProgressCallback,
  reporter,
  residentBytes,
  treeSize,
  watchWrites,
} from "./progress.ts";

/** Options for {@linkcode snapshot}. */
export interface SnapshotOptions {
  /** The image directory to create; it must not exist. */
  dir: string;
  /** End the application once its image is written, instead of letting it go on. */
  stop?: boolean;
  /**
   * Without `stop` or `hold`: let the application run on as soon as each process is captured,
   * while a copy-on-write copy of it writes its memory (the default), rather than keeping it
   * frozen until every page is written. A program that rewrites much of its memory meanwhile
   * costs up to that much more memory until its copy is done.
   */
  copyOnWrite?: boolean;
  /**
   * Copy the pages while the application still runs, before it is frozen (the default where the
   * kernel allows it, without `hold`; with `parent`, only the pages written since it): the
   * freeze then only finds the pages written since and writes those
   * (docs/snapshot-protocol.md, "Pre-copy"). `false`, or `AMBER_PRECOPY=off` in the
   * environment, freezes first and copies after, as before.
   */
  preCopy?: boolean;
  /** How long each barrier (all frozen, all written) may take, in ms; default 30 000. */
  timeoutMs?: number;
  /**
   * Keep the application frozen once its image is written (for a migration): the caller then
   * ends it, or lets it go on with `resumeHeld` (src/migrate/hold.ts). Ignored with `stop`.
   */
  hold?: boolean;
  /**
   * An earlier image of this application (or of the one it was restored from): pages that are
   * the same, at the same address, as there are not written again but referred to. The parent
   * must then stay where it is, unchanged, for as long as this image is to be restored.
   */
  parent?: Image | string;
  /**
   * Keep established TCP connections: each comes back with its sequence numbers, windows and
   * unread bytes (TCP_REPAIR, which needs CAP_NET_ADMIN), so its peer never notices, as long
   * as the restore is on this computer and the original is gone by then (use it with `stop`).
   * Without it, or without the capability, they come back reset.
   */
  tcpEstablished?: boolean;
  /**
   * Reads the image back before it takes its name, every page against its hash: a snapshot
   * whose image does not hold what it was meant to fails (with `stop`, the application then
   * runs on). It costs a read of the whole image, from the disk where the pages went around
   * the page cache.
   */
  verify?: boolean;
  /**
   * Abandons the snapshot when it aborts: the application is let go as it was (frozen
   * processes resume) and nothing is left on disk; the snapshot rejects with a
   * {@linkcode SnapshotError}. Once `stop` has ended the application, the image is finished.
   */
  signal?: AbortSignal;
  /**
   * Called (and awaited) just before the application is frozen, e.g. to flush a cache or to
   * drain a load balancer. If it throws, nothing is frozen or written, the application runs on,
   * and the snapshot rejects with a {@linkcode SnapshotError} whose cause is the hook's error.
   */
  beforeFreeze?: () => void | Promise<void>;
  /**
   * Called (and awaited) once the application runs again after `beforeFreeze` was called: as
   * soon as it is let go (before the image is synced; with copy-on-write, while its copies
   * still write its pages), or after a failed snapshot. Not called
   * with `stop` or `hold`, where it does not run again. If it throws, the snapshot rejects with
   * a {@linkcode SnapshotError} and keeps no image.
   */
  afterResume?: () => void | Promise<void>;
  /**
   * Told how far the snapshot is: the image's files growing while they are written (the total
   * is an estimate: the processes' resident memory), then synced; see {@linkcode Progress}.
   */
  onProgress?: ProgressCallback;
}

const PROCESS_FILE = new RegExp(`^${PROCESS_FILE_NAME.source}$`);

/** What a snapshot needs of an application (an `App` is one). */
export interface SnapshotTarget extends AppRef {
  /** Ends the application (for `stop`). */
  kill(): Promise<void>;
}

/** Takes a snapshot of `app` (the public `snapshot` and `App.snapshot` call it). */
export async function takeSnapshot(
  app: SnapshotTarget,
  options: SnapshotOptions,
): Promise<Image> {
  const startedAt = performance.now();
  const times = freezeTimes("snapshot");
  const dir = resolve(options.dir);
  const timeoutMs = checkTimeout(options.timeoutMs ?? 30_000);
  if (await exists(dir)) {
    throw new SnapshotError(`Cannot snapshot '${app.name}' to '${options.dir}': it already exists`);
  }
  const tmp = `${dir}.tmp-${randomHex(8)}`;
  const tooLong = pathTooLong(dir, PathLimit.IMAGE_DIR - (tmp.length - dir.length));
  if (tooLong) {
    throw new SnapshotError(`Cannot snapshot '${app.name}' to '${options.dir}': ${tooLong}`);
  }
  const parent = options.parent === undefined ? null : await parentRef(options.parent);
  const report = reporter(options.onProgress);
  const hooks = freezeHooks(app.name, options);
  await hooks.before();
  try {
    await Deno.mkdir(tmp, { mode: 0o700 });
  } catch (cause) {
    await hooks.resumed();
    throw new SnapshotError(`Cannot create the image directory '${tmp}'`, { cause });
  }
  // With `stop` the application stays frozen until its image is complete, durable and under
  // its name, and only then is ended: a full disk or any other failure lets it go on.
  let stopping = false;
  let stopWatching: (() => Promise<void>) | undefined;
  using table = openAppTable(app);
  try {
    const info = table.info();
    // A process in namespaces or a root of its own: named before its agent fails to find /proc.
    const misplaced = table.placesCheck();
    if (misplaced) {
      throw new SnapshotError(`Cannot snapshot '${app.name}': ${misplaced}; it keeps running`, {
        reason: "unsupported-resource",
      });
    }
    if (options.onProgress) {
      const estimate = residentBytes(processesOf(table.rows()).map((p) => p.pid));
      stopWatching = watchWrites(tmp, estimate, report);
    }
    const precopied = await preCopy(table, tmp, options, parent?.dir);
    times.mark("pre-copy");
    let frozenAt = performance.now();
    // Without stop or hold, copy-on-write: the application runs on as soon as every process
    // is captured, while copies of its processes write their files (agent_cow.c).
    const cow = !options.stop && !options.hold && options.copyOnWrite !== false;
    let resumedAt: number | undefined;
    let afterResume: Promise<unknown> | undefined; // its error, if it failed
    const rows = await freezeAndWriteRetrying(app, table, tmp, {
      timeoutMs,
      parentDir: parent?.dir,
      flags: (options.tcpEstablished ? SnapshotFlag.TCP_ESTABLISHED : 0) |
        (cow ? SnapshotFlag.COW : 0) | (options.stop ? SnapshotFlag.ENDING : 0) |
        (precopied ? SnapshotFlag.PRECOPIED : 0),
      signal: options.signal,
      onFreeze: () => frozenAt = performance.now(),
      onCaptured: cow
        ? () => {
          times.mark("resumed");
          resumedAt ??= performance.now();
          afterResume ??= hooks.resumed().then(() => undefined, (error) => error);
        }
        : undefined,
    });
    times.mark("written");
    if (options.signal?.aborted) table.setPhase(Phase.ABORT);
    checkAborted(app.name, options.signal);
    const notTaken = await removePreCopies(tmp);
    // Held or ended: checked while frozen; else once it runs again (the freeze is no longer).
    const frozenCheck = options.stop === true || options.hold === true;
    if (frozenCheck) refuseUnrestorable(app.name, table, tmp, options.stop === true);
    stopping = options.stop === true;
    if (!options.stop && !options.hold && resumedAt === undefined) table.setPhase(Phase.RESUME);
    const frozenMs = (resumedAt ?? performance.now()) - frozenAt;
    await stopWatching?.();
    const hookError = await afterResume;
    if (hookError) throw hookError;
    if (!options.stop && !options.hold) await hooks.resumed();
    checkAborted(app.name, options.signal);
    if (!frozenCheck) refuseUnrestorable(app.name, undefined, tmp, false);
    // Durable before it has its name; without `stop`, after the application was let go: the
    // agents wrote into the page cache only, so the freeze never waits for the disk. Once this
    // began, an abort no longer stops it: the image is whole or absent.
    const head = manifestHead(info, rows, parent);
    await step("cannot store shared pages once", () => storeSharedPagesOnce(tmp, head.tree));
    times.mark("checked");
    const manifest = await step("cannot make the image durable", async () => {
      // The files are hashed while they are flushed (all but the process files' pages, which
      // were hashed as they were written). The manifest is made durable after both.
      const [synced, hashed] = await Promise.allSettled([
        syncFiles(tmp, undefined, options.onProgress && report).finally(() => times.mark("synced")),
        writeManifest(tmp, head).finally(() => times.mark("hashed")),
      ]);
      if (synced.status === "rejected") throw synced.reason;
      if (hashed.status === "rejected") throw hashed.reason;
      const manifest = hashed.value;
      await syncFiles(tmp, [MANIFEST_FILE]);
      if (options.verify) await checkWritten(tmp, manifest);
      await Deno.rename(tmp, dir);
      await syncDir(dirname(dir));
      times.mark("renamed");
      times.done();
      return manifest;
    });
    if (options.stop) await app.kill();
    const stats = snapshotStats(manifest, frozenMs, performance.now() - startedAt);
    stats.processesPreCopied = Math.max(0, precopied - notTaken);
    report({ phase: "done", bytes: stats.bytesWritten, totalBytes: stats.bytesWritten });
    return { dir, manifest, frozenMs, lost: lostConnections(manifest), stats };
  } catch (cause) {
    table.precopyRelease();
    await stopWatching?.();
    if (stopping) resumeAfterFailure(table);
    await removeTemporary(tmp);
    if (!options.stop && !options.hold) await hooks.resumed().catch(() => {});
    if (isDomainError(cause)) throw cause;
    const after = options.hold && !options.stop ? "" : "; it keeps running";
    throw new SnapshotError(`Cannot snapshot '${app.name}': ${message(cause)}${after}`, { cause });
  }
}

/**
 * Pre-copy (csrc/control/ctl_precopy.c; with a parent image, only what changed since it:
 * ctl_precopy_incr.c): every process's pages copied into `tmp` while the application runs, each
 * process at once; how many were, and if any, the control block is then held for the snapshot
 * that follows.
 */
async function preCopy(
  table: Table,
  tmp: string,
  options: SnapshotOptions,
  parentDir: string | undefined,
): Promise<number> {
  if (options.preCopy === false || Deno.env.get("AMBER_PRECOPY") === "off") return 0;
  if (options.hold || !table.precopyClaim()) return 0;
  try {
    const processes = processesOf(table.rows());
    const sync = options.stop === true; // its freeze lasts until the image is durable
    // One that cannot be (it exited meanwhile) is written whole at the freeze, as without.
    const done = await eachAtOnce(
      processes,
      (p) => table.precopy(p.vpid, tmp, sync, parentDir).catch(() => false),
    );
    const count = done.filter(Boolean).length;
    if (count) return count;
  } catch (cause) {
    table.precopyRelease();
    await removePreCopies(tmp);
    throw cause;
  }
  table.precopyRelease();
  return 0;
}

/**
 * What a pre-copy left that no agent took (a process that exited before it froze); how many
 * processes' pre-copies that was.
 */
async function removePreCopies(tmp: string): Promise<number> {
  let left = 0;
  for await (const entry of Deno.readDir(tmp)) {
    if (!entry.name.startsWith("precopy-")) continue;
    if (entry.name.endsWith(".index")) left++;
    await Deno.remove(join(tmp, entry.name)).catch((cause) => {
      if (!(cause instanceof Deno.errors.NotFound)) throw cause;
    });
  }
  return left;
}

/**
 * Whatever a restore of the image just written would refuse (restorable.ts) fails the snapshot
 * here, before anything is ended; the application, if frozen (`table`), goes on.
 */
function refuseUnrestorable(
  name: string,
  table: Table | undefined,
  dir: string,
  stop: boolean,
): void {
  const why = unrestorableSnapshot(name, dir, stop);
  if (!why) return;
  if (table) resumeAfterFailure(table);
  throw new SnapshotError(`Cannot snapshot '${name}': ${why}; it keeps running`);
}

/** Lets a frozen application go on after its image could not be completed. */
function resumeAfterFailure(table: Table): void {
  try {
    table.setPhase(Phase.RESUME);
  } catch {
    // It is gone already; there is nothing to let go on.
  }
}

/**
 * Flushes the files of `dir` (or only `names`) to the disk, and the directory itself; reports
 * the bytes flushed so far if given `report`.
 */
async function syncFiles(dir: string, names?: string[], report?: ProgressCallback): Promise<void> {
  const totalBytes = report ? await treeSize(dir) : 0;
  let bytes = 0;
  // Each process's file is flushed beside the others.
  await eachAtOnce(names ?? (await listFiles(dir)), async (name) => {
    using file = await Deno.open(join(dir, name), { read: true });
    await file.syncData();
    if (report) {
      // Read before it is added: `bytes += await ...` would add to the value read before the
      // await, and the files are flushed side by side.
      const { size } = await file.stat();
      bytes += size;
      report({ phase: "sync", bytes, totalBytes });
    }
  });
  await syncDir(dir);
}

/** `work` on each item, at most 8 at once; the results in the items' order. */
async function eachAtOnce<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, items.length) }, worker));
  return results;
}

async function syncDir(dir: string): Promise<void> {
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}

/** What went wrong, naming the errno ("ENOSPC: no space left on device"), never its number. */
function message(cause: unknown): string {
  if (cause instanceof ControlError) return `${cause.code}: ${errnoDescription(cause.errno)}`;
  const text = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown })?.code;
  const os = /^(.*) \(os error \d+\)(?:: (.*))?$/.exec(text);
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && os) {
    return `${code}: ${os[1].toLowerCase()}${os[2] ? ` (${os[2]})` : ""}`;
  }
  return text;
}

/**
 * What a migration does beside the agents while they write (src/migrate/outgoing.ts): it makes
 * their process files FIFOs, and takes what they write as they write it.
 */
export interface WriteStreaming {
  /** Once every process is frozen and the tables are saved, before the agents write. */
  prepare(rows: TableRow[]): Promise<void>;
  /** While the agents write; resolves once everything they wrote has been taken. */
  run(): Promise<void>;
  /** After a failure: stop taking what they write, so that none waits on it (idempotent). */
  stop(): void;
}

/** How a freeze runs (see freezeAndWriteRetrying). */
export interface FreezeOptions {
  /** How long each barrier may take, in ms. */
  timeoutMs: number;
  /** An earlier image to refer to for unchanged pages; "" (the default) for none. */
  parentDir?: string;
  /** For a migration: the process files are read as the agents write them. */
  streaming?: WriteStreaming;
  /** SnapshotFlag bits. */
  flags?: number;
  /** Abandons the freeze when it aborts (see {@linkcode SnapshotOptions.signal}). */
  signal?: AbortSignal;
  /**
   * With `flags` holding SnapshotFlag.COW: called once every process is captured and the
   * application was let go on, while copies of its processes still write their files.
   */
  onCaptured?: () => void;
  /**
   * Called right before the processes are signalled to freeze (again, if the freeze is taken
   * again): where the application's frozen time begins.
   */
  onFreeze?: () => void;
}

/**
 * A process that exits before it froze is simply not in the image, and one created meanwhile
 * is frozen too (ctl_snapshot.c); one killed once frozen, before its part was written, makes
 * the snapshot abandoned (the application runs on) and taken again, a few times at most, as
 * does a tree that kept forking faster than it froze.
 * Returns the rows of the tables as they were frozen; the phase is left at WRITE, every
 * process frozen: the caller resumes it (or ends it), unless copy-on-write resumed it already
 * (`onCaptured`). On failure everything was resumed.
 */
export async function freezeAndWriteRetrying(
  app: SnapshotTarget,
  table: Table,
  tmp: string,
  how: FreezeOptions,
): Promise<TableRow[]> {
  const waitUntil = Date.now() + how.timeoutMs;
  for (let attempt = 1;; attempt++) {
    try {
      return await freezeAndWrite(app, table, tmp, how);
    } catch (cause) {
      // Another snapshot of this application is under way: this one waits for it to end.
      if (cause instanceof ControlBusyError && Date.now() < waitUntil && !how.signal?.aborted) {
        attempt--;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      // A process that exited during the snapshot (a server's short-lived worker) is no more
      // reason to fail than one created: taken again without it.
      // Descriptors in flight over a Unix socket that were sent or received while the
      // application froze (unix_rights.c): taken again a moment later.
      const raced = cause instanceof SnapshotError &&
        (cause.cause instanceof ControlAgainError ||
          cause.cause instanceof ControlProcessGoneError ||
          /descriptors in flight .*changed during the snapshot/.test(cause.message));
      if (!raced || attempt === 3 || how.signal?.aborted) throw cause;
      // An agent that gave up removes its own file meanwhile: gone already is as good.
      for await (const entry of Deno.readDir(tmp)) {
        await Deno.remove(join(tmp, entry.name)).catch((cause) => {
          if (!(cause instanceof Deno.errors.NotFound)) throw cause;
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * How long a barrier of the freeze (frozen, captured) waits on this thread before it hands the
 * wait to another: most freezes are over by then.
 */
const BARRIER_HERE_MS = 10;

/** Runs the barriers: all frozen, tables and IPC saved, all written. Aborts on failure. */
async function freezeAndWrite(
  app: SnapshotTarget,
  table: Table,
  tmp: string,
  { timeoutMs, parentDir = "", streaming, flags = 0, signal, onCaptured, onFreeze }: FreezeOptions,
): Promise<TableRow[]> {
  const times = freezeTimes();
  let began = false;
  let running: Promise<void> | undefined;
  let waiting: Promise<void> | undefined; // the barrier under way, which an abort cannot cancel
  const listed = processesOf(table.rows());
  const before = await namesOf(listed);
  await checkNotTraced(app.name, listed);
  const barrier = (state: number, what: string, hereMs = 0) =>
    barrierOf(app, table, state, what, timeoutMs, before, hereMs);
  const shared = await table.vmSharing(); // before any signal: it would run two agents
  const tablesCopy = flags & SnapshotFlag.COW && !streaming ? Table.tablesBuffer() : undefined;
  if (tablesCopy) table.copyTables(tablesCopy); // its pages made now, not while frozen
  if (shared) {
    throw new SnapshotError(`Cannot snapshot '${app.name}': ${shared}; it keeps running`, {
      reason: "unsupported-resource",
    });
  }
  try {
    checkAborted(app.name, signal);
    times.mark("prepared");
    onFreeze?.();
    try {
      table.snapshotBegin(tmp, parentDir, flags);
    } catch (cause) {
      if (!(cause instanceof ControlError)) throw cause;
      // A process without the library, which the signal would end: name it.
      if (cause.errno === Errno.ENOEXEC) await checkVirtualized(app.name, listed);
      if (cause.errno === Errno.EPERM) {
        throw new SnapshotError(
          `Cannot snapshot '${app.name}': its tables name a process that is not one of its ` +
            `own (one of its processes wrote them); it keeps running`,
          { cause },
        );
      }
      throw cause;
    }
    began = true;
    times.mark("signalled");
    waiting = barrier(AgentState.FROZEN, "frozen", BARRIER_HERE_MS);
    await unlessAborted(app.name, waiting, signal);
    times.mark("frozen");
    checkAborted(app.name, signal);
    const rows = table.rows();
    // The credentials and the SysV IPC objects, read from outside: no agent reads them, so they
    // are saved while the agents write (in line they cost the freeze some 1 ms), but before a
    // migration streams the image.
    const saveOutside = async () => {
      saveCredentials(tmp, processesOf(rows));
      times.mark("credentials");
      await step("cannot write the SysV IPC objects into the image", () => table.ipcSave(tmp));
      times.mark("ipc");
    };
    if (streaming) await saveOutside();
    // Copy-on-write: only copied now, written once every process has written (ctl_tables_copy.c).
    if (tablesCopy) table.copyTables(tablesCopy);
    else {
      await step(
        "cannot write the tables into the image",
        () => table.saveTables(join(tmp, "tables.bin")),
      );
    }
    times.mark("tables");
    const unshared = await table.shareScan();
    times.mark("share scan");
    if (unshared) {
      throw new SnapshotError(`Cannot snapshot '${app.name}': ${unshared}; it keeps running`, {
        reason: "unsupported-resource",
      });
    }
    await streaming?.prepare(rows);
    table.setPhase(Phase.WRITE);
    times.mark("write");
    if (!streaming) await saveOutside();
    running = streaming?.run();
    if (flags & SnapshotFlag.COW) {
      waiting = barrier(AgentState.CAPTURED, "captured", BARRIER_HERE_MS);
      await unlessAborted(app.name, waiting, signal);
      table.setPhase(Phase.RESUME); // their copies write on (an abort still stops them)
      times.mark("captured, resumed");
      times.done();
      onCaptured?.();
    }
    waiting = barrier(AgentState.WRITTEN, "written");
    await unlessAborted(app.name, Promise.all([waiting, running]), signal);
    if (!streaming) {
      table.pruneImage(tmp);
      // The tables again, now that every process's slot says whether it wrote its part: the
      // restore brings back exactly the processes whose files the image holds. A copy-on-write
      // snapshot's application ran on meanwhile: only the slots, its rows stay the frozen ones.
      if (tablesCopy) {
        await step(
          "cannot write the tables into the image",
          () => table.saveTablesCopy(tablesCopy, join(tmp, "tables.bin")),
        );
      } else {
        await Deno.remove(join(tmp, "tables.bin"));
        await table.saveTables(join(tmp, "tables.bin"));
      }
    }
    return rows;
  } catch (cause) {
    streaming?.stop();
    if (began) {
      try {
        table.setPhase(Phase.ABORT);
      } catch {
        // The application is gone; there is nothing to let go on.
      }
    }
    // Told to stop, the agents give up their files and report within moments.
    if (signal?.aborted) await settled(waiting, 2_000);
    // The copies of a copy-on-write snapshot give up theirs (or end) before the directory goes.
    if (began && flags & SnapshotFlag.COW) await table.waitWriters(5_000).catch(() => {});
    await running?.catch(() => {});
    throw cause;
  }
}

/** Runs `work`; a failure becomes an Error that says `what` and names the errno. */
async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (cause) {
    throw new Error(`${what}: ${message(cause)}`, { cause });
  }
}

async function barrierOf(
  app: SnapshotTarget,
  table: Table,
  state: number,
  what: string,
  timeoutMs: number,
  before: Map<ProcessInfo, string>,
  hereMs = 0,
): Promise<void> {
  try {
    await table.waitAgents(state, timeoutMs, hereMs);
  } catch (cause) {
    if (!(cause instanceof ControlError)) throw cause;
    const name = app.name;
    let text: string;
    let reason: AmberErrorReason = "snapshot-failed";
    if (cause instanceof ControlIoError) {
      let why = "";
      try {
        why = table.agentError();
      } catch {
        // Keep the generic message.
      }
      text = `Cannot snapshot '${name}': ${why || "a process could not be saved"}`;
      // An agent that fails names what it could not keep: a refusal, not an accident.
      if (why) reason = "unsupported-resource";
    } else if (cause instanceof ControlAgainError) {
      text = `Cannot snapshot '${name}': it kept creating processes while being frozen`;
      reason = "busy";
    } else if (cause instanceof ControlProcessGoneError) {
      text = `Cannot snapshot '${name}': one of its processes exited during the snapshot`;
      reason = "process-exited";
    } else if (cause instanceof ControlTimeoutError) {
      const lagging = table.lagging(state);
      reason = "timeout";
      text =
        `Cannot snapshot '${name}': its processes were not all ${what} within ${timeoutMs} ms` +
        (lagging ? ` (${lagging})` : "");
    } else {
      text = `Cannot snapshot '${name}': ${cause.message}`;
    }
    throw new SnapshotError(`${text}; ${await outcome(before)}`, { cause, reason });
  }
}

async function listFiles(root: string, dir = root): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      await Deno.chmod(path, 0o700);
      names.push(...await listFiles(root, path));
    } else if (entry.isFile) {
      names.push(relative(root, path));
    }
  }
  return names.sort();
}

/** What the manifest says that the image's files do not: the application, machine, tree. */
export function manifestHead(
  info: TableInfo,
  rows: TableRow[],
  parent: ImageParent | null,
): ManifestHead {
  return {
    format: IMAGE_FORMAT,
    version: IMAGE_VERSION,
    createdAt: new Date().toISOString(),
    app: { name: info.name, id: info.appId, hostname: info.hostname },
    machine: machineInfo(),
    parent,
    tree: processesOf(rows).map(({ vpid, parent }) => ({ vpid, parent })),
  };
}

/**
 * Hashes and describes the files of the image in `tmp`, then writes manifest.json (all mode
 * 0600) from them and `head`.
 */
export async function writeManifest(tmp: string, head: ManifestHead): Promise<Manifest> {
  const files: ImageFile[] = [];
  const processes: ImageProcess[] = [];
  const parents = new Map(head.tree.map((p) => [p.vpid, p.parent]));
  const names = (await listFiles(tmp)).filter((name) => name !== MANIFEST_FILE);
  // Hashed side by side (the control library hashes each on a thread of its own), in order. A
  // process file's pages are not read: each was hashed as it was written, into its table of
  // page hashes, which its meta hash covers (ImageFile.hash).
  const hashes = await eachAtOnce(names, async (name) => {
    const found = await fileHashes(join(tmp, name), "meta");
    return found.metaHash ? found : await fileHashes(join(tmp, name), "whole");
  });
  for (const [i, name] of names.entries()) {
    const path = join(tmp, name);
    await Deno.chmod(path, 0o600);
    const { size } = await Deno.stat(path);
    const { hash, metaHash, headHash } = hashes[i];
    files.push({
      name,
      size,
      ...(hash ? { hash } : {}),
      ...(metaHash ? { metaHash } : {}),
      ...(headHash ? { headHash } : {}),
    });
    const match = PROCESS_FILE.exec(basename(name));
    if (match && name === basename(name)) {
      const vpid = Number(match[1]);
      const details = describeProcess(path);
      processes.push({ vpid, parent: parents.get(vpid) ?? 0, file: name, details });
    }
  }
  if (processes.length === 0) {
    throw new SnapshotError(`Cannot snapshot '${head.app.name}': no process wrote its image`);
  }
  processes.sort((a, b) => a.vpid - b.vpid);
  const { format, version, createdAt, app, machine, parent } = head;
  const manifest: Manifest = { format, version, createdAt, app, machine, processes, files, parent };
  await Deno.writeTextFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n", {
    mode: 0o600,
  });
  await Deno.chmod(join(tmp, MANIFEST_FILE), 0o600);
  return manifest;
}
