/**
 * Finds import circles between Amber's own TypeScript files: `deno info --json` over the entry
 * points gives the import graph, Tarjan's algorithm its strongly connected components, and any
 * component of more than one file is a circle. Type-only and dynamic imports count too: a
 * circle hidden behind `import type` or `await import()` still ties the files together.
 *
 * It also checks that the commands (src/commands/) go through the typed API, never straight to
 * the native bindings (ffi/): what the command line does, a script can do.
 *
 * Run by `make test` (exit status 1 and the problems on stderr when there are any):
 *   deno run -A tools/circles.ts [entry.ts ...]
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";

const Dependency = z.object({
  code: z.object({ specifier: z.string() }).optional(),
  type: z.object({ specifier: z.string() }).optional(),
});
const Info = z.object({
  modules: z.array(z.object({
    specifier: z.string(),
    dependencies: z.array(Dependency).optional(),
  })),
});

const ROOT = new URL("../", import.meta.url).href;
const DEFAULT_ENTRIES = ["cli.ts", "mod.ts", "tests/", "bench/", "src/", "ffi/"];

/** The entry files: each argument, and every .ts file under an argument that ends in "/". */
async function entries(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    if (!arg.endsWith("/")) {
      out.push(arg);
      continue;
    }
    for await (const e of Deno.readDir(arg)) {
      if (e.isFile && e.name.endsWith(".ts")) out.push(arg + e.name);
      if (e.isDirectory) out.push(...await entries([`${arg}${e.name}/`]));
    }
  }
  return out;
}

/** The import graph of the project's own files, from `deno info --json` on each entry. */
async function graph(files: string[]): Promise<Map<string, Set<string>>> {
  const edges = new Map<string, Set<string>>();
  const deno = Deno.execPath();
  // One `deno info` per entry would be slow; a temporary module importing them all is one call.
  const all = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const lines = files.map((f) => `import ${JSON.stringify(new URL(f, ROOT).href)};`);
    await Deno.writeTextFile(all, lines.join("\n"));
    const out = await new Deno.Command(deno, { args: ["info", "--json", all], stderr: "inherit" })
      .output();
    if (!out.success) throw new Error("deno info failed");
    const info = Info.parse(JSON.parse(new TextDecoder().decode(out.stdout)));
    for (const m of info.modules) {
      if (!m.specifier.startsWith(ROOT)) continue;
      const to = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          if (s?.startsWith(ROOT) && s !== m.specifier) to.add(s.slice(ROOT.length));
        }
      }
      edges.set(m.specifier.slice(ROOT.length), to);
    }
  } finally {
    await Deno.remove(all);
  }
  return edges;
}

/** The strongly connected components of more than one file (Tarjan). */
export function circles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!;; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

if (import.meta.main) {
  Deno.chdir(new URL(ROOT));
  const edges = await graph(await entries(Deno.args.length ? Deno.args : DEFAULT_ENTRIES));
  const found = circles(edges);
  const layering = [...edges].flatMap(([from, to]) =>
    from.startsWith("src/commands/")
      ? [...to].filter((t) => t.startsWith("ffi/")).map((t) => [from, t])
      : []
  );
  for (const [from, to] of layering) {
    console.error(`${from} imports ${to}: commands go through the API (mod.ts, src/), not ffi/`);
  }
  for (const c of found) {
    const inside = c.map((f) => `  ${f} -> ${[...edges.get(f)!].filter((t) => c.includes(t))}`);
    console.error(`Import circle of ${c.length} files:\n${inside.join("\n")}`);
  }
  if (found.length || layering.length) Deno.exit(1);
  console.log(`No import circles among ${edges.size} files`);
}
