// A real runtime under Amber: Deno itself (V8 with its JIT, several threads, epoll, eventfd,
// timers). State built before the snapshot is checked after the restore, and timers, promises
// and the file system go on working.
const dir = Deno.args[0];
const table = new Map();
for (let i = 0; i < 200000; i++) table.set(i, `value-${i * 7}`);
let ticks = 0;
setInterval(() => ticks++, 10);
console.log("ready");
const exists = (path) => {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
};
const timer = setInterval(async () => {
  if (!exists(`${dir}/go`)) return;
  clearInterval(timer);
  const before = ticks;
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (ticks <= before) throw new Error("the interval timer stopped");
  for (let i = 0; i < 200000; i++) {
    if (table.get(i) !== `value-${i * 7}`) throw new Error(`entry ${i} is wrong`);
  }
  await Deno.writeTextFile(`${dir}/written`, "after restore");
  console.log("PASS");
  Deno.exit(0);
}, 10);
