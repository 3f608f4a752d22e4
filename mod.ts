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
 * import { launch, restore } from "./mod.ts";
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
 * @example Keep the last three periodic snapshots
 * ```ts ignore
 * import { open } from "./mod.ts";
 *
 * const app = await open("web2");
 * const kept: string[] = [];
 * for (let i = 0; i < 10; i++) {
 *   const image = await app.snapshot({ dir: `web2-${Date.now()}.amber` });
 *   kept.push(image.dir);
 *   if (kept.length > 3) await Deno.remove(kept.shift()!, { recursive: true });
 *   await new Promise((resolve) => setTimeout(resolve, 60_000));
 * }
 * ```
 *
 * @example Check an image without restoring it
 * ```ts
 * import { describeImage, ImageError } from "./mod.ts";
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

export { App, type AppInit, type ExitStatus, type ProcessInfo } from "./src/app.ts";
export { type AppListing, list, open } from "./src/apps.ts";
export { type ExitRecord } from "./src/exited.ts";
export { launch, type LaunchOptions } from "./src/launch.ts";
export { snapshot, type SnapshotOptions } from "./src/snapshot.ts";
export { restore, type RestoreOptions } from "./src/restore.ts";
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
  type ImageProcess,
  type Manifest,
  MANIFEST_FILE,
  ManifestSchema,
} from "./src/manifest.ts";
export {
  AmberError,
  AppExistsError,
  AppNotFoundError,
  ImageError,
  IncompatibleImageError,
  NotImplementedError,
  ProgramError,
  RestoreError,
  SnapshotError,
} from "./src/errors.ts";
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
export { AgentError, MigrationError, VneError, VneInUseError } from "./src/vne/errors.ts";
export { ControlLibraryError } from "./ffi/symbols.ts";
export {
  ControlError,
  type MachineInfo,
  machineInfo,
  type ProcessDetails,
  type TableInfo,
  type TableRow,
} from "./ffi/control.ts";
