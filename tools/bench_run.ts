/**
 * `deno task bench:run`: throughput of the real path (POST → gateway → edge function →
 * PostgREST → Postgres) on a local fixture site of N noisy 40 KB pages with 100 ms latency,
 * for a baseline run and a change run (5 % of the pages edited), and urlwatch 2.25 on the
 * same pages in the same session, side by side. Prints a table; not a test.
 *
 *   deno task bench:run                      # N = 2000 and 20000, urlwatch at 2000
 *   deno task bench:run --n 500 --urlwatch   # quick look
 *   deno task bench:run --no-urlwatch        # without urlwatch (Debian package) installed
 *   deno task bench:run --n 2000 --skew-n 1000   # skewed hosts at 1000 (one host at 500)
 *   deno task bench:run --no-skew            # the uniform runs only
 *   deno task bench:run --n 2000 --history 2 --no-skew   # + change runs with a year of history
 *   deno run -A tools/rpc_timings.ts --n 2000,10000,100000 --history 1 --skew-n 1600
 *                                            # issue 14's whole table, RPC timings included
 *
 * `--history K` (issue 14: a run's cost must not depend on history): at the first N, after
 * the change run, K times: seed a year of history (tools/bench_history.ts: 20,000 inactive sources with
 * their snapshots, changes and alerts, 8,760 old runs, 730,000 old run items), a change run,
 * clear it, wait until the workers have idled as long as through the seed, and a clean change
 * run, so that the machine's drift falls on both sides and both runs start from the same idle;
 * the means of the K and K runs are compared (the change run right after the baseline, with no
 * idle, is item 6's figure and not in the comparison).
 *
 * Skewed host mixes (issue 14: real source lists have a few hosts holding most pages):
 * `skewed` puts half of the pages on one host and spreads the rest over the 63 others;
 * `one-host` puts every page on one host. Their floor is what politeness allows at best,
 * pages of the largest host × latency ÷ FETCH_PER_HOST_CONCURRENCY (read from this
 * process's environment, as `stack:start` passes it to the function; default 4), and the
 * bench prints each run's wall time over that floor, with the most requests the site saw
 * in flight to one host.
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { readKeys } from "../supabase/local/keys.ts";
import {
  DB_URL,
  LOG_DIR,
  PORTS,
  REPO_ROOT,
  STATE_DIR,
  SUPABASE_URL,
} from "../supabase/local/ports.ts";
import { HOSTS } from "./bench_site.ts";
import { clearHistory, seedHistory, vacuumRunTables } from "./bench_history.ts";
import { waitForNoRunningRun } from "../tests/integration/_stack.ts";
import { edgeCpuSince, linesSince, logOffsets } from "./edge_cpu.ts";
import { pidOf, postgrestCpu, stackPostgresCpu, statTimes } from "./proc_cpu.ts";

const SITE_PORT = PORTS.benchSite;
const LATENCY_MS = 100;

const args = Deno.args;
const nArg = args[args.indexOf("--n") + 1];
const SIZES = args.includes("--n") && nArg ? nArg.split(",").map(Number) : [2000, 20000];
const skewArg = args[args.indexOf("--skew-n") + 1];
/** N of the skewed mix (the one-host mix runs at half of it); 0: none. */
const SKEW_N = args.includes("--no-skew")
  ? 0
  : args.includes("--skew-n") && skewArg
  ? Number(skewArg)
  : 1000;
const PER_HOST = Number(Deno.env.get("FETCH_PER_HOST_CONCURRENCY") ?? 4);
const URLWATCH_MAX_N = args.includes("--no-urlwatch")
  ? 0
  : args.includes("--urlwatch")
  ? Infinity
  : 2000;
const historyArg = Number(args[args.indexOf("--history") + 1]);
/** `--history K`: K change runs with a year of history (and K clean ones); `--history` alone: 1. */
const HISTORY_ROUNDS = !args.includes("--history")
  ? 0
  : Number.isInteger(historyArg) && historyArg >= 0
  ? historyArg
  : 1;

const sql = postgres(DB_URL, { max: 2, onnotice: () => {} });

interface Cpu {
  functions: number;
  postgrest: number;
  postgres: number;
}

function functionPids(): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync(`${STATE_DIR}/pids`)) {
    if (e.name.startsWith("functions")) {
      pids.push(pidOf(e.name.replace(/\.pid$/, "")));
    }
  }
  return pids;
}

