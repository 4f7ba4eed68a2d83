/**
 * The job's queue at scale without fetching. N active sources on 64 hosts (`uniform`, as
 * bench:run's runs, or `zipf`: host k gets a share ∝ 1/k), one run started and filled
 * through the real job store (`listActiveSources` pages, `addItems` in chunks), then
 * `invocations` concurrent loops that each do what the job's work loop does: one
 * `job_complete_and_claim` round trip records the outcomes and bookkeeping of the items it
 * held and claims the next ones with the per-host limits (every 8th call asks for the open
 * count, as an invocation's last claim does), holding them `holdMs` (the fetch) in between.
 * What is measured is the cost of that round trip as the run drains: ms per call (from the
 * caller, through PostgREST) and Postgres's execution time (pg_stat_statements) early,
 * in the middle and late in the run, and with `explain` the plans with buffers of every
 * statement one round trip runs at those points (auto_explain, in a rolled-back
 * transaction). A page fetch costs the same at any N; the database's part is what could grow.
 *
 * `deno run -A tools/bench_queue.ts --n 10000,100000 --mix uniform [--invocations 8]
 * [--limit 8] [--hold-ms 0] [--explain plans.txt] [--nested]` (`--nested`: the round trip's
 * costliest inner statements per phase, pg_stat_statements.track = all meanwhile); `tools/rpc_timings.ts --queue-only`
 * runs it at one N with the defaults.
 * @module
 */
import postgres from "postgres";
import { DEFAULT_CONFIG } from "../shared/config.ts";
import { splitDueSources } from "../shared/jobs/due_sources.ts";
import type { ClaimedItem, ItemOutcome } from "../shared/jobs/store.ts";
import type { SourceBookkeeping } from "../shared/pipeline/types.ts";
import { serviceClient } from "../shared/store/client.ts";
import { createSupabaseJobStore } from "../shared/store/job_store.ts";
import { readKeys } from "../supabase/local/keys.ts";
import { ADMIN_DB_URL, SUPABASE_URL } from "../supabase/local/ports.ts";
import { start } from "../supabase/local/stack.ts";
import { postgrestCpu, stackPostgresCpu } from "./proc_cpu.ts";

const HOSTS = 64;

/** Host k of source i by Zipf's law (host k gets a share ∝ 1/k). */
function skewedHost(i: number): number {
  const u = ((i * 2654435761) % 4294967296) / 4294967296;
  let acc = 0;
  const total = Array.from({ length: HOSTS }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b, 0);
  for (let k = 0; k < HOSTS; k++) {
    acc += 1 / (k + 1) / total;
    if (u < acc) return k + 1;
  }
  return HOSTS;
}

/** How a queue run is driven. */
export interface QueueOptions {
  mix: "uniform" | "zipf";
  invocations: number;
  /** Items claimed per round trip at most. */
  limit: number;
  /** How long a loop holds what it claimed before completing it (the fetch). */
  holdMs: number;
  /** Plans of one round trip at each phase go to this file (auto_explain). */
  explainFile?: string;
}

export const QUEUE_DEFAULTS: QueueOptions = { mix: "zipf", invocations: 8, limit: 8, holdMs: 0 };

/** A stretch of the drain: the round trips that started with `from`–`to` of the items done. */
export interface Phase {
  label: string;
  from: number;
  to: number;
  calls: number;
  /** From the caller, through PostgREST: mean and median ms per call. */
  meanMs: number;
  medianMs: number;
  /** Postgres's execution time of job_complete_and_claim per call (pg_stat_statements). */
  execMs: number;
  /** Its costliest inner statements (ms per round trip), with pg_stat_statements.track = all. */
  top: Array<{ query: string; msPerCall: number }>;
}

/** Figures of one queue run. */
export interface QueueFigures {
  n: number;
  startMs: number;
  drainMs: number;
  calls: number;
  status: string;
  phases: Phase[];
  /** CPU seconds of this stack's PostgREST and Postgres during the drain. */
  cpu: { postgrest: number; postgres: number };
}

const PHASES = [
  { label: "early", from: 0, to: 0.1 },
  { label: "middle", from: 0.45, to: 0.55 },
  { label: "late", from: 0.85, to: 0.95 },
];

interface Totals {
  calls: number;
  ms: number;
  /** Statements run inside functions (pg_stat_statements.track = all), by text. */
  nested: Map<string, number>;
}

