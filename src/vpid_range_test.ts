import assert from "node:assert/strict";
import { VpidRanges } from "../ffi/contract.ts";
import { pickVpidBase } from "./vpid_range.ts";

const { PID_MIN, SIZE, COUNT } = VpidRanges;

Deno.test("a new range is a whole range, never the first (an older Amber's), and random", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const base = pickVpidBase([]);
    assert.ok(base > PID_MIN && (base - PID_MIN) % SIZE === 0 && base < PID_MIN + COUNT * SIZE);
    assert.ok(base + SIZE - 1 < 100_000_000, "a pid of at most 8 digits");
    seen.add(base);
  }
  assert.ok(seen.size > 190, `${seen.size} different ranges in 200 picks`);
});

Deno.test("a new range overlaps none taken, even when all but one are", () => {
  const base = (k: number) => PID_MIN + k * SIZE;
  // Every draw lands on a taken range (k = 1 + 4): the pick is then made among the free ones
  // (1, 2, 3, 4, 7, ...: the fifth).
  assert.equal(pickVpidBase([base(5), base(6)], () => 4), base(7));
  const allBut = Array.from({ length: COUNT }, (_, k) => base(k)).filter((b) => b !== base(9));
  assert.equal(pickVpidBase(allBut), base(9));
  assert.throws(() => pickVpidBase([...allBut, base(9)]), /Every range of virtual pids is taken/);
  // A range not aligned to ours (another layout) is avoided by overlap, not by equality: it
  // covers ranges 7 and 8, so the seventh free one is 9.
  assert.equal(pickVpidBase([base(7) + SIZE / 2], () => 6), base(9));
});
