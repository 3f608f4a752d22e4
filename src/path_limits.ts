/**
 * How long the paths that Amber hands to its C side may be: the C side keeps them in fixed-size
 * buffers, and a path cut short there would name another file. A longer one is refused with a
 * message that names the limit.
 *
 * @module
 */

/** The limits, in bytes (UTF-8). */
export const PathLimit = {
  /** The state directory: `apps/<name>/log` and `vne.table` under it fit the library's 512. */
  STATE_DIR: 400,
  /** A restored application's directory: `<dir>/broker` fits a Unix socket address (108). */
  RESTORED_APP_DIR: 100,
  /** An image directory, and an incremental image's parent (AMBER_CTL_PATH, 512 with NUL). */
  IMAGE_DIR: 511,
} as const;

const encoder = new TextEncoder();

/**
 * Why `path` is longer than `max` bytes, as a sentence fragment that calls the path `what`; null
 * if it is not.
 */
export function pathTooLong(path: string, max: number, what = "its path"): string | null {
  const bytes = encoder.encode(path).length;
  return bytes > max ? `${what} is ${bytes} bytes long, more than the ${max} Amber accepts` : null;
}
