/**
 * A migration's snapshot, streamed: no process file is ever whole on this computer. Once every
 * process is frozen, each one's file (`process-<vpid>.img`) is a FIFO in a temporary
 * directory; the agents write their files into them as usual, and the coordinator reads every
 * FIFO at once and sends what comes, in chunks, to the target agent (the version 2 image
 * stream, stream.ts). An agent that writes to a FIFO writes strictly in order, with the header
 * last, as a trailer (csrc/preload/agent/agent_sink.c). The two small files the control library
 * writes (tables.bin, ipc.bin) and the manifest's head go whole; the target hashes and
 * describes what it received and writes the manifest itself (incoming.ts). The memory held on
 * either side is a few chunks; a FIFO holds at most a pipe's buffer.
 *
 * Beside each FIFO its agent writes the file's index (`process-<vpid>.index`, sparse: the
 * header, runs and page hashes, no pages). A pre-copy round (migrate.ts) keeps the indexes, as
 * a directory of `process-<vpid>.img` files, for the next round to name as its parent: the
 * agents then send only the pages that differ from what the target has already.
 *
 * @module
 */

import { join } from "node:path";
import {
  makeFifo,
  Phase,
  predumpProcess,
  type TableInfo,
  type TableRow,
} from "../../ffi/control.ts";
import type { App } from "../app.ts";
import { openAppTable } from "../app_table.ts";
import { processesOf } from "../processes.ts";
import { AmberError } from "../errors.ts";
import { indexFileName, MANIFEST_HEAD_FILE, processFileName } from "../manifest.ts";
import { randomHex } from "../names.ts";
import { freezeAndWriteRetrying, manifestHead, type WriteStreaming } from "../snapshot.ts";
import { resumeHeld } from "./hold.ts";
import { ImageStreamWriter } from "./stream.ts";

/** The files the control library writes, sent whole. */
const SMALL_FILES = ["tables.bin", "ipc.bin", "credentials.bin"];
/** How much is read from a FIFO at once (a pipe gives at most its buffer, 1 MiB here). */
const READ_BYTES = 1 << 20;

/** Where a streamed snapshot goes: the upload to the target agent (upload.ts), usually. */
export interface StreamTarget {
  /** Sends the parts of one frame, in order, after those of the calls before (calls overlap). */
  send(parts: Uint8Array[]): Promise<void>;
  /** Drops what was sent: the stream will not be ended. */
  abort(): void;
}

/** What a streamed snapshot sent. */
export interface Sent {
  /** Bytes of the stream, headers included. */
  bytes: number;
  /** The process files, streamed from their FIFOs. */
  processFiles: number;
  /**
   * Without `hold`: how long the application was frozen, in ms (its processes write their files
   * while frozen, so this is about as long as sending them takes).
   */
  frozenMs: number;
}

/** The effective uid of a running process (the owner of its /proc directory). */
async function processUid(pid: number): Promise<number | null> {
  try {
    return (await Deno.stat(`/proc/${pid}`)).uid;
  } catch {
    return null;
  }
}

interface Fifo {
  name: string;
  path: string;
  opening: Promise<Deno.FsFile>;
  file?: Deno.FsFile;
}

/** The FIFOs of one snapshot, read while the agents write into them. */
class ProcessStreams implements WriteStreaming {
  #dir: string;
  #writer: ImageStreamWriter;
  #info: TableInfo;
  #fifos: Fifo[] = [];
  #head = "";
  #running = false;
  #stopped = false;

  #smallFiles: readonly string[];

  constructor(
    dir: string,
    writer: ImageStreamWriter,
    info: TableInfo,
    smallFiles: readonly string[] = SMALL_FILES,
  ) {
    this.#dir = dir;
    this.#writer = writer;
    this.#info = info;
    this.#smallFiles = smallFiles;
  }

  /** The process files' names. */
  get names(): string[] {
    return this.#fifos.map((f) => f.name);
  }

