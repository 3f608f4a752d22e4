/** The token file: read only if it is its owner's alone. */

import assert from "node:assert/strict";
import { AmberError } from "../errors.ts";
import { readToken } from "./auth.ts";

Deno.test("a token file others may read is refused, naming the mode; an owner's own is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-token-" });
  try {
    const path = `${dir}/token`;
    await Deno.writeTextFile(path, "0123456789abcdef0123\n");
    await Deno.chmod(path, 0o644);
    await assert.rejects(
      () => readToken(path),
      (e) =>
        e instanceof AmberError && e.reason === "agent" && /mode 0644.*chmod 600/.test(e.message),
    );
    await Deno.chmod(path, 0o600);
    assert.equal(await readToken(path), "0123456789abcdef0123");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
