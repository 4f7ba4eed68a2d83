/**
 * Data access of the daily-fetch job on supabase-js (service role): runs, work items,
 * sources and frequencies. The RPCs are in supabase/migrations/*_jobs.sql; every answer is
 * validated with zod before the job sees it.
 * @module
 */
import { z } from "zod";
import type { DueCandidate } from "../jobs/due_sources.ts";
import type {
  ClaimedItem,
  ItemOutcome,
  JobRunRow,
  JobStore,
  StartRunResult,
} from "../jobs/store.ts";
import type { RunSourceOutcome } from "../jobs/types.ts";
import { JobResultSchema, RunSourceOutcomeSchema } from "../schemas.ts";
import type { PolicyChange } from "../types.ts";
import { callRpc, type Db, parseAnswer, storeError } from "./client.ts";
import { POLICY_CHANGE_COLUMNS, PolicyChangeSchema, SourceSchema } from "./rows.ts";

/** PostgREST's max rows per response (db-max-rows); lists are read in pages of it. */
const PAGE = 1000;
/** Items per job_add_items call (one call of 20,000 took 1.5 s at most: README, RPC timings). */
const ADD_CHUNK = 10_000;

const count = z.number().int();

/** A `job_runs` row: the API's JobResult fields (one schema for both) plus the run's own. */
const RunSchema: z.ZodType<JobRunRow> = JobResultSchema.omit({ run_id: true, errors: true })
  .extend({
    id: z.string(),
    job_name: z.string(),
    deadline_at: z.string(),
    options: z.record(z.string(), z.unknown()),
    total_items: count,
    errors: z.array(z.unknown()).transform((errors) => errors.map(String)),
  });

const StartSchema = z.union([
  z.object({ conflict: z.literal(true), running_run_id: z.string().nullable().optional() }),
  z.object({ conflict: z.literal(false), run: RunSchema }),
]);

const ClaimedSchema: z.ZodType<ClaimedItem[]> = z.array(z.object({
  source: SourceSchema,
  attempt: count,
  fetch_id: z.string(),
  lease_until: z.string().nullable(),
  prior_policy_change_id: z.string().nullable(),
  prior_snapshot_id: z.string().nullable(),
  start_in_ms: z.number().int().min(0).optional(),
  host: z.string().optional(),
  slot: z.number().int().min(1).nullable().optional(),
  poisoned: z.boolean().optional(),
  report_at_once: z.boolean().optional(),
}));

const CompletedSchema = z.object({ completed: count, finalised: z.boolean(), run: RunSchema });

const ExchangeSchema = z.object({
  completed: count,
  finalised: z.boolean(),
  run: RunSchema.nullable(),
  items: ClaimedSchema,
  open: count.nullable(),
  held: count.nullable(),
}).transform(({ open, held, ...rest }) => ({
  ...rest,
  left: open === null || held === null ? null : { open, held },
}));

const CandidateSchema: z.ZodType<DueCandidate> = z.object({
  id: z.string(),
  name: z.string(),
  check_frequency: z.string(),
  last_checked_at: z.string().nullable(),
});

const FrequencySchema = z.object({ name: z.string(), interval_seconds: z.number() });

/** A `job_run_sources` row with its source's name, as the API shows it. */
const RunSourceSchema: z.ZodType<RunSourceOutcome> = RunSourceOutcomeSchema
  .omit({ source_name: true })
  .extend({ sources: z.object({ name: z.string() }).nullable() })
  .transform(({ sources, ...row }) => ({ ...row, source_name: sources?.name ?? null }));

/**
 * The {@link JobStore} of a Supabase project; `db` must be a service-role client.
 * @example
 * const store = createSupabaseJobStore(serviceClient(url, serviceRoleKey));
 */
