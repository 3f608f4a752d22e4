/**
 * Amber freezes a running Linux application and thaws it later, here or on another computer.
 * The application runs under an interposition library that gives it virtual process and SysV
 * IPC IDs, so that an image restores on a machine where the real IDs differ.
 *
 * This module is the typed API; `cli.ts` is a thin command line over it. Applications are
 * launched with {@linkcode launch}, found with {@linkcode open} and {@linkcode list}, frozen
 * with {@linkcode App.snapshot}, checked with {@linkcode inspect} and thawed with
 * {@linkcode restore}.
 *
 * @example Launch, snapshot, kill, restore
 * ```ts
 * import { launch, restore } from "@amber/amber";
 *
 * const app = await launch(["sleep", "60"], { detach: true });
 * const dir = await Deno.makeTempDir();
 * const image = await app.snapshot({ dir: `${dir}/sleep.amber` });
 * await app.kill();
 * await using again = await restore(image, { detach: true });
 * console.log(again.processes()); // the same virtual pids as before
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Snapshot every minute, keeping the last three images, until stopped
 * ```ts ignore
 * import { open } from "@amber/amber";
 *
 * const app = await open("web2");
 * const series = app.snapshotEvery({ dir: "web2-snapshots", everyMs: 60_000, keep: 3 });
 * // ... later: the newest image is series.images.at(-1)
 * await series.stop();
 * ```
 *
 * @example Check an image without restoring it
 * ```ts
 * import { describeImage, ImageError } from "@amber/amber";
 *
 * try {
 *   const report = await describeImage("no-such-image.amber");
 *   console.log(report.verified);
 * } catch (error) {
 *   if (!(error instanceof ImageError)) throw error;
 *   console.log(error.message); // "Image 'no-such-image.amber' does not exist"
 * }
 * ```
 *
 * @module
 */

export { App, type AppInit, type ExitStatus } from "./src/app.ts";
export { type ProcessInfo } from "./src/processes.ts";
export { type AppListing, list, open } from "./src/apps.ts";
export { type ExitRecord } from "./src/exited.ts";
export { launch, type LaunchOptions } from "./src/launch.ts";
export { snapshot, snapshotEvery } from "./src/app_snapshots.ts";
export { type SnapshotOptions } from "./src/snapshot.ts";
export { type SnapshotStats } from "./src/stats.ts";
export { type Progress, type ProgressCallback } from "./src/progress.ts";
export { restore, type RestoreOptions } from "./src/restore.ts";
export { type PeriodicOptions, type PeriodicSnapshots } from "./src/periodic.ts";
export { check, type CheckReport, type Feature } from "./src/check.ts";
export { type Clone, type ClonesOptions, restoreClones } from "./src/clones.ts";
export {
  checkFiles,
  describeImage,
  type FileCheck,
  type Image,
  type ImageReport,
  incompatibility,
  inspect,
  readImage,
} from "./src/image.ts";
export {
  IMAGE_FORMAT,
  IMAGE_VERSION,
  type ImageFile,
  type ImageParent,
  type ImageProcess,
  type Manifest,
  MANIFEST_FILE,
} from "./src/manifest.ts";
export {
  AmberError,
  type AmberErrorOptions,
  type AmberErrorReason,
  AppExistsError,
  AppNotFoundError,
  ImageError,
  IncompatibleImageError,
  NotImplementedError,
  ProgramError,
  RestoreError,
  SnapshotError,
} from "./src/errors.ts";
export {
  type LostConnections,
  lostConnections,
  type ResetConnection,
  type UnacceptedConnections,
} from "./src/lost.ts";
export { appsDir, stateDir } from "./src/paths.ts";
export {
  createVne,
  getVne,
  listVnes,
  removeVne,
  type VneAddress,
  type VneInfo,
  type VneMember,
} from "./src/vne/registry.ts";
export { type VneOptions } from "./src/vne/join.ts";
export { migrate, type MigrateOptions, type Migration } from "./src/migrate/migrate.ts";
export { type Agent, type AgentOptions, serveAgent } from "./src/agent/server.ts";
export { type TransportOptions } from "./src/agent/transport.ts";
export { type AgentLimits, DEFAULT_LIMITS } from "./src/agent/limits.ts";
export { AgentError, MigrationError, VneError, VneInUseError } from "./src/vne/errors.ts";
export { ControlLibraryError } from "./ffi/symbols.ts";
export type { FileKind } from "./ffi/files.ts";
export {
  ControlError,
  type MachineInfo,
  machineInfo,
  type ProcessDetails,
  type TableInfo,
  type TableRow,
} from "./ffi/control.ts";
