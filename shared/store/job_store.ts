/**
 * Data access of the daily-fetch job on supabase-js (service role): runs, work items,
 * sources and frequencies. The RPCs are in supabase/migrations/*_jobs.sql.
 * @module
 */
import type {
  ClaimedItem,
  ItemOutcome,
  JobRunRow,
  JobStore,
  StartRunResult,
} from "../jobs/store.ts";
import type { DueCandidate } from "../jobs/due_sources.ts";
import type { RunSourceOutcome } from "../jobs/types.ts";
import type { PolicyChange } from "../types.ts";
import type { Db } from "./client.ts";

/** PostgREST's max rows per response (db-max-rows); lists are read in pages of it. */
const PAGE = 1000;

function fail(what: string, error: { message: string; code?: string } | null): never {
  throw new Error(
    `${what}: ${error?.message ?? "no data"}${error?.code ? ` (${error.code})` : ""}`,
  );
}

/** The {@link JobStore} of a Supabase project. */
export function supabaseJobStore(db: Db): JobStore {
  return {
    async startRun(jobName, trigger, options, deadlineMs): Promise<StartRunResult> {
      const { data, error } = await db.rpc("job_start_run", {
        p_job_name: jobName,
        p_trigger: trigger,
        p_options: options,
        p_deadline_ms: deadlineMs,
      });
      if (error || !data) fail("Cannot start the run", error);
      const r = data as { conflict: boolean; running_run_id?: string; run?: JobRunRow };
      return r.conflict
        ? { conflict: true, runningRunId: r.running_run_id ?? null }
        : { conflict: false, run: r.run! };
    },

    async listActiveSources(sourceIds): Promise<DueCandidate[]> {
      const out: DueCandidate[] = [];
      let after = "00000000-0000-0000-0000-000000000000";
      for (;;) {
        let q = db.from("sources").select("id, name, check_frequency, last_checked_at")
          .eq("active", true).gt("id", after).order("id").limit(PAGE);
        if (sourceIds) q = q.in("id", sourceIds);
        const { data, error } = await q;
        if (error || !data) fail("Cannot read the active sources", error);
        out.push(...(data as DueCandidate[]));
        if (data.length < PAGE) return out;
        after = (data.at(-1) as DueCandidate).id;
      }
    },

    async listFrequencies(): Promise<Map<string, number>> {
      const { data, error } = await db.from("check_frequencies").select("name, interval_seconds");
      if (error || !data) fail("Cannot read the check frequencies", error);
      return new Map(
        (data as { name: string; interval_seconds: number }[]).map((
          f,
        ) => [f.name, f.interval_seconds * 1000]),
      );
    },

    async addItems(runId, due, skipped): Promise<JobRunRow> {
      const { data, error } = await db.rpc("job_add_items", {
        p_run_id: runId,
        p_due: due,
        p_skipped: skipped,
      });
      if (error || !data) fail(`Cannot add the items of run ${runId}`, error);
      return data as JobRunRow;
    },

    async claimItems(runId, claimedBy, limit, leaseMs, maxAttempts): Promise<ClaimedItem[]> {
      const { data, error } = await db.rpc("job_claim_items", {
        p_run_id: runId,
        p_claimed_by: claimedBy,
        p_limit: limit,
        p_lease_ms: leaseMs,
        p_max_attempts: maxAttempts,
      });
      if (error || !data) fail(`Cannot claim items of run ${runId}`, error);
      return data as ClaimedItem[];
    },

    async completeItems(runId, outcomes: ItemOutcome[], bookkeeping) {
      const { data, error } = await db.rpc("job_complete_items", {
        p_run_id: runId,
        p_outcomes: outcomes,
        ...(bookkeeping && bookkeeping.length > 0 ? { p_bookkeeping: bookkeeping } : {}),
      });
      if (error || !data) fail(`Cannot record outcomes of run ${runId}`, error);
      return data as { completed: number; finalised: boolean; run: JobRunRow };
    },

    async failRun(runId, message): Promise<JobRunRow> {
      const { data, error } = await db.rpc("job_fail_run", { p_run_id: runId, p_error: message });
      if (error || !data) fail(`Cannot finalise run ${runId}`, error);
      return data as JobRunRow;
    },

    async getRun(runId): Promise<JobRunRow | null> {
      const { data, error } = await db.from("job_runs").select("*").eq("id", runId).maybeSingle();
      if (error) fail(`Cannot read run ${runId}`, error);
      return data as JobRunRow | null;
    },

    async listRuns(jobName, limit): Promise<JobRunRow[]> {
      const { data, error } = await db.from("job_runs").select("*").eq("job_name", jobName)
        .order("started_at", { ascending: false }).limit(limit);
      if (error || !data) fail("Cannot list runs", error);
      return data as JobRunRow[];
    },

    async getRunSources(runId): Promise<RunSourceOutcome[]> {
      const out: RunSourceOutcome[] = [];
      for (let from = 0;; from += PAGE) {
        const { data, error } = await db.from("job_run_sources")
          .select(
            "source_id, status, changed, baseline, policy_change_id, error_class, error_message, duration_ms, sources(name)",
          )
          .eq("run_id", runId).order("source_id").range(from, from + PAGE - 1);
        if (error || !data) fail(`Cannot read the sources of run ${runId}`, error);
        for (const row of data as unknown as Array<Record<string, unknown>>) {
          const src = row.sources as { name: string } | null;
          const { sources: _s, ...rest } = row;
          out.push({ ...(rest as unknown as RunSourceOutcome), source_name: src?.name ?? null });
        }
        if (data.length < PAGE) return out;
      }
    },

    async getPolicyChange(id): Promise<PolicyChange | null> {
      const { data, error } = await db.from("policy_changes")
        .select("id, source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary")
        .eq("id", id).maybeSingle();
      if (error) fail(`Cannot read policy change ${id}`, error);
      return data as PolicyChange | null;
    },

    async listMissedRuns(jobName, since): Promise<JobRunRow[]> {
      const { data, error } = await db.from("job_runs").select("*").eq("job_name", jobName)
        .eq("options->>watchdog", "missed_run").gte("started_at", since.toISOString())
        .order("started_at").limit(20);
      if (error || !data) fail("Cannot read missed runs", error);
      return data as JobRunRow[];
    },
  };
}