/**
 * CPU of the function workers of one slot (edge_runtime.ts supervises them): the workers it
 * reaped plus the live ones; the supervisor's own proxying is not the function's.
 */
function workersCpu(supervisor: number): number {
  let total = statTimes(supervisor)?.children ?? 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = statTimes(Number(e.name));
    if (s && s.ppid === supervisor) total += s.self;
  }
  return total;
}

function sizeOf(file: string): number {
  try {
    return Deno.statSync(file).size;
  } catch {
    return 0;
  }
}

function cpuNow(): Cpu {
  // This stack's Postgres only: other stacks on the machine run their own postmasters.
  const pg = stackPostgresCpu();
  const fn = functionPids().reduce((t, p) => t + workersCpu(p), 0);
  return {
    functions: fn,
    postgrest: postgrestCpu(),
    postgres: pg,
  };
}

async function transactions(): Promise<number> {
  const [r] = await sql`select (xact_commit + xact_rollback)::bigint as n from pg_stat_database
    where datname = 'postgres'`;
  return Number(r!.n);
}

interface RunFigures {
  n: number;
  wall: number;
  rate: number;
  cpu: Cpu;
  cpuPerSourceMs: number;
  invocations: number;
  maxInvocationCpuMs: number;
  /** Per invocation, as the stack measured it from outside (edge-requests.log). */
  outsideInvocations: number;
  outsideMaxCpuMs: number;
  outsideMeanCpuMs: number;
  outsideMaxIsolateMb: number;
  /**
   * The workers' own CPU (main thread, since boot: what the runtime's CPU limit counts),
   * from outside: per worker, its last window's end − its first window's arrival in the run.
   */
  workersCpuMs: number;
  /** The most CPU one worker had used since its boot at a window's end (the kill is at 2 s). */
  maxWorkerCpuMs: number;
  /** Σ of the invocations' measured compute spans (their log lines), what the budget charged. */
  computeMs: number;
  /** Items of the invocations whose closing lines were read. */
  computedItems: number;
  /** Lines written to limits.log during the run. */
  kills: number;
  maxInvocationRssMb: number;
  maxInvocationHeapMb: number;
  /** Postgres transactions during the run per source, the bench's own polls left out. */
  roundTripsPerSource: number;
  changes: number;
  expected: number;
  failed: number;
  /** The most requests the fixture site saw in flight to one host during the run. */
  maxPerHost: number;
}

const SITE_BASE = `http://127.0.0.1:${SITE_PORT}`;

