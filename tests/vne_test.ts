/**
 * Virtual network environments on one computer: programs in a VNE see only virtual addresses,
 * reach each other by virtual IP and hostname wherever their real sockets are, cannot reach
 * another VNE, and keep their virtual addresses across a snapshot and restore. The command
 * line manages VNEs and refuses what would break them.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createVne, getVne, removeVne, restore, VneError, VneInUseError } from "../mod.ts";
import { freeSubnet, get, prog, type Scene, sceneTest, unique } from "./vne_support.ts";

/** Creates a VNE with a fresh /24; returns its name and the "10.x.y" prefix of its subnet. */
function vne(s: Scene, tag: string): [string, string] {
  const name = unique(tag);
  const net = freeSubnet();
  createVne(name, `${net}.0/24`);
  s.vnes.push(name);
  return [name, net];
}

/** The real port behind a virtual TCP address. */
function realPort(vneName: string, ip: string, port: number): number {
  const found = getVne(vneName).addresses.find((a) => a.ip === ip && a.port === port);
  assert.ok(found, `No address ${ip}:${port} in VNE '${vneName}'`);
  return found.realPort;
}

sceneTest("a program in a VNE sees only virtual addresses, names and errors", async (s) => {
  const [v2, net2] = vne(s, "vne2");
  const [, net1] = vne(s, "vne1");
  const [, out] = await s.launch(
    [prog("vne_check"), `${net2}.5`, "app2", `${net2}.9`, `${net1}.1`],
    "check",
    { vne: v2, ip: `${net2}.5`, hostname: "app2" },
  );
  await s.waitFor(out, /^PASS$/m);
});

sceneTest(
  "WEB SITE 2 reaches APP 2 by hostname; WEB SITE 1 in VNE 1 cannot reach it",
  async (s) => {
    const [v2, net2] = vne(s, "vne2");
    const [v1, net1] = vne(s, "vne1");
    const [, appOut] = await s.launch([prog("vne_app"), "8080"], "app2", {
      vne: v2,
      ip: `${net2}.7`,
      hostname: "app2",
    });
    await s.waitFor(appOut, /^ready$/m);
    const [, webOut] = await s.launch([prog("vne_web"), "80", "app2", "8080"], "web2", {
      vne: v2,
      ip: `${net2}.5`,
      hostname: "web2",
    });
    await s.waitFor(webOut, /^ready$/m);
    const [, web1Out] = await s.launch([prog("vne_web"), "80", `${net2}.7`, "8080"], "web1", {
      vne: v1,
      ip: `${net1}.1`,
    });
    await s.waitFor(web1Out, /^ready$/m);

    const web2 = await get(`http://127.0.0.1:${realPort(v2, `${net2}.5`, 80)}/`);
    assert.equal(web2.status, 200, web2.body);
    assert.match(web2.body, new RegExp(`^web web2: app 1 from ${net2}\\.5:\\d+ on app2$`, "m"));
    const web1 = await get(`http://127.0.0.1:${realPort(v1, `${net1}.1`, 80)}/`);
    assert.equal(web1.status, 502, web1.body);
    assert.match(web1.body, /Network is unreachable/);

    const info = getVne(v2);
    assert.deepEqual(info.members.map((m) => [m.ip, m.hostname]), [
      [`${net2}.5`, "web2"],
      [`${net2}.7`, "app2"],
    ]);
    assert.throws(() => removeVne(v2), VneInUseError);
  },
);

sceneTest(
  "a VNE server comes back at its virtual address after snapshot and restore",
  async (s) => {
    const [v2, net2] = vne(s, "vne2");
    const [app, appOut] = await s.launch([prog("vne_app"), "8080"], "app2", {
      vne: v2,
      ip: `${net2}.7`,
      hostname: "app2",
    });
    await s.waitFor(appOut, /^ready$/m);
    const [, webOut] = await s.launch([prog("vne_web"), "80", `${net2}.7`, "8080"], "web2", {
      vne: v2,
      ip: `${net2}.5`,
    });
    await s.waitFor(webOut, /^ready$/m);
    const url = `http://127.0.0.1:${realPort(v2, `${net2}.5`, 80)}/`;
    assert.match((await get(url)).body, /app 1 from/);
    assert.match((await get(url)).body, /app 2 from/);

    const image = await app.snapshot({ dir: join(s.dir, "app2.amber"), stop: true });
    assert.equal((await get(url)).status, 502, "the frozen and ended original still answered");
    const again = await restore(image, { name: unique("app2-again"), output: appOut });
    s.apps.push(again);
    const answer = await get(url);
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, new RegExp(`app 3 from ${net2}\\.5:\\d+ on `));
    assert.deepEqual(
      getVne(v2).members.map((m) => [m.app, m.ip]).sort(),
      [
        [again.name, `${net2}.7`],
        [s.apps[1].name, `${net2}.5`],
      ].sort(),
    );
  },
);

sceneTest("VNE names, subnets and virtual IPs are checked", async (s) => {
  const [v2, net2] = vne(s, "vne2");
  assert.throws(() => createVne(v2, "10.250.250.0/24"), VneError);
  assert.throws(() => createVne(unique("overlap"), `${net2}.128/25`), /overlaps VNE/);
  assert.throws(() => createVne(unique("bad"), "10.1.2.3/24"), RangeError);
  assert.throws(() => createVne("bad name", "10.1.2.0/24"), RangeError);
  await assert.rejects(
    s.launch([prog("vne_app"), "8080"], "outside", { vne: v2, ip: "10.1.1.1" }),
    /is not a host address of VNE/,
  );
  await assert.rejects(
    s.launch([prog("vne_app"), "8080"], "nowhere", { vne: unique("none"), ip: "10.1.1.1" }),
    VneError,
  );
  const [first] = await s.launch([prog("vne_app"), "8080"], "first", { vne: v2, ip: `${net2}.9` });
  await assert.rejects(
    s.launch([prog("vne_app"), "8080"], "second", { vne: v2, ip: `${net2}.9` }),
    new RegExp(`already used by '${first.name}'`),
  );
  const [auto] = await s.launch([prog("vne_app"), "8080"], "auto", { vne: v2 });
  assert.equal(getVne(v2).members.find((m) => m.app === auto.name)?.ip, `${net2}.1`);
  await first.kill();
  await auto.kill();
  removeVne(v2);
  assert.throws(() => getVne(v2), VneError);
});
