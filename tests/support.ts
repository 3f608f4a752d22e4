/**
 * What the snapshot and restore tests share: a scenario that launches a test program under
 * Amber, waits for it to say "ready", snapshots it with `stop` (the original is killed),
 * restores it, lets it go on (it waits for `<dir>/go`) and waits for its verdict. Every wait
 * has a deadline, and a scenario kills every application it started and removes its files
 * when it is disposed, whether the test passed or not.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type App,
  type Image,
  launch,
  restore,
  type RestoreOptions,
  SnapshotError,
} from "../mod.ts";

export const PROGS = fileURLToPath(new URL("../build/tests/", import.meta.url));
const STEP_MS = 20;

export function prog(name: string): string {
  return join(PROGS, name);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A test whose fixture is made, used within `limitMs`, and disposed whether it passed or not. */
export function limitedTest<F extends AsyncDisposable>(
  name: string,
  make: (limitMs: number) => Promise<F>,
  body: (fixture: F) => Promise<void>,
  limitMs: number,
): void {
  Deno.test({ name, sanitizeResources: false, sanitizeOps: false }, async () => {
    await using fixture = await make(limitMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`The test did not end within ${limitMs} ms`)),
        limitMs,
      );
    });
    try {
      await Promise.race([body(fixture), late]);
    } finally {
      clearTimeout(timer);
    }
  });
}

/** A test body that must end within `limitMs`; the scenario is disposed either way. */
export function scenarioTest(
  name: string,
  body: (s: Scenario) => Promise<void>,
  limitMs = 90_000,
): void {
  limitedTest(name, (limit) => Scenario.create(limit), body, limitMs);
}

export class Scenario {
  readonly dir: string;
  readonly output: string;
  readonly #apps: App[] = [];
  readonly #deadline: number;

  private constructor(dir: string, deadline: number) {
    this.dir = dir;
    this.output = join(dir, "out");
    this.#deadline = deadline;
  }

  static async create(limitMs: number): Promise<Scenario> {
    return new Scenario(await Deno.makeTempDir({ prefix: "amber-test-" }), Date.now() + limitMs);
  }

  get go(): string {
    return join(this.dir, "go");
  }

  name(tag: string): string {
    return `${tag}-${crypto.randomUUID().slice(0, 8)}`;
  }

  /** Launches argv under Amber; the program's output goes to this scenario's output file. */
  async launch(
    argv: string[],
    tag = "app",
    options: { detach?: boolean; seccomp?: "on" | "off" } = {},
  ): Promise<App> {
    const app = await launch(argv, { name: this.name(tag), output: this.output, ...options });
    this.#apps.push(app);
    return app;
  }

  async restore(image: Image | string, options: RestoreOptions = {}): Promise<App> {
    const app = await restore(image, {
      name: this.name("restored"),
      output: this.output,
      ...options,
    });
    this.#apps.push(app);
    return app;
  }

  async text(): Promise<string> {
    try {
      return await Deno.readTextFile(this.output);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }

  /** Waits until the output matches; fails at once on a FAIL line. */
  async waitFor(pattern: RegExp, what = pattern.source): Promise<string> {
    for (;;) {
      const text = await this.text();
      if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
      if (pattern.test(text)) return text;
      if (Date.now() > this.#deadline) assert.fail(`No ${what} in the output in time:\n${text}`);
      await sleep(STEP_MS);
    }
  }

  /** Snapshot with stop, so the original is gone before anything is restored. */
  async freeze(app: App, tag = "image"): Promise<Image> {
    return await app.snapshot({ dir: join(this.dir, `${tag}.amber`), stop: true });
  }

  /** Lets the restored program go on, and waits for its PASS. */
  async pass(): Promise<string> {
    await Deno.writeTextFile(this.go, "");
    return await this.waitFor(/^PASS$/m, "PASS");
  }

  /**
   * The round most tests make: launch `argv`, wait for its "ready", snapshot with stop, restore,
   * let the restored program go on and wait for its PASS. Returns the image, for more checks.
   */
  async roundTrip(argv: string[], tag = "app"): Promise<Image> {
    const app = await this.launch(argv, tag);
    await this.waitFor(/^ready$/m, "ready");
    const image = await this.freeze(app);
    await this.restore(image);
    await this.pass();
    return image;
  }

  /**
   * The longer round: launch `argv`, wait for its "ready", snapshot it running (no stop), then
   * snapshot with stop and restore twice over, and wait for the last restored program's PASS.
   */
  async cycles(argv: string[], tag = "app", seccomp?: "on" | "off"): Promise<void> {
    const app = await this.launch(argv, tag, { seccomp });
    await this.waitFor(/^ready$/m, "ready");
    await app.snapshot({ dir: join(this.dir, "live.amber") });
    const once = await this.restore(await this.freeze(app, "first"));
    await this.restore(await this.freeze(once, "second"));
    await this.pass();
  }

  /**
   * As cycles, with the program's checks after each restore: the first restored program checks
   * once <dir>/again is there and says "restored once"; the second on <dir>/go, then its PASS.
   */
  async checkedCycles(argv: string[], tag = "app"): Promise<void> {
    const app = await this.launch(argv, tag);
    await this.waitFor(/^ready$/m, "ready");
    await app.snapshot({ dir: join(this.dir, "live.amber") });
    const once = await this.restore(await this.freeze(app, "first"));
    await Deno.writeTextFile(join(this.dir, "again"), "");
    await this.waitFor(/^restored once$/m, "the checks after the first restore");
    await this.restore(await this.freeze(once, "second"));
    await this.pass();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const app of this.#apps) await app.kill().catch(() => {});
    // AMBER_TEST_KEEP=1 keeps the images and output of each test, to look at after a failure.
    if (Deno.env.get("AMBER_TEST_KEEP")) return console.error(`kept ${this.dir}`);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Once `app` says "ready": its snapshot fails naming what `named` matches, as a refusal, leaves
 * no image, and the program runs on to its PASS. */
export async function refusedRunsOn(s: Scenario, app: App, named: RegExp): Promise<void> {
  await s.waitFor(/^ready$/m, "ready");
  const dir = join(s.dir, "never.amber");
  await assert.rejects(app.snapshot({ dir, stop: true }), (e: unknown) => {
    assert.ok(e instanceof SnapshotError, `Expected a SnapshotError, got ${e}`);
    assert.match(e.message, named);
    assert.equal(e.reason, "unsupported-resource", e.message);
    return true;
  });
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  const ticks = [...(await s.text()).matchAll(/^tick \d+$/gm)].length;
  await s.waitFor(new RegExp(`^tick ${ticks + 5}$`, "m"), "more ticks after the snapshot");
  await s.pass();
}
