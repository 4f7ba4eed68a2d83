/**
 * The job's queue at scale without fetching (`tools/rpc_timings.ts --queue-only --n 100000`):
 * N active sources on a skewed host mix (Zipf over 64 hosts), one run started and filled
 * through the real job store (`listActiveSources` pages, `addItems` in chunks), then
 * `INVOCATIONS` concurrent loops that claim a batch with the per-host limits, renew their
 * leases and complete it at once with a success outcome and its bookkeeping patch, as the
 * job does after fetching. What is measured is every RPC and query of a run at that size
 * (pg_stat_statements, by the caller) and the wall time of the queue alone: a page fetch
 * costs the same at any N, the database's part is what could grow.
 * @module
 */
import type postgres from "postgres";
import { DEFAULT_CONFIG } from "../shared/config.ts";
import { splitDueSources } from "../shared/jobs/due_sources.ts";
import type { ItemOutcome } from "../shared/jobs/store.ts";
import type { SourceBookkeeping } from "../shared/pipeline/types.ts";
import { serviceClient } from "../shared/store/client.ts";
import { createSupabaseJobStore } from "../shared/store/job_store.ts";
import { readKeys } from "../supabase/local/keys.ts";
import { SUPABASE_URL } from "../supabase/local/ports.ts";

const HOSTS = 64;
const INVOCATIONS = 8;

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

/** Figures of one queue run. */
export interface QueueFigures {
  n: number;
  startMs: number;
  drainMs: number;
  batches: number;
  status: string;
}

/**
 * Runs the queue once over `n` fresh sources (`queue …`, removed after); the stack's other
 * active sources are paused meanwhile and restored.
 */
export async function queueRun(sql: postgres.Sql, n: number): Promise<QueueFigures> {
  const keys = await readKeys();
  const store = createSupabaseJobStore(serviceClient(SUPABASE_URL, keys.serviceRoleKey));
  await sql`delete from public.sources where name like 'queue %'`;
  const others = await sql<{ id: string }[]>`update public.sources set active = false
    where active returning id`;
  let runId = "";
  try {
    const rows = Array.from({ length: n }, (_, i) => ({
      name: `queue ${i}`,
      url: `https://queue-${skewedHost(i)}.example/p/${i}`,
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
    let batches = 0;
    const t1 = performance.now();
    const hosts = {
      perHost: DEFAULT_CONFIG.FETCH_PER_HOST_CONCURRENCY,
      delayMs: DEFAULT_CONFIG.FETCH_POLITENESS_DELAY_MS,
      slotDepth: DEFAULT_CONFIG.JOB_HOST_SLOT_DEPTH,
    };
    // The first failure stops every loop; the cleanup waits for all of them (a delete of
    // the run while a completion is in flight deadlocks with it) and reports that failure.
    let failure: unknown = null;
    const invocation = async (k: number) => {
      for (;;) {
        if (failure !== null) return;
        const items = await store.claimItems(
          runId,
          `queue-${k}`,
          DEFAULT_CONFIG.JOB_BATCH_SIZE,
          DEFAULT_CONFIG.JOB_LEASE_MS,
          DEFAULT_CONFIG.JOB_ITEM_MAX_ATTEMPTS,
          hosts,
        );
        if (items.length === 0) {
          const { open, held } = await store.countOpenItems(runId, new Date());
          if (open <= held) return;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        batches++;
        await store.renewLeases(runId, `queue-${k}`, DEFAULT_CONFIG.JOB_LEASE_MS);
        const at = new Date().toISOString();
        const outcomes: ItemOutcome[] = items.map((i) => ({
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
        }));
        const patches: SourceBookkeeping[] = items.map((i) => ({
          id: i.source.id,
          last_checked_at: at,
          last_success_at: at,
          last_error: null,
          last_error_class: null,
          consecutive_failures: 0,
        }));
        await store.completeItems(runId, outcomes, patches);
      }
    };
    await Promise.all(Array.from({ length: INVOCATIONS }, (_, k) =>
      invocation(k).catch((error) => {
        failure ??= error;
      })));
    if (failure !== null) throw failure;
    const run = await store.getRun(runId);
    return {
      n,
      startMs,
      drainMs: performance.now() - t1,
      batches,
      status: run?.status ?? "unknown",
    };
  } finally {
    if (runId) await sql`delete from public.job_runs where id = ${runId}`;
    await sql`delete from public.sources where name like 'queue %'`;
    if (others.length > 0) {
      await sql`update public.sources set active = true where id = any(${others.map((o) => o.id)})`;
    }
  }
}