async function ourRun(
  n: number,
  expected: number,
  serviceKey: string,
): Promise<RunFigures> {
  const limitsLog = `${LOG_DIR}/limits.log`;
  const offsets = logOffsets();
  const limits0 = sizeOf(limitsLog);
  let cpu0 = cpuNow();
  let tx0 = await transactions();
  let t0 = performance.now();
  let res: Response;
  for (;;) {
    // Another run (a test, the cron job) may have started meanwhile: wait for it.
    await waitForNoRunningRun(Infinity, sql);
    await (await fetch(`${SITE_BASE}/stats?reset`)).body?.cancel();
    cpu0 = cpuNow();
    tx0 = await transactions();
    t0 = performance.now();
    res = await fetch(`${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${serviceKey}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ force: true }),
    });
    if (res.status !== 409) break;
    await res.body?.cancel();
  }
  const started = await res.json();
  if (res.status !== 202) {
    throw new Error(
      `Cannot start the run: HTTP ${res.status} ${JSON.stringify(started)}`,
    );
  }
  let run: Record<string, unknown> = {};
  // The bench's own polls are transactions too; they are not the job's round trips.
  let polls = 0;
  for (;;) {
    polls++;
    const [r] = await sql`select * from public.job_runs where id = ${started.run_id}`;
    run = r!;
    if (run.status !== "running") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const wall = (performance.now() - t0) / 1000;
  const tx1 = await transactions();
  const cpu1 = cpuNow();
  const site = await (await fetch(`${SITE_BASE}/stats`)).json();
  // Background work of the last invocations may still be closing its request windows.
  await new Promise((r) => setTimeout(r, 1_500));
  const cost = edgeCpuSince(offsets, started.run_id);
  const windows = cost.jobWindows;
  const kills = linesSince(limitsLog, limits0).length;
  const cpu: Cpu = {
    functions: cpu1.functions - cpu0.functions,
    postgrest: cpu1.postgrest - cpu0.postgrest,
    postgres: cpu1.postgres - cpu0.postgres,
  };
  return {
    n,
    wall,
    rate: n / wall,
    cpu,
    cpuPerSourceMs: ((cpu.functions + cpu.postgrest + cpu.postgres) / n) * 1000,
    invocations: cost.invocations,
    maxInvocationCpuMs: cost.maxInvocationCpuMs,
    outsideInvocations: windows.length,
    outsideMaxCpuMs: Math.max(0, ...windows.map((w) => w.cpu_ms)),
    outsideMeanCpuMs: windows.length
      ? windows.reduce((t, w) => t + w.cpu_ms, 0) / windows.length
      : 0,
    outsideMaxIsolateMb: Math.max(0, ...windows.map((w) => w.isolate_mb_peak)),
    workersCpuMs: cost.workersCpuMs,
    maxWorkerCpuMs: cost.maxWorkerCpuMs,
    computeMs: cost.computeMs,
    computedItems: cost.handled,
    kills,
    maxInvocationRssMb: cost.maxInvocationRssMb,
    maxInvocationHeapMb: cost.maxInvocationHeapMb,
    roundTripsPerSource: Math.max(0, tx1 - tx0 - polls) / n,
    changes: Number(run.changes_detected),
    expected,
    failed: Number(run.sources_failed),
    maxPerHost: Number(site.max_in_flight_per_host),
  };
}

/** A row of the budget calibration table: what the workers spent against what was measured. */
function calibrationRow(o: RunFigures, label: string): string {
  const outside = o.workersCpuMs / o.n;
  // The log's rate gate may drop closing lines: their own items are the denominator.
  const compute = o.computedItems > 0 ? o.computeMs / o.computedItems : 0;
  return `| ${o.n} | ${label} | ${fmt(o.workersCpuMs / 1000, 2)} | ${fmt(o.maxWorkerCpuMs, 0)} | ${
    fmt(outside, 2)
  } / ${fmt(compute, 2)} / ${fmt(outside - compute, 2)} | ${o.outsideInvocations} | ${o.kills} |`;
}

/** The runs of one N: ours (labelled) and urlwatch's. */
interface Entry {
  ours: RunFigures[];
  labels: string[];
  urlwatch?: UrlwatchFigures[];
}

const HISTORY_LABEL = "change, year of history";
const CLEAN_LABEL = "change, clean";

/** Means of the change runs with and without history, as lines of the report. */
function historyLines(results: Entry[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const runs = (label: string) => r.ours.filter((_, i) => r.labels[i] === label);
    const clean = runs(CLEAN_LABEL);
    const history = runs(HISTORY_LABEL);
    if (history.length === 0) continue;
    const mean = (xs: RunFigures[], f: (o: RunFigures) => number) =>
      xs.reduce((t, o) => t + f(o), 0) / xs.length;
    const ratio = (f: (o: RunFigures) => number) => fmt(mean(history, f) / mean(clean, f), 2);
    lines.push(
      "",
      `N = ${
        r.ours[0]!.n
      }, change run with a year of history / clean (means of ${history.length} and ${clean.length}): ` +
        `wall ${ratio((o) => o.wall)}×, CPU per source ${ratio((o) => o.cpuPerSourceMs)}×, ` +
        `function CPU ${ratio((o) => o.cpu.functions)}×, Postgres CPU ${
          ratio((o) => o.cpu.postgres)
        }×, DB round-trips per source ${
          ratio((o) => o.roundTripsPerSource)
        }× (target: within 10 %)`,
    );
  }
  return lines;
}

interface UrlwatchFigures {
  wall: number;
  cpu: number;
  changes: number;
  maxRssMb: number;
}

async function urlwatchRun(dir: string): Promise<UrlwatchFigures> {
  const py = `
import json, re, resource, subprocess, sys, time
t = time.time()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
w = time.time() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": w, "cpu": r.ru_utime + r.ru_stime, "maxrss_kb": r.ru_maxrss,
  "changes": len(re.findall(r"^\\d+\\. CHANGED:", p.stdout, re.M)), "rc": p.returncode,
  "err": p.stderr[-500:]}))