export function createSupabaseJobStore(db: Db): JobStore {
  /** Reads a query's rows, failing with `what` on an error. */
  async function rows<T>(
    what: string,
    schema: z.ZodType<T>,
    query: PromiseLike<{ data: unknown; error: { message: string; code?: string } | null }>,
  ): Promise<T> {
    const { data, error } = await query;
    if (error) throw storeError(what, error);
    return parseAnswer(what, schema, data);
  }

  return {
    async startRun(jobName, trigger, options, deadlineMs): Promise<StartRunResult> {
      const r = await callRpc(db, "Cannot start the run", "job_start_run", {
        p_job_name: jobName,
        p_trigger: trigger,
        p_options: options,
        p_deadline_ms: deadlineMs,
      }, StartSchema);
      return r.conflict
        ? { conflict: true, runningRunId: r.running_run_id ?? null }
        : { conflict: false, run: r.run };
    },

    async listActiveSources(sourceIds): Promise<DueCandidate[]> {
      const out: DueCandidate[] = [];
      let after = "00000000-0000-0000-0000-000000000000";
      for (;;) {
        let q = db.from("sources").select("id, name, check_frequency, last_checked_at")
          .eq("active", true).gt("id", after).order("id").limit(PAGE);
        if (sourceIds) q = q.in("id", sourceIds);
        const page = await rows("Cannot read the active sources", z.array(CandidateSchema), q);
        out.push(...page);
        if (page.length < PAGE) return out;
        after = page.at(-1)!.id;
      }
    },

    async listFrequencies(): Promise<Map<string, number>> {
      const list = await rows(
        "Cannot read the check frequencies",
        z.array(FrequencySchema),
        db.from("check_frequencies").select("name, interval_seconds"),
      );
      return new Map(list.map((f) => [f.name, f.interval_seconds * 1000]));
    },

    async addItems(runId, due, skipped): Promise<JobRunRow> {
      // In chunks, so that a large start (100,000 sources) stays far inside the hosted 8 s
      // statement timeout; the due items first (a run whose items are all finished looks
      // empty to job_start_run, and it has pending ones from the first chunk on).
      const add = (d: string[], s: string[]) =>
        callRpc(db, `Cannot add the items of run ${runId}`, "job_add_items", {
          p_run_id: runId,
          p_due: d,
          p_skipped: s,
        }, RunSchema);
      let run: JobRunRow | null = null;
      for (let i = 0; i < due.length; i += ADD_CHUNK) {
        run = await add(due.slice(i, i + ADD_CHUNK), []);
      }
      for (let i = 0; i < skipped.length; i += ADD_CHUNK) {
        run = await add([], skipped.slice(i, i + ADD_CHUNK));
      }
      return run ?? await add([], []);
    },

    claimItems(runId, claimedBy, limit, leaseMs, maxAttempts, hosts): Promise<ClaimedItem[]> {
      return callRpc(db, `Cannot claim items of run ${runId}`, "job_claim_items", {
        p_run_id: runId,
        p_claimed_by: claimedBy,
        p_limit: limit,
        p_lease_ms: leaseMs,
        p_per_host: hosts?.perHost ?? null,
        p_delay_ms: hosts?.delayMs ?? 0,
        p_max_attempts: maxAttempts,
        p_slot_depth: hosts?.slotDepth ?? 1,
      }, ClaimedSchema);
    },

    renewLeases(runId, claimedBy, leaseMs): Promise<number> {
      return callRpc(db, `Cannot renew the leases of run ${runId}`, "job_renew_leases", {
        p_run_id: runId,
        p_claimed_by: claimedBy,
        p_lease_ms: leaseMs,
      }, count);
    },

    async slowHost(runId, url, retryAfterMs): Promise<void> {
      await callRpc(db, `Cannot slow a host of run ${runId}`, "job_slow_host", {
        p_run_id: runId,
        p_url: url,
        p_retry_after_ms: Math.round(retryAfterMs),
      }, z.boolean());
    },

    slotStart(runId, host): Promise<number> {
      return callRpc(db, `Cannot start a queued item of run ${runId}`, "job_slot_start", {
        p_run_id: runId,
        p_host: host,
      }, z.number().int().min(0));
    },

    async slotRelease(runId, sourceId, attempt): Promise<void> {
      await callRpc(
        db,
        `Cannot free the request slot of source ${sourceId} in run ${runId}`,
        "job_slot_release",
        {
          p_run_id: runId,
          p_source_id: sourceId,
          p_attempt: attempt,
        },
        z.boolean().nullable(),
      );
    },

    completeItems(runId, outcomes: ItemOutcome[], bookkeeping) {
      return callRpc(db, `Cannot record outcomes of run ${runId}`, "job_complete_items", {
        p_run_id: runId,
        p_outcomes: outcomes,
        ...(bookkeeping && bookkeeping.length > 0 ? { p_bookkeeping: bookkeeping } : {}),
      }, CompletedSchema);
    },

    completeAndClaim(runId, outcomes, bookkeeping, claim) {
      return callRpc(
        db,
        `Cannot record outcomes and claim items of run ${runId}`,
        "job_complete_and_claim",
        {
          p_run_id: runId,
          p_outcomes: outcomes,
          p_bookkeeping: bookkeeping.length > 0 ? bookkeeping : null,
          p_claimed_by: claim.claimedBy,
          p_limit: claim.limit,
          p_lease_ms: claim.leaseMs,
          p_per_host: claim.hosts?.perHost ?? null,
          p_delay_ms: claim.hosts?.delayMs ?? 0,
          p_max_attempts: claim.maxAttempts,
          p_slot_depth: claim.hosts?.slotDepth ?? 1,
          p_count: claim.count ?? false,
        },
        ExchangeSchema,
      );
    },

    failRun(runId, message): Promise<JobRunRow> {
      return callRpc(db, `Cannot finalise run ${runId}`, "job_fail_run", {
        p_run_id: runId,
        p_error: message,
      }, RunSchema);
    },

    getRun(runId): Promise<JobRunRow | null> {
      return rows(
        `Cannot read run ${runId}`,
        RunSchema.nullable(),
        db.from("job_runs").select("*").eq("id", runId).maybeSingle(),
      );
    },

    listRuns(jobName, limit): Promise<JobRunRow[]> {
      return rows(
        "Cannot list runs",
        z.array(RunSchema),
        db.from("job_runs").select("*").eq("job_name", jobName)
          .order("started_at", { ascending: false }).limit(limit),
      );
    },

    async getRunSources(runId): Promise<RunSourceOutcome[]> {
      const out: RunSourceOutcome[] = [];
      for (let from = 0;; from += PAGE) {
        const page = await rows(
          `Cannot read the sources of run ${runId}`,
          z.array(RunSourceSchema),
          db.from("job_run_sources")
            .select(
              "source_id, status, changed, baseline, policy_change_id, error_class, error_message, duration_ms, content, sources(name)",
            )
            .eq("run_id", runId).order("source_id").range(from, from + PAGE - 1),
        );
        out.push(...page);
        if (page.length < PAGE) return out;
      }
    },

    async countOpenItems(runId, now) {
      const items = () =>
        db.from("job_run_sources").select("source_id", { count: "exact", head: true })
          .eq("run_id", runId);
      const [open, held] = await Promise.all([
        items().in("status", ["pending", "claimed"]),
        items().eq("status", "claimed").gt("lease_until", now.toISOString()),
      ]);
      const what = `Cannot count the open items of run ${runId}`;
      if (open.error) throw storeError(what, open.error);
      if (held.error) throw storeError(what, held.error);
      return { open: open.count ?? 0, held: held.count ?? 0 };
    },

    getPolicyChange(id): Promise<PolicyChange | null> {
      return rows(
        `Cannot read policy change ${id}`,
        PolicyChangeSchema.nullable(),
        db.from("policy_changes").select(POLICY_CHANGE_COLUMNS).eq("id", id).maybeSingle(),
      );
    },

    listMissedRuns(jobName, since): Promise<JobRunRow[]> {
      return rows(
        "Cannot read missed runs",
        z.array(RunSchema),
        db.from("job_runs").select("*").eq("job_name", jobName)
          .eq("options->>watchdog", "missed_run").gte("started_at", since.toISOString())
          .order("started_at").limit(20),
      );
    },
  };
}
