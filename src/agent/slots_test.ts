import assert from "node:assert/strict";
import { Slots } from "./slots.ts";

Deno.test("at a cap the oldest idle connection is closed, and a new one only when all are busy", () => {
  const slots = new Slots(4, 2);
  const closed: string[] = [];
  let evicted = 0;
  const open = (peer: string, name: string) =>
    slots.admit(peer, () => closed.push(name), () => evicted++);
  const a1 = open("a", "a1")!;
  assert.ok(open("a", "a2"));
  // Per peer: a's third connection closes a's oldest idle one.
  a1.busy = true;
  assert.ok(open("a", "a3"));
  assert.deepEqual(closed, ["a2"]);
  const b1 = open("b", "b1")!, c1 = open("c", "c1")!;
  assert.equal(slots.size, 4);
  // In all: the oldest idle one, whoever's, makes room (a1 is busy, a3 is the oldest idle).
  assert.ok(open("d", "d1"));
  assert.deepEqual(closed, ["a2", "a3"]);
  b1.busy = c1.busy = true;
  assert.ok(open("e", "e1")); // d1 goes
  for (const slot of slots.all()) slot.busy = true;
  assert.equal(open("f", "f1"), undefined, "every connection in the way is busy");
  assert.equal(evicted, 3);
  assert.equal(slots.size, 4);
  slots.release(a1);
  assert.ok(open("f", "f1"));
});
