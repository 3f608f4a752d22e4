/**
 * Set-up on a Linux without apt-get: `tools/bootstrap.sh` and `make deps` list what is missing
 * and stop with a failure, installing nothing. Each runs with a PATH of a few tools linked into a
 * temporary folder, so apt-get (and what the test leaves out) is not found.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./cli_run.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A temporary folder with links to `tools` only (found in /usr/bin or /bin), for PATH. */
async function binWith(tools: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "amber-bootstrap-test-" });
  for (const tool of tools) {
    const found = ["/usr/bin", "/bin"].map((d) => join(d, tool)).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    if (!found) throw new Error(`${tool} is needed by this test`);
    await Deno.symlink(found, join(dir, tool));
  }
  return dir;
}

const SHELL_TOOLS = ["sh", "sed", "tr", "cat", "dirname"];

Deno.test("bootstrap.sh without apt-get lists what it needs and stops", async () => {
  const bin = await binWith(SHELL_TOOLS);
  try {
    const out = await run("/bin/sh", [join(ROOT, "tools/bootstrap.sh"), "all"], { PATH: bin });
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /apt-get was not found/);
    assert.match(out.stderr, /to build Amber: +make gcc libc6-dev npm\n/);
    // The tests' packages, as the Makefile's deps target and install-etcd.sh name them.
    for (const name of ["python3", "redis-server", "postgresql", "golang-go", "etcd-server"]) {
      assert.match(out.stderr, new RegExp(`to run the tests: .*\\b${name}\\b`));
    }
    assert.equal(out.stdout, "");
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("make deps without apt-get lists the missing packages and fails", async () => {
  // make and a shell, but no python3, redis-server, ... and no apt-get.
  const bin = await binWith(["make", ...SHELL_TOOLS]);
  try {
    const out = await run(join(bin, "make"), ["-s", "-C", ROOT, "deps"], { PATH: bin });
    assert.notEqual(out.code, 0);
    assert.match(
      out.stderr,
      /Missing for the tests \(Debian package names.*\): *python3 .*redis-server/,
    );
    assert.match(out.stderr, /apt-get was not found/);
    assert.doesNotMatch(out.stdout, /Installing/);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
