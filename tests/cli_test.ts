/**
 * The command line's handling of bad input: each case runs `cli.ts` in a child Deno with its
 * own state directory, and checks the message and the exit status (2 for usage errors, 1 for
 * failures). None needs an application to run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { amberFresh, run } from "./cli_run.ts";

const amber = amberFresh;

Deno.test("an unknown command is a usage error that names it", async () => {
  const { code, stderr } = await amber("frobnicate");
  assert.equal(code, 2);
  assert.match(stderr, /unknown command 'frobnicate'/);
});

Deno.test("run without a program is a usage error", async () => {
  const { code, stderr } = await amber("run");
  assert.equal(code, 2);
  assert.match(stderr, /missing required argument 'program'/);
});

Deno.test("an invalid application name is a usage error that quotes it", async () => {
  const { code, stderr } = await amber("kill", "../etc");
  assert.equal(code, 2);
  assert.match(stderr, /Invalid application name '\.\.\/etc'/);
});

Deno.test("kill of an application that does not exist says so", async () => {
  const { code, stderr } = await amber("kill", "nosuchapp");
  assert.equal(code, 1);
  assert.match(stderr, /No application named 'nosuchapp'/);
});

Deno.test("run of a program that does not exist says it was not found", async () => {
  const { code, stderr } = await amber("run", "--", "amber-no-such-program");
  assert.equal(code, 1);
  assert.match(stderr, /Program 'amber-no-such-program' was not found/);
});

Deno.test("run of a file without execute permission says it is not executable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-cli-test-" });
  try {
    const file = join(dir, "data.txt");
    await Deno.writeTextFile(file, "not a program\n", { mode: 0o644 });
    const { code, stderr } = await amber("run", "--", file);
    assert.equal(code, 1);
    assert.match(stderr, /is not executable/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run refuses a statically linked program: it cannot be interposed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-cli-test-" });
  try {
    const source = join(dir, "static.c");
    const program = join(dir, "static");
    await Deno.writeTextFile(source, "int main(void) { return 0; }\n");
    const gcc = await run("gcc", ["-static", "-o", program, source]);
    assert.equal(gcc.code, 0, `gcc -static failed: ${gcc.stderr}`);
    const { code, stderr } = await amber("run", "--", program);
    assert.equal(code, 1);
    assert.match(stderr, /statically linked and cannot be interposed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run refuses a set-group-ID program: the kernel would not preload the library into it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-cli-test-" });
  try {
    const program = join(dir, "true-setgid");
    await Deno.copyFile("/bin/true", program);
    await Deno.chown(program, null, 65534); // nogroup: not this runner's group
    await Deno.chmod(program, 0o2755);
    const { code, stderr } = await amber("run", "--", program);
    assert.equal(code, 1);
    assert.match(stderr, /is set-group-ID: the kernel runs it with changed credentials/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect of a directory that is not an image says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-cli-test-" });
  try {
    const { code, stderr } = await amber("inspect", dir);
    assert.equal(code, 1);
    assert.match(stderr, /is not an Amber image/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrate without the agent's token file is a usage error", async () => {
  const { code, stderr } = await amber("migrate", "web2", "--to", "http://computer3:7070");
  assert.equal(code, 2);
  assert.match(stderr, /--token-file/);
});
