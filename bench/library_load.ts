/**
 * What the audit library (csrc/audit/, docs/seccomp.md "Libraries below the line") costs a
 * program's start: wall time of python3 importing modules that load 20-odd shared libraries
 * (each held below the line while the loader maps it), plain (the floor) and with
 * `LD_AUDIT=libamber-audit.so` and the TLS tunable Amber adds, outside Amber so that only the
 * audit library differs; and ls's start (two libraries besides libc), the same two ways. Rounds
 * interleaved, median and minimum in µs.
 *
 * Run: `deno run -A bench/library_load.ts` (ROUNDS=n in the environment).
 */

import { fileURLToPath } from "node:url";
import { stats } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 30);
const audit = fileURLToPath(new URL("../build/libamber-audit.so", import.meta.url));
const TLS_TUNABLE = (await Deno.readTextFile(
  fileURLToPath(new URL("../csrc/common/tls_room.h", import.meta.url)),
)).match(/AMBER_TLS_TUNABLE "([^"]+)"/)![1];
const IMPORTS = "import ssl, json, ctypes, decimal, sqlite3, lzma, bz2, zlib, hashlib, socket";
const programs: Record<string, string[]> = {
  "python3, 10 imports": ["python3", "-c", IMPORTS],
  "ls (libselinux, libpcre2)": ["ls", "/"],
};

async function wall(argv: string[], withAudit: boolean): Promise<number> {
  const env: Record<string, string> = withAudit
    ? { LD_AUDIT: audit, GLIBC_TUNABLES: TLS_TUNABLE }
    : {};
  const t0 = performance.now();
  const { code } = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdout: "null",
    stderr: "null",
  }).output();
  if (code !== 0) throw new Error(`'${argv.join(" ")}' failed (${code})`);
  return (performance.now() - t0) * 1000; // µs
}

console.log("start time, µs (median / min)     plain (floor)     with the audit library");
for (const [name, argv] of Object.entries(programs)) {
  const plain: number[] = [], audited: number[] = [];
  await wall(argv, false); // warm up
  await wall(argv, true);
  for (let i = 0; i < ROUNDS; i++) {
    plain.push(await wall(argv, false));
    audited.push(await wall(argv, true));
  }
  console.log(`${name.padEnd(34)}${stats(plain).padEnd(18)}${stats(audited)}`);
}