  async prepare(rows: TableRow[]): Promise<void> {
    this.#head = JSON.stringify(manifestHead(this.#info, rows, null));
    const self = Deno.uid();
    for (const { vpid, pid } of processesOf(rows).filter((p) => p.alive)) {
      const name = processFileName(vpid);
      const path = join(this.#dir, name);
      makeFifo(path);
      // A process that runs as another user opens its FIFO as that user.
      const uid = await processUid(pid);
      if (uid !== null && uid !== self) {
        await Deno.chown(path, uid, null);
        await Deno.chmod(this.#dir, 0o711);
      }
      // Pending until the agent opens its end; the agent waits for this one (ENXIO) meanwhile.
      const opening = Deno.open(path, { read: true });
      opening.catch(() => {});
      this.#fifos.push({ name, path, opening });
    }
  }

  run(): Promise<void> {
    this.#running = true;
    const all = Promise.all([this.#sendSmallFiles(), ...this.#fifos.map((f) => this.#pump(f))]);
    return all.then(() => {});
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const fifo of this.#fifos) {
      if (fifo.file) continue;
      // An open still pending (its agent never came) returns once a writer has come and gone.
      Deno.open(fifo.path, { read: true, write: true }).then((f) => f.close(), () => {});
      if (!this.#running) fifo.opening.then((f) => f.close(), () => {});
    }
  }

  async #pump(fifo: Fifo): Promise<void> {
    const file = fifo.file = await fifo.opening;
    try {
      const buf = new Uint8Array(READ_BYTES);
      while (!this.#stopped) {
        const n = await file.read(buf);
        if (n === null) break;
        await this.#writer.chunk(fifo.name, buf.subarray(0, n));
      }
    } finally {
      file.close(); // an agent still writing gets EPIPE
    }
  }

  async #sendSmallFiles(): Promise<void> {
    for (const name of this.#smallFiles) {
      await this.#writer.chunk(name, await Deno.readFile(join(this.#dir, name)));
      await this.#writer.endFile(name);
    }
    await this.#writer.chunk(MANIFEST_HEAD_FILE, new TextEncoder().encode(this.#head));
    await this.#writer.endFile(MANIFEST_HEAD_FILE);
  }
}

/** Options for {@linkcode streamSnapshot}. */
export interface StreamOptions {
  /** Where the temporary directory of FIFOs goes. */
  work: string;
  /** How long each barrier may take, in ms. */
  timeoutMs: number;
  /** Keep the application frozen once the stream is complete; default true. */
  hold?: boolean;
  /** A directory of process files (or their indexes) whose unchanged pages are not sent. */
  parentDir?: string;
  /**
   * A directory (created, mode 0700) to keep the process files' indexes in, as
   * `process-<vpid>.img`: the `parentDir` of a later round. A process whose agent could not
   * write its index has none there, and sends everything in that round.
   */
  keepIndex?: string;
}

/** Moves the indexes the agents wrote beside their FIFOs into `into`, named as process files. */
async function keepIndexes(dir: string, names: string[], into: string): Promise<void> {
  await Deno.mkdir(into, { mode: 0o700 });
  for (const name of names) {
    const index = join(dir, indexFileName(name));
    try {
      await Deno.rename(index, join(into, name));
    } catch (cause) {
      if (!(cause instanceof Deno.errors.NotFound)) throw cause;
    }
  }
}

/**
 * Snapshots `app` straight into `target` (an image stream to the target agent), through a
 * temporary directory of FIFOs under `work`. Once it returns, the stream is complete and the
 * application is held frozen (unless `hold` is false: it went on once written): the caller ends
 * it, or lets it go on with `resumeHeld`. If it throws, the application runs on, as it was.
 */
export async function streamSnapshot(
  app: App,
  target: StreamTarget,
  options: StreamOptions,
): Promise<Sent> {
  const hold = options.hold ?? true;
  const dir = join(options.work, `${app.name}-${randomHex(8)}.amber`);
  await Deno.mkdir(dir, { mode: 0o700 });
  const writer = new ImageStreamWriter((parts) => target.send(parts));
  try {
    let streams: ProcessStreams;
    let frozenMs: number;
    {
      using table = openAppTable(app);
      streams = new ProcessStreams(dir, writer, table.info());
      const started = performance.now();
      await freezeAndWriteRetrying(app, table, dir, {
        timeoutMs: options.timeoutMs,
        parentDir: options.parentDir,
        streaming: streams,
      });
      if (!hold) table.setPhase(Phase.RESUME);
      frozenMs = performance.now() - started;
    }
    try {
      for (const name of streams.names) await writer.endFile(name, { trailer: true });
      await writer.end();
    } catch (cause) {
      if (hold) resumeHeld(app);
      throw cause;
    }
    if (options.keepIndex !== undefined) await keepIndexes(dir, streams.names, options.keepIndex);
    return { bytes: writer.bytes, processFiles: streams.names.length, frozenMs };
  } catch (cause) {
    target.abort();
    throw cause;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The first round of a pre-copy migration, taken while the application runs on: each process's
 * private pages, read from outside (`amber_ctl_predump`), go to `target` as the image the target
 * keeps; their indexes are kept in `keepIndex` for the held round to name as its parent. The
 * application is never frozen: a page it changes meanwhile is sent again in the held round.
 */
export async function streamPredump(
  app: App,
  target: StreamTarget,
  options: { work: string; keepIndex: string },
): Promise<Sent> {
  const dir = join(options.work, `${app.name}-${randomHex(8)}.amber`);
  await Deno.mkdir(dir, { mode: 0o700 });
  const writer = new ImageStreamWriter((parts) => target.send(parts));
  let streams: ProcessStreams | undefined;
  try {
    let rows: TableRow[];
    {
      using table = openAppTable(app);
      rows = table.rows();
      // Read from outside, as root may: only the application's own processes (members.h).
      const stranger = processesOf(rows).find((p) => p.alive && !table.isMember(p.pid));
      if (stranger) {
        throw new AmberError(
          `Cannot migrate '${app.name}': its tables name process ${stranger.vpid} (pid ` +
            `${stranger.pid}), which is not one of its own (one of its processes wrote them)`,
        );
      }
      await table.saveTables(join(dir, "tables.bin"));
      streams = new ProcessStreams(dir, writer, table.info(), ["tables.bin"]);
    }
    await streams.prepare(rows);
    const sending = streams.run();
    sending.catch(() => {});
    await Promise.all(
      processesOf(rows).filter((p) => p.alive).map((p) =>
        predumpProcess(
          p.pid,
          p.vpid,
          join(dir, processFileName(p.vpid)),
          join(dir, indexFileName(processFileName(p.vpid))),
        )
      ),
    );
    await sending;
    for (const name of streams.names) await writer.endFile(name, { trailer: true });
    await writer.end();
    await keepIndexes(dir, streams.names, options.keepIndex);
    return { bytes: writer.bytes, processFiles: streams.names.length, frozenMs: 0 };
  } catch (cause) {
    streams?.stop();
    target.abort();
    throw cause;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
