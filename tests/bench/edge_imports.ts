/**
 * What each import of a worker's boot costs on top of the ones before it: imports the given
 * specifiers one after the other in a fresh process and prints the thread CPU
 * (`/proc/thread-self/schedstat`) of each, the runtime's start first. Specifiers as the
 * function's import map spells them (`zod`, `@supabase/supabase-js`) or paths from the
 * repository's root (`shared/config.ts`). Run it under the workers' Deno; the children use the
 * stack's lock file as the workers do (`LOCK=` for none); `RUNS=n` repeats it in n fresh
 * processes and prints the medians:
 *
 *   DENO_DIR=~/.cache/deno-edge tools/npm/node_modules/deno-edge/deno run -A \
 *     --lock .stack/edge.lock --frozen --config functions/api/deno.json \
 *     tests/bench/edge_imports.ts hono zod @supabase/supabase-js functions/api/index.ts
 * @module
 */
import { processMs, threadMs } from "./thread_cpu.ts";

const root = new URL("../../", import.meta.url).pathname;
const specifiers = Deno.args.filter((a) => a !== "--child");

if (Deno.args.includes("--child")) {
  const costs: number[] = [threadMs()];
  for (const s of specifiers) {
    const t = threadMs();
    // functions/api/index.ts serves: only its graph is wanted, not a listening server.
    if (s.endsWith("functions/api/index.ts")) {
      Deno.serve = (() => ({ finished: Promise.resolve() })) as unknown as typeof Deno.serve;
    }
    await import(s.includes("/") && s.endsWith(".ts") ? `file://${root}${s}` : s);
    costs.push(threadMs() - t);
  }
  costs.push(processMs());
  console.log(JSON.stringify(costs));
  Deno.exit(0);
} else {
  const runs = Number(Deno.env.get("RUNS") ?? 5);
  // The stack's lock file, as the workers run (edge_runtime.ts); LOCK= for none.
  const lock = Deno.env.get("LOCK") ?? `${root}.stack/edge.lock`;
  const all: number[][] = [];
  for (let i = 0; i < runs; i++) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        `${root}functions/api/deno.json`,
        ...(lock ? ["--lock", lock, "--frozen"] : ["--no-lock"]),
        new URL(import.meta.url).pathname,
        "--child",
        ...specifiers,
      ],
      env: { SUPABASE_URL: "http://127.0.0.1:1", SUPABASE_SERVICE_ROLE_KEY: "bench" },
      stderr: "inherit",
    }).output();
    all.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const names = ["(runtime start)", ...specifiers];
  let total = 0;
  console.log(`Deno ${Deno.version.deno}, ${runs} fresh processes, median thread CPU ms:`);
  names.forEach((n, i) => {
    const m = median(all.map((r) => r[i]!));
    if (i > 0) total += m;
    console.log(`${m.toFixed(1).padStart(8)}  ${n}`);
  });
  console.log(`${total.toFixed(1).padStart(8)}  imports in all (sum of medians)`);
  const threads = median(all.map((r) => r[names.length]!));
  console.log(`${threads.toFixed(1).padStart(8)}  all threads of the process, start + imports`);
}