async function execTotals(sql: postgres.Sql): Promise<Totals> {
  const [row] = await sql<{ calls: number; ms: number }[]>`
    select coalesce(sum(calls), 0)::float8 as calls, coalesce(sum(total_exec_time), 0)::float8 as ms
    from extensions.pg_stat_statements where query like '%"public"."job_complete_and_claim"(%'`;
  const nested = await sql<{ query: string; ms: number }[]>`
    select left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 100) as query,
           sum(total_exec_time)::float8 as ms
    from extensions.pg_stat_statements where not toplevel group by 1`;
  return { ...row!, nested: new Map(nested.map((r) => [r.query, r.ms])) };
}

/** The statements inside the round trip that took most of its time between a and b. */
function topNested(a: Totals, b: Totals): Array<{ query: string; msPerCall: number }> {
  const calls = b.calls - a.calls;
  return [...b.nested].map(([query, ms]) => ({
    query,
    msPerCall: (ms - (a.nested.get(query) ?? 0)) / calls,
  })).sort((x, y) => y.msPerCall - x.msPerCall).slice(0, 5);
}

/**
 * The plans, with buffers, of every statement of two round trips (a claim, then the
 * completion of what it claimed with the next claim and the open count) on run `runId`,
 * rolled back: the run is left as it was.
 */
async function explainRoundTrip(runId: string, label: string, limit: number): Promise<string> {
  const notices: string[] = [];
  const sql = postgres(ADMIN_DB_URL, {
    max: 1,
    onnotice: (n) => notices.push(String(n.message)),
  });
  const hosts = [
    DEFAULT_CONFIG.FETCH_PER_HOST_CONCURRENCY,
    0,
    3,
    DEFAULT_CONFIG.JOB_HOST_SLOT_DEPTH,
  ];
  try {
    await sql.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      for (
        const [name, value] of [
          ["log_min_duration", "0"],
          ["log_analyze", "on"],
          [
            "log_buffers",
            "on",
          ],
          ["log_nested_statements", "on"],
          ["log_timing", "on"],
          ["log_level", "notice"],
        ]
      ) await tx`select set_config(${"auto_explain." + name}, ${value!}, true)`;
      const [first] = await tx<{ answer: { items: ClaimedItem[] } }[]>`
        select public.job_complete_and_claim(${runId}, '[]'::jsonb, null, 'explain', ${limit}, 30000,
          ${hosts[0]!}, ${hosts[1]!}, ${hosts[2]!}, ${hosts[3]!}, false) as answer`;
      notices.push("--- second round trip: completes the first one's items, claims, counts");
      const done = first!.answer.items.map((i) => outcome(i));
      await tx`select public.job_complete_and_claim(${runId}, ${JSON.stringify(done)}::jsonb,
        ${JSON.stringify(done.map((d) => patch(d.source_id)))}::jsonb, 'explain', ${limit}, 30000,
        ${hosts[0]!}, ${hosts[1]!}, ${hosts[2]!}, ${hosts[3]!}, true)`;
      throw new Rollback();
    }).catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
  } finally {
    await sql.end();
  }
  return `=== ${label}\n${notices.join("\n")}\n`;
}

class Rollback extends Error {}

function outcome(i: ClaimedItem): ItemOutcome {
  return {
    source_id: i.source.id,
    attempt: i.attempt,
    status: "succeeded",
    changed: false,
    baseline: false,
    policy_change_id: null,
    error_class: null,
    error_message: null,
    duration_ms: 100,
    alerts_sent: 0,
    error_text: null,
  };
}

function patch(id: string): SourceBookkeeping {
  const at = new Date().toISOString();
  return {
    id,
    last_checked_at: at,
    last_success_at: at,
    last_error: null,
    last_error_class: null,
    consecutive_failures: 0,
  };
}

/**
 * Runs the queue once over `n` fresh sources (`queue …`, removed after); the stack's other
 * active sources are paused meanwhile and restored.
 */
