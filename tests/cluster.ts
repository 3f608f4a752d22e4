/**
 * Two computers for the migration tests and benchmark, made on this machine: two network
 * namespaces joined by a veth pair (addresses 10.99.0.2 and 10.99.0.3, only inside them),
 * each with its own Amber state directory and its own agent, and an etcd in the first one.
 * Everything is driven through `ip netns exec`; disposing the cluster ends every application,
 * agent and etcd it started and deletes the namespaces, whatever happened. Needs root, `ip`,
 * `etcd` (Debian's etcd-server) and `curl`.
 */

import { join } from "node:path";
import { CLI, DENO, readText, sleep } from "./vne_support.ts";

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** One computer: a namespace, its address, its state directory and its agent. */
export interface Computer {
  name: string;
  ns: string;
  ip: string;
  state: string;
  agentUrl: string;
  agentLog: string;
  agent?: Deno.ChildProcess;
}

const decoder = new TextDecoder();

/** Runs argv (with a time limit), returning its status and output. */
export async function run(
  argv: string[],
  env: Record<string, string> = {},
  limitMs = 60_000,
): Promise<Outcome> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => kill(child), limitMs);
  try {
    const { code, stdout, stderr } = await child.output();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal = "SIGKILL"): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}

/** Runs `body`; rejects if it has not ended within `limitMs`. */
export async function within(limitMs: number, body: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Not done within ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([body(), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function must(argv: string[]): Promise<void> {
  const out = await run(argv);
  if (out.code !== 0) throw new Error(`'${argv.join(" ")}' failed (${out.code}): ${out.stderr}`);
}

/** Whether this machine can make the cluster; if not, why. */
export async function clusterUnavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "it needs root (network namespaces)";
  for (const tool of ["ip", "etcd", "curl"]) {
    const found = await run(["sh", "-c", `command -v ${tool}`]);
    if (found.code !== 0) return `'${tool}' is not installed (run 'make deps')`;
  }
  return null;
}

export class Cluster {
  readonly dir: string;
  readonly id: string;
  readonly token: string;
  readonly tokenFile: string;
  readonly computers: Computer[] = [];
  etcdUrl = "";
  /** Added to the agents' environment when they start. */
  agentEnv: Record<string, string> = {};
  #etcd?: Deno.ChildProcess;
  #namespaces: string[] = [];
  #background: Deno.ChildProcess[] = [];

  private constructor(dir: string, id: string) {
    this.dir = dir;
    this.id = id;
    this.token = crypto.randomUUID() + crypto.randomUUID();
    this.tokenFile = join(dir, "token");
  }

  /** Makes the namespaces, etcd and both agents; disposes of what it made if any step fails. */
  static async create(): Promise<Cluster> {
    const dir = await Deno.makeTempDir({ prefix: "amber-cluster-" });
    const cluster = new Cluster(dir, crypto.randomUUID().slice(0, 6));
    try {
      await cluster.#setUp();
      return cluster;
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
  }

  async #setUp(): Promise<void> {
    await Deno.writeTextFile(this.tokenFile, this.token + "\n", { mode: 0o600 });
    const [a, b] = [`amb2-${this.id}`, `amb3-${this.id}`];
    for (const [n, ifname] of [[2, a], [3, b]] as const) {
      const ns = `amber-c${n}-${this.id}`;
      await must(["ip", "netns", "add", ns]);
      this.#namespaces.push(ns);
      const state = join(this.dir, `computer${n}`);
      await Deno.mkdir(state, { mode: 0o700 });
      this.computers.push({
        name: `computer${n}`,
        ns,
        ip: `10.99.0.${n}`,
        state,
        agentUrl: `http://10.99.0.${n}:7070`,
        agentLog: join(this.dir, `agent${n}.log`),
      });
      void ifname;
    }
    const [c2, c3] = this.computers;
    await must([
      "ip",
      "link",
      "add",
      a,
      "netns",
      c2.ns,
      "type",
      "veth",
      "peer",
      "name",
      b,
      "netns",
      c3.ns,
    ]);
    for (const [c, ifname] of [[c2, a], [c3, b]] as const) {
      await must(["ip", "-n", c.ns, "addr", "add", `${c.ip}/24`, "dev", ifname]);
      await must(["ip", "-n", c.ns, "link", "set", ifname, "up"]);
      await must(["ip", "-n", c.ns, "link", "set", "lo", "up"]);
    }
    this.etcdUrl = `http://${c2.ip}:2379`;
    this.#etcd = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        c2.ns,
        "etcd",
        "--name",
        "amber-test",
        "--data-dir",
        join(this.dir, "etcd"),
        "--listen-client-urls",
        this.etcdUrl,
        "--advertise-client-urls",
        this.etcdUrl,
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "amber-test=http://127.0.0.1:2380",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await this.#until(
      async () => (await this.curl(c2, `${this.etcdUrl}/health`)).stdout.includes("true"),
      "etcd",
    );
    for (const c of this.computers) await this.startAgent(c);
  }

  /** Starts (or starts again) a computer's agent and waits until it listens. */
  async startAgent(c: Computer): Promise<void> {
    c.agent = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        c.ns,
        DENO,
        "run",
        "-A",
        CLI,
        "agent",
        "--listen",
        `${c.ip}:7070`,
        "--token-file",
        this.tokenFile,
        "--insecure-http", // the namespaces' private link
        "--name",
        c.name,
        "--etcd",
        this.etcdUrl,
        "--advertise",
        c.ip,
      ],
      env: { ...this.agentEnv, AMBER_STATE_DIR: c.state },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (const stream of [c.agent.stdout, c.agent.stderr]) {
      stream.pipeTo(
        new WritableStream({
          write: async (chunk) => {
            await Deno.writeFile(c.agentLog, chunk, { append: true });
          },
        }),
      ).catch(() => {});
    }
    await this.#until(
      async () => (await readText(c.agentLog)).includes("listening"),
      `${c.name}'s agent`,
    );
  }

  /** Stops a computer's agent at once (`ip netns exec` execs the agent: same process). */
  async stopAgent(c: Computer): Promise<void> {
    if (!c.agent) return;
    kill(c.agent);
    await c.agent.status;
    c.agent = undefined;
  }

  /** `amber ARGS` on a computer. */
  amber(c: Computer, args: string[], limitMs = 60_000): Promise<Outcome> {
    return run(["ip", "netns", "exec", c.ns, DENO, "run", "-A", CLI, ...args], {
      AMBER_STATE_DIR: c.state,
    }, limitMs);
  }

  /** `amber ARGS` on a computer, started in the background. */
  amberInBackground(c: Computer, args: string[]): Promise<Outcome> {
    return this.amber(c, args, 120_000);
  }

  /** `amber ARGS` on a computer with `env` added, in the background: its process and outcome. */
  spawnAmber(
    c: Computer,
    args: string[],
    env: Record<string, string>,
  ): { child: Deno.ChildProcess; outcome: Promise<Outcome> } {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", c.ns, DENO, "run", "-A", CLI, ...args],
      env: { ...env, AMBER_STATE_DIR: c.state },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#background.push(child);
    const outcome = child.output().then(({ code, stdout, stderr }) => ({
      code,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
    }));
    return { child, outcome };
  }

  /** Cuts (false) or mends (true) the link between the two computers. */
  async setLink(up: boolean): Promise<void> {
    await must([
      "ip",
      "-n",
      this.computers[0].ns,
      "link",
      "set",
      `amb2-${this.id}`,
      up ? "up" : "down",
    ]);
  }

  /**
   * The one-line answer of the vne_app that runs on `c` at `ip:port` in `vne`, through its real
   * port there ("" if none within `limitS` seconds; nothing is asked of a copy elsewhere).
   */
  async askApp(c: Computer, vne: string, ip: string, port: number, limitS = 5): Promise<string> {
    const out = await this.amber(c, ["vne", "ls", "--json"]);
    if (out.code !== 0) throw new Error(`amber vne ls on ${c.name}: ${out.stderr}`);
    const vnes = JSON.parse(out.stdout) as {
      name: string;
      addresses: { ip: string; port: number; realIp: string; realPort: number }[];
    }[];
    const a = vnes.find((v) => v.name === vne)?.addresses
      .find((a) => a.ip === ip && a.port === port && a.realIp === "127.0.0.1");
    if (!a) return "";
    const url = `http://127.0.0.1:${a.realPort}/`;
    const argv = ["ip", "netns", "exec", c.ns, "curl", "-s", "--http0.9", "-m", `${limitS}`, url];
    return (await run(argv)).stdout.trim();
  }

  /** An HTTP GET from inside a computer. */
  curl(c: Computer, url: string): Promise<Outcome> {
    return run(["ip", "netns", "exec", c.ns, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", url]);
  }

  /** An HTTP GET from inside a computer: its status (0 if none) and body. */
  async get(c: Computer, url: string): Promise<{ status: number; body: string }> {
    const out = await this.curl(c, url);
    const at = out.stdout.lastIndexOf("\n");
    return {
      status: Number(out.stdout.slice(at + 1)) || 0,
      body: out.stdout.slice(0, Math.max(at, 0)),
    };
  }

  async #until(check: () => Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what} did not come up within ${limitMs} ms`);
      await sleep(50);
    }
  }

  /** Waits until `check` holds, up to `limitMs`. */
  until(check: () => Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
    return this.#until(check, what, limitMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.computers) {
      const ps = await this.amber(c, ["ps", "--json"]).catch(() => undefined);
      let names: string[] = [];
      try {
        names = (JSON.parse(ps?.stdout ?? "[]") as { name: string }[]).map((a) => a.name);
      } catch {
        // Nothing listed.
      }
      for (const name of names) await this.amber(c, ["kill", name]).catch(() => {});
    }
    for (const c of this.computers) await this.stopAgent(c).catch(() => {});
    for (const child of this.#background) kill(child);
    if (this.#etcd) {
      kill(this.#etcd, "SIGTERM");
      await this.#etcd.status;
    }
    for (const ns of this.#namespaces) {
      // Whatever is left in a namespace (processes of a failed test) is ended with it.
      const pids = await run(["ip", "netns", "pids", ns]);
      for (const pid of pids.stdout.split("\n").filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await run(["ip", "netns", "del", ns]);
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
