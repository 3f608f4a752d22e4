/**
 * A /dev/shm file mapped shared (shm_open, as PostgreSQL's dynamic shared memory) is saved whole
 * in the image and made again at its name by the restore, even when it is gone by then (as after
 * a reboot, or on another computer); one only partly mapped is refused, naming it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { App, Image } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

/** A snapshot with stop, after which the file is removed: the restore must make it again. */
async function frozen(s: Scenario, app: App, file: string, tag: string): Promise<Image> {
  const image = await s.freeze(app, tag);
  await Deno.remove(file);
  return image;
}

/** /dev/shm cleared (as on another computer), `first` restored, that frozen again, /dev/shm
 * cleared again, the second image restored; then go. */
async function clearedTwice(s: Scenario, first: Image, clear: () => Promise<void>): Promise<void> {
  await clear();
  const again = await s.restore(first);
  const second = await s.freeze(again, "second");
  await clear();
  await s.restore(second);
  await s.pass();
}

/** The program launched and ready with a name of its own; the file is removed however it ends. */
async function withShmFile(
  s: Scenario,
  mode: string,
  body: (app: App, file: string) => Promise<void>,
) {
  const name = `/amber-test-${crypto.randomUUID().slice(0, 8)}`;
  const file = `/dev/shm${name}`;
  try {
    const app = await s.launch([prog("shm_file"), s.dir, name, mode], "shm");
    await s.waitFor(/^ready$/m);
    await body(app, file);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

scenarioTest(
  "a /dev/shm file written by workers comes back whole at its name, twice",
  async (s) => {
    await withShmFile(s, "whole", async (app, file) => {
      const first = await frozen(s, app, file, "first");
      const again = await s.restore(first);
      await s.restore(await frozen(s, again, file, "second"));
      await s.pass();
    });
  },
);

scenarioTest(
  "a /dev/shm file comes back from a snapshot without stop, over the one the killed original left",
  async (s) => {
    await withShmFile(s, "whole", async (app) => {
      const image = await app.snapshot({ dir: join(s.dir, "image.amber") });
      await app.kill();
      await s.restore(image);
      await s.pass();
    });
  },
);

scenarioTest("a /dev/shm file mapped only in part is refused, naming it", async (s) => {
  await withShmFile(s, "partial", async (app, file) => {
    await assert.rejects(
      app.snapshot({ dir: join(s.dir, "never.amber") }),
      new RegExp(`maps only a part of the shared memory file ${file}`),
    );
  });
});

scenarioTest(
  "/dev/shm files no process maps (closed, or held by a descriptor) come back at their names after /dev/shm was cleared, twice",
  async (s) => {
    const name = `/amber-test-${crypto.randomUUID().slice(0, 8)}`;
    const clear = async () => {
      for (const k of [0, 1, 2]) await Deno.remove(`/dev/shm${name}-${k}`).catch(() => {});
    };
    try {
      const app = await s.launch([prog("shm_unmapped"), s.dir, name], "shm-unmapped");
      await s.waitFor(/^ready$/m);
      const first = await app.snapshot({ dir: join(s.dir, "first.amber") });
      await app.kill();
      await clearedTwice(s, first, clear);
    } finally {
      await clear();
    }
  },
);

scenarioTest(
  "more shm_open objects than Amber keeps track of are refused, and the program runs on",
  async (s) => {
    const name = `/amber-test-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const app = await s.launch([prog("shm_unmapped"), s.dir, name, "many"], "shm-many");
      await s.waitFor(/^ready$/m);
      await assert.rejects(
        app.snapshot({ dir: join(s.dir, "never.amber") }),
        /more than 64 POSIX shared memory objects/,
      );
      await s.pass();
    } finally {
      for (let k = 0; k < 65; k++) await Deno.remove(`/dev/shm${name}-many-${k}`).catch(() => {});
    }
  },
);

scenarioTest(
  "files a program made in /dev/shm by path (open, openat, creat, mkstemp, fopen) and closed come back with their bytes, twice",
  async (s) => {
    const prefix = `amber-test-${crypto.randomUUID().slice(0, 8)}`;
    const clear = async () => {
      for await (const e of Deno.readDir("/dev/shm")) {
        if (e.name.startsWith(prefix)) await Deno.remove(`/dev/shm/${e.name}`).catch(() => {});
      }
    };
    try {
      const app = await s.launch([prog("shm_by_path"), s.dir, prefix], "shm-by-path");
      await s.waitFor(/^ready$/m);
      const first = await s.freeze(app, "first");
      await clearedTwice(s, first, clear);
    } finally {
      await clear();
    }
  },
);
