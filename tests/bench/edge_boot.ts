/**
 * What a function worker's boot spends its CPU on: imports the `api` function's module graph
 * (the entry's static imports) under the CPU profiler and prints the self time by module and
 * by function, and the thread CPU (`/proc/thread-self/schedstat`) of the runtime's start and
 * of the imports. Run it under the Deno the workers use, with the stack's lock file:
 *
 *   DENO_DIR=~/.cache/deno-edge tools/npm/node_modules/deno-edge/deno run -A \
 *     --lock .stack/edge.lock --frozen --config functions/api/deno.json tests/bench/edge_boot.ts
 * @module
 */
import { threadMs } from "./thread_cpu.ts";
import { profile, summarise } from "./cpu_profile.ts";

const startup = threadMs();
const t0 = threadMs();
const { profile: p } = await profile(async () => {
  await import("../../functions/api/deps.ts");
  await import("../../functions/api/app.ts");
});
const imports = threadMs() - t0;
console.log(
  `Deno ${Deno.version.deno}: runtime start ${startup.toFixed(1)} ms thread CPU, ` +
    `imports ${imports.toFixed(1)} ms (under the profiler)`,
);
console.log(summarise(p, Number(Deno.env.get("TOP") ?? 30)));
