/**
 * The function's hot path on the bench's unchanged noisy pages, measured as the workers run
 * it: `runFetchPipeline` (pinned connection, decode, streaming extraction, normalisation,
 * fingerprint, hash, compare) with the job's per-invocation limiter and body budget, against
 * tools/bench_site.ts in its own process (64 loopback hosts, 40 KB pages whose script and
 * footer change on every request). Prints the main thread's CPU per source (schedstat) for
 * the first sources of a fresh process (cold code, as a young worker runs them) and once
 * warm (each source with the text key its baseline stored, so unchanged text skips
 * normalisation as in the job; `TEXT_KEY=off`: without, every check normalises);
 * `PROFILE=cold|warm` also prints a CPU profile of that phase (tests/bench/cpu_profile.ts).
 * Works under Deno 2.9.6 and under the workers' Deno 2.1.4:
 *
 *   deno run -A tests/bench/hot_path.ts [cold_n=200] [warm_n=1000] [in_flight=32]
 *   DENO_DIR=~/.cache/deno-edge tools/npm/node_modules/deno-edge/deno run -A \
 *     --lock .stack/edge.lock --frozen --config functions/api/deno.json tests/bench/hot_path.ts
 * @module
 */
import { processMs, threadMs } from "./thread_cpu.ts";
import { loadConfig } from "../../shared/config.ts";
import { ByteBudget } from "../../shared/pipeline/byte_budget.ts";
import { HostLimiter } from "../../shared/pipeline/host_limiter.ts";
import { runFetchPipeline } from "../../shared/pipeline/pipeline.ts";
import type { PipelineStore } from "../../shared/pipeline/types.ts";
import type { Logger, Source } from "../../shared/types.ts";
import { freePort, portOpen } from "../../supabase/local/ports.ts";
import { type CpuProfile, profile, summarise } from "./cpu_profile.ts";
import { NEW_SOURCE_DEFAULTS } from "../fixtures/contract.ts";

const [coldN, warmN, inFlight] = [200, 1000, 32].map((d, i) => Number(Deno.args[i] ?? d)) as [
  number,
  number,
  number,
];
const HOSTS = 64;

const port = freePort();
const root = new URL("../../", import.meta.url).pathname;
// The site runs under the project's Deno (Deno.execPath() may be the workers' 2.1.4).
const site = new Deno.Command(
  Deno.env.get("SITE_DENO") ?? `${root}tools/npm/node_modules/deno/deno`,
  {
    args: [
      "run",
      "-A",
      "--config",
      `${root}deno.json`,
      `${root}tools/bench_site.ts`,
      String(port),
      "0",
    ],
    stdout: "null",
    stderr: "inherit",
    stdin: "null",
  },
).spawn();
while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, 50));

const config = loadConfig({ FETCH_ALLOW_LOOPBACK: "true" });
const quiet = () => {};
const logger: Logger = { debug: quiet, info: quiet, warn: quiet, error: quiet };
const store: PipelineStore = {
  getSnapshotContent: () => Promise.resolve(null),
  getRecentSnapshots: () => Promise.resolve([]),
  recordSnapshot: () =>
    Promise.resolve({ snapshot_id: crypto.randomUUID(), policy_change_id: null, baseline: true }),
  updateSources: () => Promise.resolve(),
};
const limiter = new HostLimiter({ perHost: 4, politenessDelayMs: 0, clock: () => new Date() });
const budget = new ByteBudget(config.FETCH_BODY_BUDGET_BYTES);
const deps = { fetch, clock: () => new Date(), logger, store, config, limiter, budget };

function source(i: number): Source {
  return {
    ...NEW_SOURCE_DEFAULTS,
    id: crypto.randomUUID(),
    name: `p${i}`,
    url: `http://127.0.0.${1 + (i % HOSTS)}:${port}/p/${i}`,
  };
}

interface Cost {
  cpuMs: number;
  processMs: number;
  failed: number;
}

async function run(sources: Source[]): Promise<Cost> {
  let next = 0;
  let failed = 0;
  const t0 = threadMs();
  const p0 = processMs();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < sources.length) {
      const s = sources[next++]!;
      const r = await runFetchPipeline(s, deps, { writeBookkeeping: false });
      if (r.status !== "ok" || r.changed) {
        failed++;
      } else if (s.last_hash === null) {
        s.last_hash = r.content_hash;
        s.text_key = r.bookkeeping.text_key ?? null; // as record_snapshot stores it
      } else if (r.content_hash !== s.last_hash) {
        failed++;
      }
    }
  }));
  return { cpuMs: threadMs() - t0, processMs: processMs() - p0, failed };
}

const want = Deno.env.get("PROFILE");
async function phase(name: string, sources: Source[]): Promise<void> {
  let prof: CpuProfile | null = null;
  let r: Cost;
  if (want === name) ({ result: r, profile: prof } = await profile(() => run(sources)));
  else r = await run(sources);
  console.log(
    `${name}: ${sources.length} sources, ${(r.cpuMs / sources.length).toFixed(2)} ms ` +
      `main-thread CPU per source, ${(r.processMs / sources.length).toFixed(2)} ms all threads${
        r.failed ? `, ${r.failed} FAILED` : ""
      }`,
  );
  if (prof) console.log(summarise(prof, Number(Deno.env.get("TOP") ?? 40)));
}

const all = Array.from({ length: coldN + warmN }, (_, i) => source(i));
if (Deno.args[3] === "hashes") {
  // The child's job: every page's monitored hash and text key, as a baseline run stored them.
  await run(all);
  console.log(JSON.stringify(all.map((s) => [s.last_hash, s.text_key ?? null])));
} else {
  // The hashes come from a child process, so this one's code is still cold when it starts
  // checking: every page then is an unchanged check, as in a change run.
  const edge = Deno.version.deno.startsWith("2.1.");
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(edge ? ["--config", `${root}functions/api/deno.json`, "--no-lock"] : []),
      new URL(import.meta.url).pathname,
      String(coldN),
      String(warmN),
      String(inFlight),
      "hashes",
    ],
    stderr: "inherit",
  }).output();
  const hashes = JSON.parse(new TextDecoder().decode(child.stdout).trim().split("\n").pop()!);
  all.forEach((s, i) => {
    [s.last_hash, s.text_key] = hashes[i];
    if (Deno.env.get("TEXT_KEY") === "off") s.text_key = null; // every check normalises
  });
  console.log(`Deno ${Deno.version.deno}, ${inFlight} in flight over ${HOSTS} hosts`);
  await phase("cold", all.slice(0, coldN));
  await phase("warm", all.slice(coldN));
}
site.kill();
await site.status;