`;
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      py,
      "urlwatch",
      "--urls",
      `${dir}/urls.yaml`,
      "--config",
      `${dir}/config.yaml`,
      "--cache",
      `${dir}/cache.db`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  if (r.rc !== 0 && r.changes === 0 && r.rc !== 1) {
    throw new Error(`urlwatch failed: ${r.err}`);
  }
  return {
    wall: r.wall,
    cpu: r.cpu,
    changes: r.changes,
    maxRssMb: r.maxrss_kb / 1024,
  };
}

/** How the pages are spread over the site's hosts. */
type HostMix = "uniform" | "skewed" | "one-host";

/** The host (1 … HOSTS) of page i of n. */
function hostOf(i: number, n: number, mix: HostMix): number {
  if (mix === "one-host") return 1;
  if (mix === "skewed") return i < n / 2 ? 1 : 2 + (i % (HOSTS - 1));
  return (i % HOSTS) + 1;
}

/** Pages of the host holding the most. */
function largestHost(n: number, mix: HostMix): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const h = hostOf(i, n, mix);
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return Math.max(...counts.values());
}

/** Page i on one of the site's loopback hosts. */
function pageUrl(i: number, n = 0, mix: HostMix = "uniform"): string {
  return `http://127.0.0.${hostOf(i, n, mix)}:${SITE_PORT}/p/${i}`;
}

async function setupSources(n: number, mix: HostMix = "uniform"): Promise<void> {
  await sql`delete from public.sources where name like 'bench %'`;
  // The deleted sources' rows are dead until autovacuum (one-minute naptime) comes by, which
  // a sequence of 40-second benches outran: after ~25 runs snapshots held 278 MB and
  // job_run_sources 206 MB of them (docs/benchmarks.md, session 10).
  await vacuumRunTables(sql);
  const rows = Array.from({ length: n }, (_, i) => ({
    name: `bench ${i}`,
    url: pageUrl(i, n, mix),
  }));
  for (let i = 0; i < rows.length; i += 5000) {
    await sql`insert into public.sources ${sql(rows.slice(i, i + 5000))}`;
  }
}

function fmt(x: number, d = 1): string {
  return x.toFixed(d);
}

