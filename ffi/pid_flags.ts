/**
 * Flags of a pid row of the translation tables (AMBER_PID_* in csrc/common/table.h), apart
 * from ffi/control.ts so that the command line can name them without loading the library's
 * bindings.
 *
 * @module
 */

/** Flags of a pid row. */
export const PidFlag = { PROCESS: 0x1, THREAD: 0x2, SUPERVISOR: 0x4 } as const;
