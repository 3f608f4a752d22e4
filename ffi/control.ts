/**
 * Safe wrappers over the control library: C strings and buffers are made here, `-errno`
 * becomes an exception, JSON answers are validated with zod, and a {@linkcode Table} owns its
 * native handle. Nothing outside `ffi/` touches pointers.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { Errno, errnoDescription, errnoName } from "./errno.ts";
import { library } from "./symbols.ts";
import { AmberError, type AmberErrorReason } from "../src/errors.ts";

/** A control-library call failed with `-errno`. */
export class ControlError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "native";
  /** The class name, shown in messages. */
  override name = "ControlError";
  /** The positive errno number. */
  readonly errno: number;
  /** Its symbolic name, such as `ENOENT`. */
  readonly code: string;
  /** The C function that failed. */
  readonly call: string;

  /** Makes the error for the C function `call` that returned `-errno` about `subject`. */
  constructor(call: string, errno: number, subject?: string) {
    const about = subject === undefined ? "" : ` for '${subject}'`;
    super(`${call}${about} failed with ${errnoName(errno)} (${errnoDescription(errno)})`);
    this.errno = errno;
    this.code = errnoName(errno);
    this.call = call;
  }
}

/** A control-library call failed with ENOENT: a file or table does not exist. */
export class ControlNotFoundError extends ControlError {
  override name = "ControlNotFoundError";
}

/** A control-library call failed with EEXIST: something to be created already exists. */
export class ControlExistsError extends ControlError {
  override name = "ControlExistsError";
}

/** A control-library wait failed with ETIMEDOUT. */
export class ControlTimeoutError extends ControlError {
  override name = "ControlTimeoutError";
}

/** A control-library call failed with ESRCH: a process of the application is gone. */
export class ControlProcessGoneError extends ControlError {
  override name = "ControlProcessGoneError";
}

/** A control-library call failed with EIO: for the snapshot waits, an agent reported failure. */
export class ControlIoError extends ControlError {
  override name = "ControlIoError";
}

/** A control-library call failed with EAGAIN: for the freeze, a process appeared meanwhile. */
export class ControlAgainError extends ControlError {
  override name = "ControlAgainError";
}

/** A control-library call failed with EBUSY: for a snapshot, another one is under way. */
export class ControlBusyError extends ControlError {
  override name = "ControlBusyError";
}

/** The control library answered with JSON that does not have the expected shape. */
export class ControlDataError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "native";
  override name = "ControlDataError";
}

const ERROR_CLASSES: Readonly<Record<number, typeof ControlError>> = {
  [Errno.ENOENT]: ControlNotFoundError,
  [Errno.EEXIST]: ControlExistsError,
  [Errno.ETIMEDOUT]: ControlTimeoutError,
  [Errno.ESRCH]: ControlProcessGoneError,
  [Errno.EIO]: ControlIoError,
  [Errno.EAGAIN]: ControlAgainError,
  [Errno.EBUSY]: ControlBusyError,
};