if (import.meta.main) {
  await start();
  const { serviceRoleKey } = await readKeys();
  const site = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // Its page cache holds ~40 KB per page (4 GB at N = 100,000): see bench_site.ts.
      "--v8-flags=--max-old-space-size=8192",
      `${REPO_ROOT}/tools/bench_site.ts`,
      String(SITE_PORT),
      String(LATENCY_MS),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = SITE_BASE;
  for (let i = 0; i < 50; i++) {
    try {
      await (await fetch(`${base}/stats`)).body?.cancel();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await waitForNoRunningRun(Infinity, sql);
  // Only the bench's sources are active during the bench; the others are restored after.
  const others = await sql`update public.sources set active = false
    where active and name not like 'bench %' returning id`;
  // Like urlwatch (which only prints its report), the bench measures fetching and change
  // detection: subscriptions are paused so no alert is delivered; restored after.
  const subs = await sql`update public.subscriptions set active = false where active returning id`;
  const rows: string[] = [];
  const skewed: Array<{
    mix: HostMix;
    n: number;
    largest: number;
    floor: number;
    runs: RunFigures[];
  }> = [];
  const results: Entry[] = [];
  let round = 0;
  try {
    for (const n of SIZES) {
      console.log(`\n== N = ${n}`);
      await setupSources(n);
      const baseline = await ourRun(n, 0, serviceRoleKey);
      console.log(
        `ours baseline: ${fmt(baseline.wall)} s, ${fmt(baseline.rate)} sources/s`,
      );
      const edited = (await (await fetch(`${base}/edit?round=${++round}&n=${n}`, {
        method: "POST",
      })).json()).edited;
      const change = await ourRun(n, edited, serviceRoleKey);
      console.log(
        `ours change run: ${fmt(change.wall)} s, ${
          fmt(change.rate)
        } sources/s, ${change.changes}/${edited} changes`,
      );
      const entry: Entry = { ours: [baseline, change], labels: ["baseline", "change"] };
      // History rounds at the first N only (a year of history at N = 100,000 would take hours).
      for (let k = 0; k < (n === SIZES[0] ? HISTORY_ROUNDS : 0); k++) {
        const edit = async () =>
          (await (await fetch(`${base}/edit?round=${++round}&n=${n}`, { method: "POST" }))
            .json()).edited;
        const t = performance.now();
        const counts = await seedHistory(sql);
        const seedMs = performance.now() - t;
        console.log(`history seeded in ${fmt(seedMs / 1000)} s: ${JSON.stringify(counts)}`);
        const withHistory = await ourRun(n, await edit(), serviceRoleKey);
        console.log(`ours change run with a year of history: ${fmt(withHistory.wall)} s`);
        entry.ours.push(withHistory);
        entry.labels.push(HISTORY_LABEL);
        const cleared = performance.now();
        await clearHistory(sql);
        // The workers idled through the seed before the run with history: the clean run gets
        // the same idle (the clear, then a wait), as a worker idle for ~20 s costs more CPU in
        // the next run than a busy one (session 15: 2.13–2.27 against 1.78–2.06 ms per
        // source for the same clean run after a 21 s or a 7 s idle).
        await new Promise((r) =>
          setTimeout(r, Math.max(0, seedMs - (performance.now() - cleared)))
        );
        const clean = await ourRun(n, await edit(), serviceRoleKey);
        console.log(`ours change run (clean, after the same idle): ${fmt(clean.wall)} s`);
        entry.ours.push(clean);
        entry.labels.push(CLEAN_LABEL);
      }
      if (n <= URLWATCH_MAX_N) {
        const dir = await Deno.makeTempDir({ prefix: "bench-urlwatch-" });
        const jobs = Array.from(
          { length: n },
          (_, i) => `name: bench ${i}\nurl: ${pageUrl(i)}\nfilter:\n  - css: main\n  - html2text\n`,
        ).join("---\n");
        await Deno.writeTextFile(`${dir}/urls.yaml`, jobs);
        const uwBase = await urlwatchRun(dir);
        console.log(
          `urlwatch baseline: ${fmt(uwBase.wall)} s, ${fmt(n / uwBase.wall)} sources/s`,
        );
        const uwEdited = (await (await fetch(`${base}/edit?round=${++round}&n=${n}`, {
          method: "POST",
        })).json()).edited;
        const uwChange = await urlwatchRun(dir);
        console.log(
          `urlwatch change run: ${fmt(uwChange.wall)} s, ${
            fmt(n / uwChange.wall)
          } sources/s, ${uwChange.changes}/${uwEdited} changes`,
        );
        entry.urlwatch = [uwBase, uwChange];
        await Deno.remove(dir, { recursive: true });
      }
      results.push(entry);
    }
    for (const [mix, n] of [["skewed", SKEW_N], ["one-host", Math.floor(SKEW_N / 2)]] as const) {
      if (n <= 0) continue;
      console.log(`\n== ${mix}, N = ${n}`);
      await setupSources(n, mix);
      const floor = (largestHost(n, mix) * LATENCY_MS) / PER_HOST / 1000;
      const figures: RunFigures[] = [];
      for (const kind of ["baseline", "change"]) {
        const edited = kind === "change"
          ? (await (await fetch(`${base}/edit?round=${++round}&n=${n}`, { method: "POST" }))
            .json()).edited as number
          : 0;
        const o = await ourRun(n, edited, serviceRoleKey);
        figures.push(o);
        console.log(
          `ours ${mix} ${kind}: ${fmt(o.wall)} s = ${fmt(o.wall / floor, 2)}× the floor ${
            fmt(floor)
          } s`,
        );
      }
      skewed.push({ mix, n, largest: largestHost(n, mix), floor, runs: figures });
    }
  } finally {
    await sql`delete from public.sources where name like 'bench %'`;
    // clearHistory vacuums the run tables after its own deletes, and so after ours.
    if (HISTORY_ROUNDS > 0) await clearHistory(sql);
    else await vacuumRunTables(sql);
    if (others.length > 0) {
      await sql`update public.sources set active = true where id = any(${others.map((o) => o.id)})`;
    }
    if (subs.length > 0) {
      await sql`update public.subscriptions set active = true where id = any(${
        subs.map((o) => o.id)
      })`;
    }
    site.kill("SIGTERM");
    await site.status;
  }

  rows.push(
    `machine: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, load average at the end ${
      Deno.loadavg().map((l) => fmt(l, 2)).join(" ")
    }; site latency ${LATENCY_MS} ms, ~40 KB noisy pages, 5 % edited per change run`,
    "",
    "| N | run | tool | wall s | sources/s | CPU s fn / PostgREST / Postgres | CPU ms per source | invocations | CPU ms per invocation, from outside: max / mean | worker isolate MB, heap + external (max) | kills (limits.log) | max V8 heap MB of an invocation (its log) | DB round-trips per source | max in flight per host (site) | changes (expected) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of results) {
    for (const [i, o] of r.ours.entries()) {
      rows.push(
        `| ${o.n} | ${r.labels[i]} | ours | ${fmt(o.wall)} | ${fmt(o.rate)} | ${
          fmt(o.cpu.functions, 2)
        } / ${fmt(o.cpu.postgrest, 2)} / ${fmt(o.cpu.postgres, 2)} | ${
          fmt(o.cpuPerSourceMs, 2)
        } | ${o.outsideInvocations} | ${fmt(o.outsideMaxCpuMs, 0)} / ${
          fmt(o.outsideMeanCpuMs, 0)
        } | ${fmt(o.outsideMaxIsolateMb, 0)} | ${o.kills} | ${fmt(o.maxInvocationHeapMb, 0)} | ${
          fmt(o.roundTripsPerSource, 3)
        } | ${o.maxPerHost} | ${o.changes} (${o.expected})${
          o.failed ? `, ${o.failed} failed` : ""
        } |`,
      );
    }
    if (r.urlwatch) {
      const n = r.ours[0]!.n;
      for (const [i, u] of r.urlwatch.entries()) {
        rows.push(
          `| ${n} | ${i === 0 ? "baseline" : "change"} | urlwatch 2.25 | ${fmt(u.wall)} | ${
            fmt(n / u.wall)
          } | ${fmt(u.cpu, 2)} (one process) | ${fmt((u.cpu / n) * 1000, 2)} | 1 | – | ${
            fmt(u.maxRssMb, 0)
          } (RSS) | – | – | – | – | ${u.changes} |`,
        );
      }
      const ours = r.ours[1]!;
      const uw = r.urlwatch[1]!;
      rows.push(
        "",
        `N = ${n}, change run: throughput ours/urlwatch = ${
          fmt(ours.rate / (n / uw.wall), 2)
        }× (target ≥ 6×, issue 14); ` +
          `CPU per source ours/urlwatch = ${
            fmt(ours.cpuPerSourceMs / ((uw.cpu / n) * 1000), 2)
          } (target ≤ 0.4)`,
        "",
      );
    }
  }
  rows.push(
    "",
    "Budget calibration (shared/jobs/budget.ts), from outside: the workers' own CPU since boot over the run, per source, against the compute spans the invocations measured and charged:",
    "",
    "| N | run | workers' CPU s (main thread, since boot) | max CPU ms of one worker (kill at 2000) | per source: outside ms / compute ms / rest ms | invocations | kills (limits.log) |",
    "|---|---|---|---|---|---|---|",
  );
  for (const r of results) {
    for (const [i, o] of r.ours.entries()) rows.push(calibrationRow(o, r.labels[i]!));
  }
  rows.push(...historyLines(results));
  // Each N against the one before it (issue 14: N = 100,000 within 10× the N = 10,000 time).
  for (let k = 1; k < results.length; k++) {
    for (const [i, label] of ["baseline", "change"].entries()) {
      const small = results[k - 1]!.ours[i]!;
      const large = results[k]!.ours[i]!;
      rows.push(
        `N = ${large.n} ${label} run took ${
          fmt(large.wall / small.wall, 2)
        }× the N = ${small.n} one (target ≤ ${fmt(large.n / small.n, 1)}×, issue 14); ` +
          `max heap of an invocation ${fmt(small.maxInvocationHeapMb, 0)} → ${
            fmt(large.maxInvocationHeapMb, 0)
          } MB; worker isolate memory ${fmt(small.outsideMaxIsolateMb, 0)} → ${
            fmt(large.outsideMaxIsolateMb, 0)
          } MB; most in flight to one host ${small.maxPerHost} → ${large.maxPerHost}`,
      );
    }
  }
  if (skewed.length > 0) {
    rows.push(
      "",
      `Skewed hosts (floor = pages of the largest host × ${LATENCY_MS} ms ÷ ${PER_HOST} per host; target ≤ 1.3× the floor):`,
      "",
      "| mix | N | pages on the largest host | run | wall s | floor s | wall ÷ floor | max in flight per host (site) | invocations | kills (limits.log) | changes (expected) |",
      "|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const k of skewed) {
      for (const [i, o] of k.runs.entries()) {
        rows.push(
          `| ${k.mix} | ${k.n} | ${k.largest} | ${i === 0 ? "baseline" : "change"} | ${
            fmt(o.wall)
          } | ${fmt(k.floor)} | ${
            fmt(o.wall / k.floor, 2)
          } | ${o.maxPerHost} | ${o.outsideInvocations} | ${o.kills} | ${o.changes} (${o.expected})${
            o.failed ? `, ${o.failed} failed` : ""
          } |`,
        );
      }
    }
  }
  console.log(`\n${rows.join("\n")}`);
  await sql.end();
}