export async function queueRun(
  sql: postgres.Sql,
  n: number,
  options: QueueOptions = QUEUE_DEFAULTS,
): Promise<QueueFigures> {
  const keys = await readKeys();
  const store = createSupabaseJobStore(serviceClient(SUPABASE_URL, keys.serviceRoleKey));
  await sql`delete from public.sources where name like 'queue %'`;
  const others = await sql<{ id: string }[]>`update public.sources set active = false
    where active returning id`;
  let runId = "";
  try {
    const host = (i: number) => options.mix === "uniform" ? (i % HOSTS) + 1 : skewedHost(i);
    const rows = Array.from({ length: n }, (_, i) => ({
      name: `queue ${i}`,
      url: `https://queue-${host(i)}.example/p/${i}`,
      check_frequency: "daily",
    }));
    for (let i = 0; i < n; i += 5000) {
      await sql`insert into public.sources ${sql(rows.slice(i, i + 5000))}`;
    }
    const t0 = performance.now();
    // Not "daily-fetch": the resume watchdog (pg_cron, every minute) would send the function to fetch these.
    const started = await store.startRun("queue-bench", "manual", { force: true }, 7_200_000);
    if (started.conflict) throw new Error(`Cannot start: run ${started.runningRunId} is running`);
    runId = started.run.id;
    const [sources, intervals] = await Promise.all([
      store.listActiveSources(),
      store.listFrequencies(),
    ]);
    const { due, skipped } = splitDueSources(sources, {
      now: new Date(),
      intervals,
      toleranceMs: DEFAULT_CONFIG.JOB_DUE_TOLERANCE_MS,
      force: true,
    });
    await store.addItems(runId, due.map((s) => s.id), skipped.map((s) => s.source.id));
    const startMs = performance.now() - t0;
    // A project's sources and run items are there long before a run (their statistics
    // hold them); here they were written a moment ago.
    await sql`analyze public.sources, public.job_run_sources`;
    const claim = {
      leaseMs: DEFAULT_CONFIG.JOB_LEASE_MS,
      maxAttempts: DEFAULT_CONFIG.JOB_ITEM_MAX_ATTEMPTS,
      hosts: {
        perHost: DEFAULT_CONFIG.FETCH_PER_HOST_CONCURRENCY,
        delayMs: DEFAULT_CONFIG.FETCH_POLITENESS_DELAY_MS,
        slotDepth: DEFAULT_CONFIG.JOB_HOST_SLOT_DEPTH,
      },
    };
    let done = 0;
    const calls: Array<{ at: number; ms: number }> = [];
    // pg_stat_statements at each phase's bounds, and the plans inside each phase.
    const bounds = PHASES.flatMap((p) => [p.from, p.to]).sort((a, b) => a - b);
    const totals = new Map<number, Totals>();
    const plans: string[] = [];
    let sampling = Promise.resolve();
    const sample = () => {
      while (bounds.length > 0 && done / n >= bounds[0]!) {
        const at = bounds.shift()!;
        const phase = PHASES.find((p) => p.from === at);
        sampling = sampling.then(async () => {
          totals.set(at, await execTotals(sql));
          if (phase && options.explainFile) {
            plans.push(
              await explainRoundTrip(runId, `${phase.label}, ${done} of ${n} done`, options.limit),
            );
          }
        });
      }
    };
    sample();
    const cpu0 = { postgrest: postgrestCpu(), postgres: stackPostgresCpu() };
    const t1 = performance.now();
    // The first failure stops every loop; the cleanup waits for all of them (a delete of
    // the run while a completion is in flight deadlocks with it) and reports that failure.
    let failure: unknown = null;
    const invocation = async (k: number) => {
      let held: ClaimedItem[] = [];
      for (let call = 1;; call++) {
        if (failure !== null) return;
        const outcomes = held.map(outcome);
        const at = done / n;
        const c0 = performance.now();
        const answer = await store.completeAndClaim(
          runId,
          outcomes,
          outcomes.map((o) => patch(o.source_id)),
          { ...claim, claimedBy: `queue-${k}`, limit: options.limit, count: call % 8 === 0 },
        );
        calls.push({ at, ms: performance.now() - c0 });
        done += answer.completed;
        sample();
        held = answer.items.filter((i) => !i.poisoned);
        if (held.length === 0) {
          if (answer.finalised || (answer.left && answer.left.open <= answer.left.held)) return;
          await new Promise((r) => setTimeout(r, 100));
        } else if (options.holdMs > 0) {
          await new Promise((r) => setTimeout(r, options.holdMs));
        }
      }
    };
    await Promise.all(
      Array.from({ length: options.invocations }, (_, k) =>
        invocation(k).catch((error) => {
          failure ??= error;
        })),
    );
    if (failure !== null) throw failure;
    const drainMs = performance.now() - t1;
    const cpu = {
      postgrest: postgrestCpu() - cpu0.postgrest,
      postgres: stackPostgresCpu() - cpu0.postgres,
    };
    await sampling;
    const run = await store.getRun(runId);
    const phases = PHASES.map((p) => {
      const ms = calls.filter((c) => c.at >= p.from && c.at < p.to).map((c) => c.ms).sort((a, b) =>
        a - b
      );
      const a = totals.get(p.from);
      const b = totals.get(p.to);
      const exec = a && b && b.calls > a.calls ? (b.ms - a.ms) / (b.calls - a.calls) : NaN;
      return {
        ...p,
        calls: ms.length,
        meanMs: ms.reduce((x, y) => x + y, 0) / Math.max(ms.length, 1),
        medianMs: ms[Math.floor(ms.length / 2)] ?? NaN,
        execMs: exec,
        top: a && b && b.calls > a.calls ? topNested(a, b) : [],
      };
    });
    if (options.explainFile) {
      await Deno.writeTextFile(options.explainFile, plans.join("\n"), { append: true });
    }
    return {
      n,
      startMs,
      drainMs,
      calls: calls.length,
      status: run?.status ?? "unknown",
      phases,
      cpu,
    };
  } finally {
    if (runId) await sql`delete from public.job_runs where id = ${runId}`;
    await sql`delete from public.sources where name like 'queue %'`;
    if (others.length > 0) {
      await sql`update public.sources set active = true where id = any(${others.map((o) => o.id)})`;
    }
  }
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) {
  await start();
  const ns = (arg("--n") ?? "10000").split(",").map(Number);
  const mix = arg("--mix") ?? "uniform";
  if (mix !== "uniform" && mix !== "zipf") {
    throw new Error(`Cannot use --mix ${mix}: uniform or zipf`);
  }
  const options: QueueOptions = {
    mix,
    invocations: Number(arg("--invocations") ?? QUEUE_DEFAULTS.invocations),
    limit: Number(arg("--limit") ?? QUEUE_DEFAULTS.limit),
    holdMs: Number(arg("--hold-ms") ?? QUEUE_DEFAULTS.holdMs),
    explainFile: arg("--explain"),
  };
  if (options.explainFile) await Deno.writeTextFile(options.explainFile, "");
  const nested = Deno.args.includes("--nested");
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
  if (nested) {
    // Where a round trip's time goes: the statements inside the functions, by text.
    await sql`alter system set pg_stat_statements.track = 'all'`;
    await sql`select pg_reload_conf()`;
  }
  try {
    console.log(
      `| N | mix | start s | drain s | calls | phase | calls in phase | ms per call mean / median | Postgres exec ms per call | load |`,
    );
    console.log("|---:|---|---:|---:|---:|---|---:|---:|---:|---|");
    for (const n of ns) {
      await sql`vacuum analyze public.job_run_sources`;
      const q = await queueRun(sql, n, options);
      for (const p of q.phases) {
        console.log(
          `| ${n} | ${mix} | ${(q.startMs / 1000).toFixed(1)} | ${
            (q.drainMs / 1000).toFixed(1)
          } | ${q.calls} | ${p.label} (${p.from * 100}–${
            Math.round(p.to * 100)
          } %) | ${p.calls} | ${p.meanMs.toFixed(1)} / ${p.medianMs.toFixed(1)} | ${
            p.execMs.toFixed(2)
          } | ${load()} |`,
        );
      }
      console.log(
        `  ${n}: drain CPU s PostgREST / Postgres ${q.cpu.postgrest.toFixed(2)} / ${
          q.cpu.postgres.toFixed(2)
        } (ms per item ${(q.cpu.postgrest * 1000 / n).toFixed(3)} / ${
          (q.cpu.postgres * 1000 / n).toFixed(3)
        }), ${(q.calls / n).toFixed(3)} calls per item`,
      );
      for (const p of q.phases) {
        for (const t of p.top.filter((t) => t.msPerCall >= 0.05)) {
          console.log(`  ${n} ${p.label}: ${t.msPerCall.toFixed(2)} ms per call in ${t.query}`);
        }
      }
      if (q.status === "running") throw new Error(`The queue run of N = ${n} is still running`);
    }
  } finally {
    if (nested) {
      await sql`alter system reset pg_stat_statements.track`;
      await sql`select pg_reload_conf()`;
    }
    await sql.end();
  }
}
