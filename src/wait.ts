/**
 * Small helpers for waiting: sleeping, and polling until a condition holds or time runs out.
 *
 * @module
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `path` exists (a dangling symbolic link counts as missing). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return false;
    throw cause;
  }
}

/**
 * Calls `check` every `intervalMs` until it returns true (then resolves true) or `timeoutMs`
 * has passed (then resolves false). A `timeoutMs` of `Infinity` waits for ever.
 */
export async function poll(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** Checks that `value` is a usable timeout in milliseconds, and returns it. */
export function checkTimeout(value: number, what = "timeoutMs"): number {
  if (!Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`Invalid ${what} ${value}: expected a positive whole number of ms`);
  }
  return value;
}
