/**
 * Flags of a pid row of the translation tables (AMBER_PID_* in csrc/common/table.h), apart
 * from ffi/control.ts so that the command line can name them without loading the library's
 * bindings. Generated from the header into ffi/contract.ts.
 *
 * @module
 */

export { PidFlag } from "./contract.ts";
