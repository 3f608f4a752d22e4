/**
 * Drain this computer: migrate every application running on it to another computer's agent,
 * one after the other, and say where each went. An application that cannot move keeps running
 * here (a failed migration resumes it).
 *
 *   deno run -A examples/drain.ts http://10.99.0.2:7700 /etc/amber/token
 */

import { list, migrate } from "../mod.ts";

const [agent, tokenFile] = Deno.args;
if (!agent || !tokenFile) {
  console.error("usage: drain.ts AGENT_URL TOKEN_FILE");
  Deno.exit(2);
}
const token = (await Deno.readTextFile(tokenFile)).trim();
let failed = 0;
for (const app of await list()) {
  if (app.stale) continue;
  try {
    const moved = await migrate(app.name, agent, { token });
    console.log(`${app.name}: now on ${moved.agent} (frozen ${moved.frozenMs.toFixed(0)} ms)`);
  } catch (error) {
    failed++;
    console.error(`${app.name}: stays here: ${error instanceof Error ? error.message : error}`);
  }
}
Deno.exit(failed ? 1 : 0);
