// Node.js under Amber: V8, libuv's event loop and thread pool, timers and promises. State built
// before the snapshot is checked after the restore, and file I/O through the thread pool and
// timers go on working.
const fs = require("node:fs");
const dir = process.argv[2];
const table = new Map();
for (let i = 0; i < 200000; i++) table.set(i, `value-${i * 3}`);
let ticks = 0;
setInterval(() => ticks++, 10);
fs.readFile("/etc/hostname", () => console.log("ready")); // the thread pool has started
const timer = setInterval(async () => {
  if (!fs.existsSync(`${dir}/go`)) return;
  clearInterval(timer);
  const before = ticks;
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (ticks <= before) throw new Error("the interval timer stopped");
  for (let i = 0; i < 200000; i++) {
    if (table.get(i) !== `value-${i * 3}`) throw new Error(`entry ${i} is wrong`);
  }
  await fs.promises.writeFile(`${dir}/written`, "after restore");
  if ((await fs.promises.readFile(`${dir}/written`, "utf8")) !== "after restore") {
    throw new Error("file I/O is broken");
  }
  console.log("PASS");
  process.exit(0);
}, 10);
