/**
 * The one place where the control library's symbols are declared for `Deno.dlopen`, mirroring
 * `csrc/control/control.h`, and the one loader for `build/libamberctl.so`.
 *
 * Every function that can fail returns 0 (or a length) on success and -errno on failure; see
 * `ffi/control.ts` for the safe wrappers. Calls that wait or read whole files are
 * `nonblocking: true`, so that they run on another thread and return a promise.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { AmberError, type AmberErrorReason } from "../src/errors.ts";

/** The ABI version this TypeScript code was written against (`AMBER_CTL_ABI_VERSION`). */
export const ABI_VERSION = 1;

/** The file name of the control library. */
export const LIBRARY_FILE = "libamberctl.so";

/** Symbol declarations; each parameter is commented with its C type. */
export const symbols = {
  // int32_t amber_ctl_abi_version(void)
  amber_ctl_abi_version: { parameters: [], result: "i32" },

  // int32_t amber_ctl_table_create(const char *path, const char *app_id, const char *name,
  //                                const char *hostname, int32_t vpid_base)
  amber_ctl_table_create: {
    parameters: [
      "buffer", // const char *path
      "buffer", // const char *app_id
      "buffer", // const char *name
      "buffer", // const char *hostname
      "i32", // int32_t vpid_base
    ],
    result: "i32",
  },
  // void *amber_ctl_table_open(const char *path, int32_t *err)
  amber_ctl_table_open: {
    parameters: [
      "buffer", // const char *path
      "buffer", // int32_t *err
    ],
    result: "pointer",
  },
  // void amber_ctl_table_close(void *table)
  amber_ctl_table_close: {
    parameters: [
      "pointer", // void *table
    ],
    result: "void",
  },

  // int32_t amber_ctl_table_info(void *table, char *buf, int32_t cap)
  amber_ctl_table_info: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_table_rows(void *table, char *buf, int32_t cap)
  amber_ctl_table_rows: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },

  // int32_t amber_ctl_signal_app(void *table, int32_t sig)
  amber_ctl_signal_app: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t sig
    ],
    result: "i32",
  },

  // int32_t amber_ctl_app_member(void *table, int32_t pid): 1 if pid is its process, else 0
  amber_ctl_app_member: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t pid
    ],
    result: "i32",
  },

  // int32_t amber_ctl_snapshot_begin(void *table, const char *image_dir, const char *parent_dir,
  //                                  uint32_t flags)
  amber_ctl_snapshot_begin: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *image_dir
      "buffer", // const char *parent_dir ("" for none)
      "u32", // uint32_t flags (SnapshotFlag)
    ],
    result: "i32",
  },
  // int32_t amber_ctl_precopy_claim(void *table)
  amber_ctl_precopy_claim: {
    parameters: [
      "pointer", // void *table
    ],
    result: "i32",
  },
  // int32_t amber_ctl_precopy_release(void *table)
  amber_ctl_precopy_release: {
    parameters: [
      "pointer", // void *table
    ],
    result: "i32",
  },
  // int32_t amber_ctl_precopy(void *table, int32_t vpid, const char *dir, int32_t sync)
  amber_ctl_precopy: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t vpid
      "buffer", // const char *dir
      "i32", // int32_t sync (fdatasync the pages)
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_precopy_incremental(void *table, int32_t vpid, const char *dir,
  //                                       const char *parent_dir, int32_t sync)
  amber_ctl_precopy_incremental: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t vpid
      "buffer", // const char *dir
      "buffer", // const char *parent_dir
      "i32", // int32_t sync (fdatasync the pages)
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_wait_agents(void *table, int32_t state, int32_t timeout_ms)
  amber_ctl_wait_agents: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t state
      "i32", // int32_t timeout_ms
    ],
    result: "i32",
    nonblocking: true,
  },
  // The same, on the calling thread: the first few ms of a freeze's barrier, which a hop to
  // another thread and back would lengthen by 0.1-4 ms.
  amber_ctl_wait_agents_here: {
    name: "amber_ctl_wait_agents",
    parameters: [
      "pointer", // void *table
      "i32", // int32_t state
      "i32", // int32_t timeout_ms
    ],
    result: "i32",
  },
  // int32_t amber_ctl_agent_error(void *table, char *buf, int32_t cap)
  amber_ctl_agent_error: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_lagging(void *table, int32_t state, char *buf, int32_t cap)
  amber_ctl_lagging: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t state
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_set_phase(void *table, int32_t phase)
  amber_ctl_set_phase: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t phase
    ],
    result: "i32",
  },
  // int32_t amber_ctl_places(void *table, char *buf, int32_t cap)
  amber_ctl_places: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_share_scan(void *table, char *buf, int32_t cap)
  amber_ctl_share_scan: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_vm_sharing(void *table, char *buf, int32_t cap)
  amber_ctl_vm_sharing: {
    parameters: [
      "pointer", // void *table
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_save_tables(void *table, const char *path)
  amber_ctl_save_tables: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *path
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_ipc_save(void *table, const char *image_dir)
  amber_ctl_ipc_save: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *image_dir
    ],
    result: "i32",
    nonblocking: true,
  },

  // int32_t amber_ctl_table_from_image(const char *image_tables, const char *path,
  //                                    const char *app_id, const char *name)
  amber_ctl_table_from_image: {
    parameters: [
      "buffer", // const char *image_tables
      "buffer", // const char *path
      "buffer", // const char *app_id
      "buffer", // const char *name
    ],
    result: "i32",
  },
  // int32_t amber_ctl_ipc_restore(void *table, const char *image_dir)
  amber_ctl_ipc_restore: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *image_dir
    ],
    result: "i32",
    nonblocking: true,
  },
  // int64_t amber_ctl_tables_bytes(void)
  amber_ctl_tables_bytes: {
    parameters: [],
    result: "i64",
  },
  // int32_t amber_ctl_copy_tables(void *table, void *copy, int64_t cap)
  amber_ctl_copy_tables: {
    parameters: [
      "pointer", // void *table
      "buffer", // void *copy
      "i64", // int64_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_save_tables_copy(void *table, void *copy, const char *path)
  amber_ctl_save_tables_copy: {
    parameters: [
      "pointer", // void *table
      "buffer", // void *copy
      "buffer", // const char *path
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_wait_writers(void *table, int32_t timeout_ms)
  amber_ctl_wait_writers: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t timeout_ms
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_prune_image(void *table, const char *dir)
  amber_ctl_prune_image: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *dir
    ],
    result: "i32",
  },
  // int32_t amber_ctl_wait_restored(void *table, int32_t count, int32_t timeout_ms)
  amber_ctl_wait_restored: {
    parameters: [
      "pointer", // void *table
      "i32", // int32_t count
      "i32", // int32_t timeout_ms
    ],
    result: "i32",
    nonblocking: true,
  },

  // int32_t amber_ctl_file_hash(const char *path, char *buf, int32_t cap)
  amber_ctl_file_hash: {
    parameters: [
      "buffer", // const char *path
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_file_hashes(const char *path, int32_t whole, char *buf, int32_t cap)
  amber_ctl_file_hashes: {
    parameters: [
      "buffer", // const char *path
      "i32", // int32_t whole
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_check_pages(const char *path)
  amber_ctl_check_pages: {
    parameters: [
      "buffer", // const char *path
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_share_pages(const char *dir, int32_t vpid, int32_t from, int32_t pack)
  amber_ctl_share_pages: {
    parameters: [
      "buffer", // const char *dir
      "i32", // int32_t vpid
      "i32", // int32_t from
      "i32", // int32_t pack
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_process_describe(const char *path, char *buf, int32_t cap)
  amber_ctl_process_describe: {
    parameters: [
      "buffer", // const char *path
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_make_fifo(const char *path)
  amber_ctl_make_fifo: {
    parameters: [
      "buffer", // const char *path
    ],
    result: "i32",
  },
  // int32_t amber_ctl_process_untrail(const char *path)
  amber_ctl_process_untrail: {
    parameters: [
      "buffer", // const char *path
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_predump(int32_t pid, int32_t vpid, const char *out_path,
  //                           const char *index_path)
  amber_ctl_predump: {
    parameters: [
      "i32", // int32_t pid
      "i32", // int32_t vpid
      "buffer", // const char *out_path
      "buffer", // const char *index_path
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t amber_ctl_process_set_parent(const char *path, const char *parent_dir)
  amber_ctl_process_set_parent: {
    parameters: [
      "buffer", // const char *path
      "buffer", // const char *parent_dir
    ],
    result: "i32",
  },
  // int32_t amber_ctl_machine_info(char *buf, int32_t cap)
  amber_ctl_machine_info: {
    parameters: [
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_elf_dynamic(const char *path)
  amber_ctl_elf_dynamic: {
    parameters: [
      "buffer", // const char *path
    ],
    result: "i32",
  },
  // --- Virtual network environments (csrc/control/ctl_vne.c; wrapped in ffi/vne.ts) ---
  // void *amber_ctl_vne_open(const char *path, int32_t *err)
  amber_ctl_vne_open: {
    parameters: [
      "buffer", // const char *path
      "buffer", // int32_t *err
    ],
    result: "pointer",
  },
  // void amber_ctl_vne_close(void *vt)
  amber_ctl_vne_close: { parameters: ["pointer"], result: "void" },
  // uint32_t amber_ctl_vne_generation(void *vt)
  amber_ctl_vne_generation: { parameters: ["pointer"], result: "u32" },
  // int32_t amber_ctl_vne_dump(void *vt, char *buf, int32_t cap)
  amber_ctl_vne_dump: {
    parameters: [
      "pointer", // void *vt
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_define(void *vt, const char *name, uint32_t subnet, int32_t prefix,
  //                              int32_t origin)
  amber_ctl_vne_define: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
      "u32", // uint32_t subnet
      "i32", // int32_t prefix
      "i32", // int32_t origin
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_undefine(void *vt, const char *name)
  amber_ctl_vne_undefine: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_claim(void *vt, const char *name, uint32_t ip, const char *app_id,
  //   const char *app, const char *hostname, const char *host, int32_t origin,
  //   const char *replace_app_id)
  amber_ctl_vne_claim: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
      "u32", // uint32_t ip
      "buffer", // const char *app_id
      "buffer", // const char *app
      "buffer", // const char *hostname
      "buffer", // const char *host
      "i32", // int32_t origin
      "buffer", // const char *replace_app_id
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_unclaim(void *vt, const char *name, uint32_t ip, const char *app_id)
  amber_ctl_vne_unclaim: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
      "u32", // uint32_t ip
      "buffer", // const char *app_id
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_row_put(void *vt, const char *name, int32_t proto, uint32_t ip,
  //   int32_t port, uint32_t real_ip, int32_t real_port, const char *app_id, int32_t origin)
  amber_ctl_vne_row_put: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
      "i32", // int32_t proto
      "u32", // uint32_t ip
      "i32", // int32_t port
      "u32", // uint32_t real_ip
      "i32", // int32_t real_port
      "buffer", // const char *app_id
      "i32", // int32_t origin
    ],
    result: "i32",
  },
  // int32_t amber_ctl_vne_row_delete(void *vt, const char *name, int32_t proto, uint32_t ip,
  //                                  int32_t port)
  amber_ctl_vne_row_delete: {
    parameters: [
      "pointer", // void *vt
      "buffer", // const char *name
      "i32", // int32_t proto
      "u32", // uint32_t ip
      "i32", // int32_t port
    ],
    result: "i32",
  },
  // int32_t amber_ctl_table_set_vne(const char *tables, const char *name, uint32_t ip,
  //                                 const char *vne_table)
  amber_ctl_table_set_vne: {
    parameters: [
      "buffer", // const char *tables
      "buffer", // const char *name
      "u32", // uint32_t ip
      "buffer", // const char *vne_table
    ],
    result: "i32",
  },
  // int32_t amber_ctl_table_vne(const char *tables, char *buf, int32_t cap)
  amber_ctl_table_vne: {
    parameters: [
      "buffer", // const char *tables
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_table_vne_from_image(const char *tables, const char *image_tables)
  amber_ctl_table_vne_from_image: {
    parameters: [
      "buffer", // const char *tables
      "buffer", // const char *image_tables
    ],
    result: "i32",
  },
  // int32_t amber_ctl_check(char *buf, int32_t cap)
  amber_ctl_check: {
    parameters: [
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_image_vne(const char *image_tables, char *buf, int32_t cap)
  amber_ctl_image_vne: {
    parameters: [
      "buffer", // const char *image_tables
      "buffer", // char *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_table_set_hostname(void *table, const char *hostname)
  amber_ctl_table_set_hostname: {
    parameters: [
      "pointer", // void *table
      "buffer", // const char *hostname
    ],
    result: "i32",
  },
  // int32_t amber_ctl_file_kind(const char *path, uint64_t out[5]): mode, size, dev, ino, mtime ns
  amber_ctl_file_kind: {
    parameters: [
      "buffer", // const char *path
      "buffer", // uint64_t out[2]: st_mode, st_size
    ],
    result: "i32",
  },
  // int32_t amber_ctl_read_regular(const char *path, uint8_t *buf, int32_t cap)
  amber_ctl_read_regular: {
    parameters: [
      "buffer", // const char *path
      "buffer", // uint8_t *buf
      "i32", // int32_t cap
    ],
    result: "i32",
  },
  // int32_t amber_ctl_private_dir(const char *path, int32_t *out)
  amber_ctl_private_dir: {
    parameters: [
      "buffer", // const char *path
      "buffer", // int32_t out[2]: owner uid, mode
    ],
    result: "i32",
  },
  // int32_t amber_ctl_set_held(void *table, int32_t held)
  amber_ctl_set_held: { parameters: ["pointer", "i32"], result: "i32" },
  // int32_t amber_ctl_held(void *table)
  amber_ctl_held: { parameters: ["pointer"], result: "i32" },
  // int32_t amber_ctl_disown_held(void *table)
  amber_ctl_disown_held: { parameters: ["pointer"], result: "i32" },
  // int32_t amber_ctl_phase(void *table)
  amber_ctl_phase: { parameters: ["pointer"], result: "i32" },
  // int32_t amber_ctl_hand_renewal(const char *app_dir, uint64_t renewal, int32_t fence_ms)
  amber_ctl_hand_renewal: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded control library's functions. */
export type ControlSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** The control library could not be found, loaded, or has the wrong ABI version. */
export class ControlLibraryError extends AmberError {
  /** The reason of errors of this class. */
  static override readonly reason: AmberErrorReason = "native-library";
  /** The class name, shown in messages. */
  override name = "ControlLibraryError";
}

let loaded: Deno.DynamicLibrary<typeof symbols> | undefined;

/** How to get the native parts when they are missing, said in every message about them. */
export const BUILD_HINT = "build them with 'make' in a checkout of Amber and set " +
  "AMBER_BUILD_DIR to its build/ directory";

/**
 * Where the control library is: `$AMBER_LIB_DIR/libamberctl.so`, else in `$AMBER_BUILD_DIR`,
 * else `build/` of the checkout this module was loaded from. A module imported by an http(s)
 * URL has no checkout beside it: then one of the two variables must say where the build is.
 */
export function libraryPath(): string {
  const dir = Deno.env.get("AMBER_LIB_DIR") || Deno.env.get("AMBER_BUILD_DIR");
  if (dir) return join(dir, LIBRARY_FILE);
  const url = new URL(`../build/${LIBRARY_FILE}`, import.meta.url);
  if (url.protocol !== "file:") {
    throw new ControlLibraryError(
      `Cannot find Amber's native library ${LIBRARY_FILE}: Amber was loaded from ` +
        `'${url.origin}', not from a local checkout, and AMBER_BUILD_DIR is not set; ` +
        BUILD_HINT,
    );
  }
  return fileURLToPath(url);
}

/** Loads the control library once and checks its ABI version; later calls reuse it. */
export function library(): ControlSymbols {
  if (loaded) return loaded.symbols;
  const path = libraryPath();
  let lib: Deno.DynamicLibrary<typeof symbols>;
  try {
    lib = Deno.dlopen(path, symbols);
  } catch (cause) {
    throw new ControlLibraryError(
      `Could not load Amber's control library '${path}': ${BUILD_HINT} ` +
        `(or AMBER_LIB_DIR to the directory that holds ${LIBRARY_FILE})`,
      { cause },
    );
  }
  const version = lib.symbols.amber_ctl_abi_version();
  if (version !== ABI_VERSION) {
    lib.close();
    throw new ControlLibraryError(
      `Amber's control library '${path}' has ABI version ${version}, expected ${ABI_VERSION}: ` +
        `rebuild it with 'make'`,
    );
  }
  loaded = lib;
  return lib.symbols;
}
