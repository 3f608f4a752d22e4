import { launch, restore } from "./mod.ts";
const [prog, ...rest] = Deno.args;
const dir = await Deno.makeTempDir({ prefix: "amber-try-" });
const args = rest.map((a) => a === "DIR" ? dir : a);
const out = dir + "/out";
const app = await launch([`build/tests/${prog}`, ...args], { name: "try-" + crypto.randomUUID().slice(0,6), output: out });
while (!(await Deno.readTextFile(out).catch(() => "")).includes("ready")) await new Promise(r => setTimeout(r, 20));
try {
  const image = await app.snapshot({ dir: dir + "/img", stop: true });
  const again = await restore(image, { name: "try2-" + crypto.randomUUID().slice(0,6), output: dir + "/out2" });
  await Deno.writeTextFile(dir + "/go", "");
  await new Promise(r => setTimeout(r, 1000));
  console.log("== out\n" + await Deno.readTextFile(out));
  console.log("== out2\n" + await Deno.readTextFile(dir + "/out2").catch(() => ""));
  await again.kill();
} catch (e) { console.log("ERR", e.message); await app.kill(); }
