/**
 * What the VNE and migration tests share: a scene that remembers everything a test started
 * (applications, VNEs, child processes, network namespaces) and ends all of it when disposed,
 * whether the test passed or not; waits with deadlines; unique VNE names and subnets.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type App, launch, type LaunchOptions, listVnes, removeVne } from "../mod.ts";
import { limitedTest, sleep } from "./support.ts";

export { prog, PROGS, sleep } from "./support.ts";
export const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
export const DENO = Deno.execPath();

/** A unique tag: VNE and application names that parallel tests cannot share. */
export function unique(tag: string): string {
  return `${tag}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A /24 subnet of 10.x.y.0 that no VNE of this computer uses yet; returns its prefix "10.x.y". */
export function freeSubnet(): string {
  const used = new Set(listVnes().map((v) => v.subnet));
  for (;;) {
    const x = 100 + Math.floor(Math.random() * 150), y = Math.floor(Math.random() * 250);
    if (!used.has(`10.${x}.${y}.0/24`)) return `10.${x}.${y}`;
  }
}

/** A test body that must end within `limitMs`; the scene is disposed either way. */
export function sceneTest(name: string, body: (s: Scene) => Promise<void>, limitMs = 90_000): void {
  limitedTest(name, (limit) => Scene.create(limit), body, limitMs);
}

export class Scene {
  readonly dir: string;
  readonly deadline: number;
  readonly apps: App[] = [];
  readonly vnes: string[] = [];
  readonly cleanups: (() => Promise<void> | void)[] = [];

  private constructor(dir: string, deadline: number) {
    this.dir = dir;
    this.deadline = deadline;
  }

  static async create(limitMs: number): Promise<Scene> {
    return new Scene(await Deno.makeTempDir({ prefix: "amber-vne-" }), Date.now() + limitMs);
  }

  /** Launches argv under Amber; its output goes to `<dir>/<tag>.out`, returned with the app. */
  async launch(argv: string[], tag: string, options: LaunchOptions = {}): Promise<[App, string]> {
    const output = join(this.dir, `${tag}.out`);
    const app = await launch(argv, { name: unique(tag), output, ...options });
    this.apps.push(app);
    return [app, output];
  }

  /** Waits until the file's text matches `pattern`; fails early on FAIL, late on the deadline. */
  async waitFor(path: string, pattern: RegExp): Promise<string> {
    for (;;) {
      const text = await readText(path);
      if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
      if (pattern.test(text)) return text;
      if (Date.now() > this.deadline) assert.fail(`No ${pattern} in time; the output is:\n${text}`);
      await sleep(20);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const app of this.apps) await app.kill().catch(() => {});
    for (const vne of this.vnes) {
      try {
        removeVne(vne);
      } catch {
        // Gone already, or still held by an application that could not be ended.
      }
    }
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Best effort: the rest must still run.
      }
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/** One HTTP GET with a time limit: its status and body, or status 0 and the error. */
export async function get(
  url: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}
