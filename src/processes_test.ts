import assert from "node:assert/strict";
import type { TableRow } from "../ffi/control.ts";
import { PidFlag } from "../ffi/contract.ts";
import { isProcessRow, isStale, pidRole, processesOf } from "./processes.ts";

function pid(vid: number, flags: number, alive = true): TableRow {
  return {
    kind: "pid",
    vid,
    sid: vid - 4_000_000,
    owner: vid,
    flags,
    key: 0,
    mode: 0,
    nitems: 0,
    size: 0,
    parent: 4200000,
    alive,
  };
}

const supervisor = pid(4200000, PidFlag.PROCESS | PidFlag.SUPERVISOR);
const leader = pid(4200001, PidFlag.PROCESS | PidFlag.LEADER);
const thread = pid(4200002, PidFlag.THREAD);
const gone = pid(4200003, PidFlag.PROCESS | PidFlag.LEADER | PidFlag.GONE, false);

Deno.test("processesOf keeps processes, not threads nor the supervisor", () => {
  assert.deepEqual(processesOf([supervisor, leader, thread, gone]).map((p) => p.vpid), [
    4200001,
    4200003,
  ]);
  assert.deepEqual(processesOf([leader])[0], {
    vpid: 4200001,
    pid: 200001,
    parent: 4200000,
    alive: true,
  });
});

Deno.test("an application is stale when its supervisor's row is missing or gone", () => {
  assert.equal(isStale([supervisor, leader]), false);
  assert.equal(isStale([leader]), true);
  assert.equal(isStale([{ ...supervisor, alive: false }, leader]), true);
});

Deno.test("pidRole and isProcessRow read the row's flags as table.h defines them", () => {
  assert.deepEqual([supervisor, leader, thread, gone].map(pidRole), [
    "supervisor",
    "process",
    "thread",
    "process",
  ]);
  assert.deepEqual([supervisor, leader, thread].map(isProcessRow), [true, true, false]);
});