/** Returns `status` if it is not negative; otherwise throws the error for `-status`. */
export function unwrap(call: string, status: number, subject?: string): number {
  if (status >= 0) return status;
  const errno = -status;
  const ErrorClass = ERROR_CLASSES[errno] ?? ControlError;
  throw new ErrorClass(call, errno, subject);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string as a NUL-terminated C string; a string with a NUL in it is a TypeError. */
export function cstr(value: string): Uint8Array<ArrayBuffer> {
  if (value.includes("\0")) {
    throw new TypeError(`Expected a string without NUL characters, found '${value}'`);
  }
  return encoder.encode(`${value}\0`);
}

const FIRST_CAP = 64 * 1024;
const MAX_CAP = 256 * 1024 * 1024;

/** Calls a function that writes JSON into a caller-owned buffer, growing it on -ENOSPC. */
export function callJson<T>(
  call: string,
  fill: (buf: Uint8Array<ArrayBuffer>, cap: number) => number,
  schema: z.ZodType<T>,
  subject?: string,
): T {
  for (let cap = FIRST_CAP;; cap *= 4) {
    const buf = new Uint8Array(cap);
    const n = fill(buf, cap);
    if (n === -Errno.ENOSPC && cap < MAX_CAP) continue;
    return parseJson(call, decoder.decode(buf.subarray(0, unwrap(call, n, subject))), schema);
  }
}

function parseJson<T>(call: string, text: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ControlDataError(`${call} returned text that is not JSON: '${text}'`, { cause });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ControlDataError(
      `${call} returned JSON of an unexpected shape: ${z.prettifyError(parsed.error)}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

// Enums and flags shared with C, generated from its headers (tools/contract.ts).
export { AgentState, AppState, Phase, PidFlag, SnapshotFlag, VpidRanges } from "./contract.ts";

/** An application's identity and state, from its table. */
export interface TableInfo {
  /** The application's id, fixed for its life and kept across restores. */
  appId: string;
  /** The application's name. */
  name: string;
  /** The hostname its processes see. */
  hostname: string;
  /**
   * Its first virtual pid, its supervisor's: its pids are this and the next
   * `VpidRanges.SIZE` - 1 (src/vpid_range.ts).
   */
  vpidBase: number;
  /** The virtual pid of its first process. */
  rootVpid: number;
  /** Its state, one of {@linkcode AppState}. */
  state: number;
  /** Why it failed, when it did. */
  error: string;
  /** The system pid of its supervisor. */
  supervisorPid: number;
}

/** What `amber_ctl_table_info` returns. */
export const TableInfoSchema: z.ZodType<TableInfo> = z.object({
  appId: z.string(),
  name: z.string(),
  hostname: z.string(),
  vpidBase: z.int(),
  rootVpid: z.int(),
  state: z.int(),
  error: z.string(),
  supervisorPid: z.int(),
});

/** One row of the translation tables: a virtual ID, its system ID and its attributes. */
export interface TableRow {
  /** What the ID names: a process or thread, or a SysV semaphore set, segment or queue. */
  kind: "pid" | "sem" | "shm" | "msg";
  /** The virtual ID the application sees. */
  vid: number;
  /** The system ID behind it. */
  sid: number;
  /** The virtual pid of the process that owns it. */
  owner: number;
  /** Flags; for a pid, {@linkcode PidFlag}. */
  flags: number;
  /** A SysV object's key. */
  key: number;
  /** A SysV object's mode. */
  mode: number;
  /** A SysV semaphore set's count of semaphores. */
  nitems: number;
  /** A SysV segment's size in bytes. */
  size: number;
  /** For a pid, the virtual pid of its parent. */
  parent: number;
  /** Whether the process or object still exists. */
  alive: boolean;
}

/** One row of the translation tables, as `amber_ctl_table_rows` returns it. */
export const TableRowSchema: z.ZodType<TableRow> = z.object({
  kind: z.enum(["pid", "sem", "shm", "msg"]),
  vid: z.int(),
  sid: z.int(),
  owner: z.int(),
  flags: z.int(),
  key: z.int(),
  mode: z.int(),
  nitems: z.int(),
  size: z.number(),
  parent: z.int(),
  alive: z.boolean(),
});

/** This machine's kernel, CPU state components (XCR0) and vDSO identity. */
export interface MachineInfo {
  /** The kernel's release. */
  kernel: string;
  /** The CPU state components the kernel saves (XCR0), as a number or hex digits. */
  xcr0: number | string;
  /** A hash of the vDSO's bytes. */
  vdsoHash: string;
  /** The vDSO's size in bytes. */
  vdsoSize: number;
  /** The vvar area's size in bytes. */
  vvarSize: number;
}

/** What `amber_ctl_machine_info` returns: what decides whether an image can run here. */
export const MachineInfoSchema: z.ZodType<MachineInfo> = z.object({
  kernel: z.string(),
  xcr0: z.union([z.int().nonnegative(), z.string().regex(/^(0x)?[0-9a-fA-F]{1,16}$/)]),
  vdsoHash: z.string(),
  vdsoSize: z.int().nonnegative(),
  vvarSize: z.int().nonnegative(),
});

/** The XCR0 bits of a machine; the C side writes them as hex digits, with or without "0x". */
export function xcr0Bits(xcr0: MachineInfo["xcr0"]): bigint {
  return typeof xcr0 === "number" ? BigInt(xcr0) : BigInt(`0x${xcr0.replace(/^0x/i, "")}`);
}

/** What `amber_ctl_process_describe` returns: kept as it is, whatever its fields. */
export const ProcessDetailsSchema: z.ZodType<ProcessDetails> = z.looseObject({});
/** A process file's description, as the C side gives it. */
export type ProcessDetails = Record<string, unknown>;

/** The translation tables of one application, mapped into this process. */
export class Table implements Disposable {
  #handle: Deno.PointerValue;
  #path: string;
  #pending = 0;
  #closing = false;

  private constructor(handle: Deno.PointerObject, path: string) {
    this.#handle = handle;
    this.#path = path;
  }

  /** Maps the tables file at `path`. */
  static open(path: string): Table {
    const err = new Int32Array(1);
    const handle = library().amber_ctl_table_open(cstr(path), err);
    if (handle === null) {
      unwrap("amber_ctl_table_open", err[0] < 0 ? err[0] : -Errno.EIO, path);
      throw new ControlError("amber_ctl_table_open", Errno.EIO, path);
    }
    return new Table(handle, path);
  }

  /** The tables file this handle maps. */
  get path(): string {
    return this.#path;
  }

  /** The application's identity and state. */
  info(): TableInfo {
    const h = this.#live();
    return callJson(
      "amber_ctl_table_info",
      (buf, cap) => library().amber_ctl_table_info(h, buf, cap),
      TableInfoSchema,
      this.#path,
    );
  }

  /** Every live row of every kind. */
  rows(): TableRow[] {
    const h = this.#live();
    return callJson(
      "amber_ctl_table_rows",
      (buf, cap) => library().amber_ctl_table_rows(h, buf, cap),
      z.array(TableRowSchema),
      this.#path,
    );
  }

  /** Sends signal number `sig` to every process of the application (not its supervisor). */
  signalApp(sig: number): void {
    unwrap("amber_ctl_signal_app", library().amber_ctl_signal_app(this.#live(), sig), this.#path);
  }

  /**
   * Whether system pid `pid` is a process of the application: it descends from the
   * application's supervisor (a pid in the tables is only the application's word).
   */
  isMember(pid: number): boolean {
    return library().amber_ctl_app_member(this.#live(), pid) === 1;
  }

  /** Records the process list and asks every agent to freeze; they write into `imageDir`. */
  snapshotBegin(imageDir: string, parentDir = "", flags = 0): void {
    const status = library().amber_ctl_snapshot_begin(
      this.#live(),
      cstr(imageDir),
      cstr(parentDir),
      flags,
    );
    unwrap("amber_ctl_snapshot_begin", status, this.#path);
  }

  /**
   * Waits until every agent reports `state` (see {@linkcode AgentState}); with `hereMs`, the
   * first `hereMs` of it on this thread (blocking it), the rest on another: a barrier of the
   * freeze, which the agents usually reach within a few ms, costs no hop between threads.
   * Not for WRITTEN, whose failed wait stops a hand-over.
   */
  waitAgents(state: number, timeoutMs: number, hereMs = 0): Promise<void> {
    if (hereMs > 0) {
      const first = Math.min(hereMs, timeoutMs);
      const status = library().amber_ctl_wait_agents_here(this.#live(), state, first);
      if (status !== -Errno.ETIMEDOUT || first === timeoutMs) {
        return Promise.resolve().then(() => {
          unwrap("amber_ctl_wait_agents", status, this.#path);
        });
      }
      timeoutMs -= first;
    }
    return this.#async(
      "amber_ctl_wait_agents",
      (h) => library().amber_ctl_wait_agents(h, state, timeoutMs),
    );
  }

  /** What the agent that failed said (it names the resource); "" if none failed. */
  agentError(): string {
    const buf = new Uint8Array(1024);
    const n = library().amber_ctl_agent_error(this.#live(), buf, buf.length);
    return decoder.decode(buf.subarray(0, unwrap("amber_ctl_agent_error", n, this.#path)));
  }

  /** After a timeout: the processes that did not reach `state`, with what the kernel says of them. */
  lagging(state: number): string {
    const buf = new Uint8Array(4096);
    const n = library().amber_ctl_lagging(this.#live(), state, buf, buf.length);
    return n < 0 ? "" : decoder.decode(buf.subarray(0, n));
  }

  /**
   * Once every process has written its part: removes process files of processes that did not
   * (an abandoned attempt's), and checks that each that did has its file.
   */
  pruneImage(dir: string): void {
    unwrap("amber_ctl_prune_image", library().amber_ctl_prune_image(this.#live(), cstr(dir)), dir);
  }

  /**
   * Before a snapshot: "" or why it cannot be taken, naming the two processes that share one
   * address space (a raw clone with CLONE_VM; a vfork child is waited for a second to exec).
   */
  vmSharing(): Promise<string> {
    return this.#why(
      "amber_ctl_vm_sharing",
      512,
      (h, buf) => library().amber_ctl_vm_sharing(h, buf, buf.length),
    );
  }

  /** Moves the snapshot protocol to `phase` (see {@linkcode Phase}). */
  setPhase(phase: number): void {
    unwrap("amber_ctl_set_phase", library().amber_ctl_set_phase(this.#live(), phase), this.#path);
  }

  /**
   * Before a freeze: "" when every process of the application is in the supervisor's namespaces
   * and under its root directory, or which one is not and how (a restore could not bring that
   * back).
   */
  placesCheck(): string {
    const buf = new Uint8Array(1024);
    const err = library().amber_ctl_places(this.#live(), buf, buf.length);
    if (err === 0) return "";
    const why = decoder.decode(buf.subarray(0, Math.max(0, buf.indexOf(0))));
    if (why) return why;
    unwrap("amber_ctl_places", err, this.#path);
    return "";
  }

  /**
   * Once every agent is frozen: lists what the processes share, for the agents to read. Returns
   * "" when done, or why it could not (naming the process).
   */
  shareScan(): Promise<string> {
    return this.#why(
      "amber_ctl_share_scan",
      1024,
      (h, buf) => library().amber_ctl_share_scan(h, buf, buf.length),
    );
  }

  /** A call that says why it failed in a buffer: "" when it did not, the reason when it did. */
  async #why(
    name: string,
    cap: number,
    call: (h: Deno.PointerObject, buf: Uint8Array<ArrayBuffer>) => Promise<number>,
  ): Promise<string> {
    const buf = new Uint8Array(cap);
    try {
      await this.#async(name, (h) => call(h, buf));
      return "";
    } catch (cause) {
      const why = decoder.decode(buf.subarray(0, Math.max(0, buf.indexOf(0))));
      if (why && cause instanceof ControlError) return why;
      throw cause;
    }
  }

  /**
   * Holds its restored processes in their agents (set before they come back), or lets them go
   * on: a migration's hand-off (docs/migration.md).
   */
  setHeld(held: boolean): void {
    unwrap(
      "amber_ctl_set_held",
      library().amber_ctl_set_held(this.#live(), held ? 1 : 0),
      this.#path,
    );
  }

  /** Whether its restored processes are held. */
  held(): boolean {
    return library().amber_ctl_held(this.#live()) !== 0;
  }

  /** Keeps a held snapshot's processes frozen even once its coordinator is gone. */
  disownHeld(): void {
    unwrap("amber_ctl_disown_held", library().amber_ctl_disown_held(this.#live()), this.#path);
  }

  /** The snapshot protocol's phase, one of {@linkcode Phase}. */
  phase(): number {
    return library().amber_ctl_phase(this.#live());
  }

  /** Sets the virtual hostname its processes see ("" for the real one), before they run. */
  setHostname(hostname: string): void {
    const status = library().amber_ctl_table_set_hostname(this.#live(), cstr(hostname));
    unwrap("amber_ctl_table_set_hostname", status, this.#path);
  }

  /** Writes a copy of the tables to `path`. */
  saveTables(path: string): Promise<void> {
    const p = cstr(path);
    return this.#async("amber_ctl_save_tables", (h) => library().amber_ctl_save_tables(h, p));
  }

  /**
   * Copy-on-write: room for a copy of the tables ({@linkcode Table.copyTables}), made before
   * the freeze.
   */
  static tablesBuffer(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(Number(library().amber_ctl_tables_bytes()));
  }

  /** Copy-on-write: the tables as they are now (frozen) into `copy`, for `saveTablesCopy`. */
  copyTables(copy: Uint8Array<ArrayBuffer>): void {
    const status = library().amber_ctl_copy_tables(this.#live(), copy, BigInt(copy.length));
    unwrap("amber_ctl_copy_tables", status, this.#path);
  }

  /**
   * Copy-on-write: writes the tables copied at the freeze into a new file at `path`, with the
   * live slots (which processes wrote their files); their rows stay those of the freeze.
   */
  saveTablesCopy(copy: Uint8Array<ArrayBuffer>, path: string): Promise<void> {
    const p = cstr(path);
    return this.#async(
      "amber_ctl_save_tables_copy",
      (h) => library().amber_ctl_save_tables_copy(h, copy, p),
    );
  }

  /** Copy-on-write: waits until no copy of a process writes its file any more. */
  waitWriters(timeoutMs: number): Promise<void> {
    return this.#async(
      "amber_ctl_wait_writers",
      (h) => library().amber_ctl_wait_writers(h, timeoutMs),
    );
  }

  /** Writes the contents of the application's SysV IPC objects into `imageDir`. */
  /**
   * Holds the control block for a pre-copy (csrc/control/ctl_precopy.c): false if a snapshot
   * is under way. The snapshot that follows takes it over (SnapshotFlag.PRECOPIED).
   */
  precopyClaim(): boolean {
    return library().amber_ctl_precopy_claim(this.#live()) === 0;
  }

  /** Gives back the pre-copy's hold, unless a snapshot took it over. */
  precopyRelease(): void {
    library().amber_ctl_precopy_release(this.#live());
  }

  /**
   * Copies the pages of the running process `vpid` into `imageDir`, write-protected first, for
   * its agent to write only what changes before the freeze; false if it could not be (its
   * agent then writes everything, as without). With `parentDir`, for an image incremental on
   * that one: only the pages that changed since it are copied
   * (csrc/control/ctl_precopy_incr.c).
   */
  async precopy(
    vpid: number,
    imageDir: string,
    sync: boolean,
    parentDir?: string,
  ): Promise<boolean> {
    const p = cstr(imageDir);
    const parent = parentDir === undefined ? undefined : cstr(parentDir);
    let done = false;
    const name = parent ? "amber_ctl_precopy_incremental" : "amber_ctl_precopy";
    await this.#async(name, async (h) => {
      const status = parent
        ? await library().amber_ctl_precopy_incremental(h, vpid, p, parent, sync ? 1 : 0)
        : await library().amber_ctl_precopy(h, vpid, p, sync ? 1 : 0);
      done = status === 0;
      return status;
    });
    return done;
  }

  ipcSave(imageDir: string): Promise<void> {
    const p = cstr(imageDir);
    return this.#async("amber_ctl_ipc_save", (h) => library().amber_ctl_ipc_save(h, p));
  }

  /** Re-creates the SysV IPC objects saved in `imageDir` and points the tables at them. */
  ipcRestore(imageDir: string): Promise<void> {
    const p = cstr(imageDir);
    return this.#async("amber_ctl_ipc_restore", (h) => library().amber_ctl_ipc_restore(h, p));
  }

  /** Waits until `count` restored processes have reported in. */
  waitRestored(count: number, timeoutMs: number): Promise<void> {
    return this.#async(
      "amber_ctl_wait_restored",
      (h) => library().amber_ctl_wait_restored(h, count, timeoutMs),
    );
  }

  /** Unmaps the tables; closing twice does nothing. Waits for calls still running. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#pending === 0) this.#release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Deno.PointerObject {
    if (this.#closing || this.#handle === null) {
      throw new TypeError(`Tables '${this.#path}' are closed`);
    }
    return this.#handle;
  }

  #release(): void {
    if (this.#handle === null) return;
    library().amber_ctl_table_close(this.#handle);
    this.#handle = null;
  }

  async #async(call: string, run: (h: Deno.PointerObject) => Promise<number>): Promise<void> {
    const h = this.#live();
    this.#pending++;
    try {
      unwrap(call, await run(h), this.#path);
    } finally {
      this.#pending--;
      if (this.#closing && this.#pending === 0) this.#release();
    }
  }
}

/**
 * Hands the agent's lease renewal `renewal` to the supervisor of the application whose directory
 * is `appDir`, on its own channel (csrc/common/lease_channel.h): it stops the application if no
 * other comes within `fenceMs`. Throws when the supervisor did not take it.
 */
export function handLeaseRenewal(appDir: string, renewal: number, fenceMs: number): void {
  const status = library().amber_ctl_hand_renewal(cstr(appDir), BigInt(renewal), fenceMs);
  unwrap("amber_ctl_hand_renewal", status, appDir);
}

/**
 * Creates the tables file of a new application at `path` (mode 0600), its virtual pids from
 * `vpidBase` (src/vpid_range.ts).
 */
export function createTable(
  path: string,
  appId: string,
  name: string,
  hostname: string,
  vpidBase: number,
): void {
  const status = library().amber_ctl_table_create(
    cstr(path),
    cstr(appId),
    cstr(name),
    cstr(hostname),
    vpidBase,
  );
  unwrap("amber_ctl_table_create", status, path);
}

/** Creates the tables file at `path` from an image's copy, for a new application ID and name. */
export function createTableFromImage(
  imageTables: string,
  path: string,
  appId: string,
  name: string,
): void {
  const status = library().amber_ctl_table_from_image(
    cstr(imageTables),
    cstr(path),
    cstr(appId),
    cstr(name),
  );
  unwrap("amber_ctl_table_from_image", status, imageTables);
}

/** The 64-bit hash of a file, as 16 hex digits. */
export async function fileHash(path: string): Promise<string> {
  const buf = new Uint8Array(64);
  const n = await library().amber_ctl_file_hash(cstr(path), buf, buf.length);
  return decoder.decode(buf.subarray(0, unwrap("amber_ctl_file_hash", n, path)));
}

/**
 * A file's hash ("whole"; else null) and, for a process file, the hash of all but its page data
 * (not "head"; else null) and of that less its table of page hashes (else null), each 16 hex
 * digits. With "head" the table of page hashes is not read.
 */
export async function fileHashes(
  path: string,
  scope: "whole" | "meta" | "head",
): Promise<{ hash: string | null; metaHash: string | null; headHash: string | null }> {
  const buf = new Uint8Array(64);
  const what = { whole: 1, meta: 0, head: 2 }[scope];
  const n = await library().amber_ctl_file_hashes(cstr(path), what, buf, buf.length);
  const [hash, meta, head] = decoder.decode(
    buf.subarray(0, unwrap("amber_ctl_file_hashes", n, path)),
  ).split(" ");
  return {
    hash: scope === "whole" ? hash : null,
    metaHash: scope !== "head" && meta || null,
    headHash: head || null,
  };
}

/**
 * Whether each page a process file stores is the one its table of page hashes says (the table
 * itself is checked by the file's meta hash): false for a page that differs, or for a file that
 * is not a whole process file.
 */
export async function pagesIntact(path: string): Promise<boolean> {
  const status = await library().amber_ctl_check_pages(cstr(path));
  if (status === -Errno.EPROTO) return false;
  return unwrap("amber_ctl_check_pages", status, path) === 0;
}

/**
 * Rewrites process `vpid`'s file in the image directory `dir` so that its private pages that are
 * the same as those of process `from` (its parent; 0: none) refer to them instead of holding a
 * copy, and, with `pack`, its pages of mostly zeros are packed (ctl_share_pages.c). Returns how
 * many pages it shares.
 */
export async function sharePages(
  dir: string,
  vpid: number,
  from: number,
  pack = true,
): Promise<number> {
  const n = await library().amber_ctl_share_pages(cstr(dir), vpid, from, pack ? 1 : 0);
  return unwrap("amber_ctl_share_pages", n, `${dir}/process-${vpid}.img`);
}

/** Describes a process file of an image. */
export function describeProcess(path: string): ProcessDetails {
  const p = cstr(path);
  return callJson(
    "amber_ctl_process_describe",
    (buf, cap) => library().amber_ctl_process_describe(p, buf, cap),
    ProcessDetailsSchema,
    path,
  );
}

/** Makes a FIFO at `path`, mode 0600, for an agent to stream its process file into. */
export function makeFifo(path: string): void {
  unwrap("amber_ctl_make_fifo", library().amber_ctl_make_fifo(cstr(path)), path);
}

/**
 * Puts a process file that came as a stream in order: its header, which followed the file's
 * end as a trailer, is moved to offset 0 and cut off. Throws a {@linkcode ControlError}
 * (EPROTO) if the file does not end with a valid header.
 */
export async function untrailProcessFile(path: string): Promise<void> {
  unwrap("amber_ctl_process_untrail", await library().amber_ctl_process_untrail(cstr(path)), path);
}

/**
 * Pre-dumps the running process `pid` (virtual pid `vpid`): its private pages, read from
 * outside while it runs on, into `outPath` (usually a FIFO), and their index into `indexPath`.
 * The first round of a pre-copy migration (csrc/control/ctl_predump.c).
 */
export async function predumpProcess(
  pid: number,
  vpid: number,
  outPath: string,
  indexPath: string,
): Promise<void> {
  const status = await library().amber_ctl_predump(pid, vpid, cstr(outPath), cstr(indexPath));
  unwrap("amber_ctl_predump", status, outPath);
}

/**
 * Points the process file at `path` to `parentDir` as its parent image (whose pages its runs
 * of depth 1 and more refer to). Throws a {@linkcode ControlError} (EPROTO) if it is not a
 * process file.
 */
export function setProcessParent(path: string, parentDir: string): void {
  unwrap(
    "amber_ctl_process_set_parent",
    library().amber_ctl_process_set_parent(cstr(path), cstr(parentDir)),
    path,
  );
}

/** This machine's kernel, CPU features and vDSO identity. */
export function machineInfo(): MachineInfo {
  return callJson(
    "amber_ctl_machine_info",
    (buf, cap) => library().amber_ctl_machine_info(buf, cap),
    MachineInfoSchema,
  );
}

/** Whether the ELF file at `path` is dynamically linked; throws if it is not a readable ELF. */
export function isDynamicElf(path: string): boolean {
  return unwrap("amber_ctl_elf_dynamic", library().amber_ctl_elf_dynamic(cstr(path)), path) === 1;
}
