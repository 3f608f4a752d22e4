import assert from "node:assert/strict";
import { fdsOf, locksOf, regionsOf } from "./process_details.ts";

Deno.test("a process's descriptors, locks and regions are read as the C side writes them", () => {
  const details = {
    fds: [{ fd: 0, kind: "stdio", name: "" }, { fd: 3, kind: "file", name: "/x", extra: 1 }],
    locks: [{ fd: 3, kind: "posix", type: "write", start: 0, end: -1 }],
    regions: [{ start: "1000", end: "3000", name: "[heap]" }],
  };
  assert.deepEqual(fdsOf(details).map((f) => f.fd), [0, 3]);
  assert.equal(fdsOf(details)[1].extra, 1, "fields this side does not know are kept");
  assert.equal(locksOf(details)[0].end, -1);
  assert.deepEqual(regionsOf(details), details.regions);
});

Deno.test("parts of an unexpected shape read as empty, never as what they are not", () => {
  const details = { fds: [{ fd: "3" }], locks: "none", regions: 7 };
  assert.deepEqual(fdsOf(details), []);
  assert.deepEqual(locksOf(details), []);
  assert.equal(regionsOf(details), null);
  assert.deepEqual(fdsOf({}), []);
  assert.equal(regionsOf({}), null);
});
