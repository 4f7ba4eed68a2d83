/**
 * An in-memory {@link JobStore} for the job's unit tests, faithful to the RPCs of
 * `supabase/migrations/20261128000400_jobs.sql`: one running run per job (a conflict
 * otherwise), stale runs expired past their deadline, items claimed when pending or when
 * their lease expired (attempts bumped), outcomes applied only when their attempt is the
 * current claim, and the run finalised exactly once when no item is pending or claimed.
 * Time comes from a clock the test moves; failures are injected per method.
 * @module
 */
import type { DueCandidate } from "../../../shared/jobs/due_sources.ts";
import type {
  ClaimedItem,
  ItemOutcome,
  JobRunRow,
  JobStore,
  StartRunResult,
} from "../../../shared/jobs/store.ts";
import type { RunSourceOutcome, RunTrigger } from "../../../shared/jobs/types.ts";
import type { SourceBookkeeping } from "../../../shared/pipeline/types.ts";
import type { Clock, PolicyChange, Source } from "../../../shared/types.ts";
import { NEW_SOURCE_DEFAULTS } from "../../fixtures/contract.ts";

/** A row of the in-memory `job_run_sources` table. */
export interface MemoryItem {
  run_id: string;
  source_id: string;
  status: RunSourceOutcome["status"];
  changed: boolean;
  baseline: boolean;
  policy_change_id: string | null;
  error_class: string | null;
  error_message: string | null;
  duration_ms: number | null;
  attempts: number;
  /** Epoch ms; null when not claimed. */
  lease_until: number | null;
  claimed_by: string | null;
  finished_at: string | null;
  fetch_id: string;
}

/** A row of the in-memory `snapshots` table (the columns the job's claim reads). */
export interface MemorySnapshot {
  id: string;
  source_id: string;
  fetch_id: string;
}

/** The interval of each frequency seeded by the core schema. */
export const DEFAULT_FREQUENCIES: ReadonlyMap<string, number> = new Map([
  ["hourly", 3_600_000],
  ["daily", 86_400_000],
  ["weekly", 7 * 86_400_000],
]);

/** The store methods a test can make fail. */
export type JobStoreMethod = keyof JobStore;

/** A source row with the schema's defaults (active, daily, never checked). */
export function makeSource(overrides: Partial<Source> & { id: string }): Source {
  return {
    name: `Source ${overrides.id}`,
    url: `https://rules.example/${overrides.id}`,
    ...NEW_SOURCE_DEFAULTS,
    ...overrides,
  };
}

/**
 * The in-memory job store.
 * @example
 * const clock = manualClock();
 * const store = new MemoryJobStore(clock, [makeSource({ id: "src-a" })]);
 * store.failNext("completeItems", new Error("Cannot record outcomes: connection reset"));
 */
export class MemoryJobStore implements JobStore {
  /** `public.sources`, by id. */
  readonly sources = new Map<string, Source>();
  /** `public.check_frequencies`: name → interval in ms. */
  readonly frequencies: Map<string, number>;
  /** `public.job_runs`, in insertion order. */
  readonly runs: Array<JobRunRow & { invocations: number }> = [];
  /** `public.job_run_sources`. */
  readonly items: MemoryItem[] = [];
  /** `public.snapshots`. */
  readonly snapshots: MemorySnapshot[] = [];
  /** `public.policy_changes`, by id. */
  readonly policyChanges = new Map<string, PolicyChange>();
  /** Every store method called, in order (for ordering assertions). */
  readonly calls: JobStoreMethod[] = [];
  readonly #faults = new Map<JobStoreMethod, { error: Error; remaining: number }>();

  constructor(
    readonly clock: Clock,
    sources: Source[] = [],
    frequencies: ReadonlyMap<string, number> = DEFAULT_FREQUENCIES,
  ) {
    for (const s of sources) this.sources.set(s.id, structuredClone(s));
    this.frequencies = new Map(frequencies);
  }

  // --- fault injection -----------------------------------------------------

  /** The next `times` calls of `method` reject with `error`. */
  failNext(method: JobStoreMethod, error: Error, times = 1): void {
    this.#faults.set(method, { error, remaining: times });
  }

  /** Every call of `method` rejects with `error` until {@link heal}. */
  failAlways(method: JobStoreMethod, error: Error): void {
    this.#faults.set(method, { error, remaining: Number.POSITIVE_INFINITY });
  }

  /** Removes the injected failure of `method`. */
  heal(method: JobStoreMethod): void {
    this.#faults.delete(method);
  }

  // --- helpers standing in for the pipeline's and the watchdog's writes ------

  /**
   * What the pipeline's `recordSnapshot` writes, idempotent on `fetchId`: a snapshot and,
   * when the source already had one, a policy change. Returns the change, or null for a
   * baseline.
   */
  recordSnapshot(sourceId: string, fetchId: string): PolicyChange | null {
    const existing = this.snapshots.find((s) => s.fetch_id === fetchId);
    if (existing) return this.#changeOfSnapshot(existing.id);
    const source = this.#source(sourceId);
    const snapshot = { id: crypto.randomUUID(), source_id: sourceId, fetch_id: fetchId };
    this.snapshots.push(snapshot);
    const previous = source.last_snapshot_id;
    source.last_snapshot_id = snapshot.id;
    if (previous === null) return null;
    const change: PolicyChange = {
      id: crypto.randomUUID(),
      source_id: sourceId,
      snapshot_id: snapshot.id,
      previous_snapshot_id: previous,
      detected_at: this.clock().toISOString(),
      diff: "@@ -1 +1 @@\n-Minimum salary: £38,700\n+Minimum salary: £41,700\n",
      summary: {
        lines_added: 1,
        lines_removed: 1,
        first_changed_lines: ["Minimum salary: £41,700"],
      },
    };
    this.policyChanges.set(change.id, change);
    return structuredClone(change);
  }

  /** What `updateSources` writes: applies bookkeeping patches to the source rows. */
  /** Called with the patches `completeItems` wrote in the same call as its outcomes. */
  onBookkeeping?: (patches: SourceBookkeeping[]) => void;

  applyBookkeeping(patches: SourceBookkeeping[]): void {
    for (const { id, ...patch } of patches) {
      Object.assign(this.#source(id), patch);
    }
  }

  /** Inserts a run row as another writer (e.g. the missed-run watchdog) would. */
  insertRun(overrides: Partial<JobRunRow> = {}): JobRunRow {
    const now = this.clock();
    const run = {
      ...this.#newRun("daily-fetch", "cron", {}, now, 7_200_000),
      ...structuredClone(overrides),
      invocations: 0,
    };
    this.runs.push(run);
    return this.#runCopy(run);
  }

  /** The work items of a run, ordered by source id. */
  itemsOf(runId: string): MemoryItem[] {
    return this.items.filter((i) => i.run_id === runId)
      .sort((a, b) => a.source_id.localeCompare(b.source_id))
      .map((i) => ({ ...i }));
  }

  /** `job_runs.invocations` of a run. */
  invocationsOf(runId: string): number {
    return this.#run(runId).invocations;
  }

  // --- JobStore ------------------------------------------------------------

  /** `job_start_run`: expires stale runs, then starts one unless one is running. */
  async startRun(
    jobName: string,
    trigger: RunTrigger,
    options: Record<string, unknown>,
    deadlineMs: number,
  ): Promise<StartRunResult> {
    await this.#enter("startRun");
    this.#expireStaleRuns(jobName);
    const running = this.runs.find((r) => r.job_name === jobName && r.status === "running");
    if (running) return { conflict: true, runningRunId: running.id };
    const run = {
      ...this.#newRun(jobName, trigger, options, this.clock(), deadlineMs),
      invocations: 0,
    };
    this.runs.push(run);
    return { conflict: false, run: this.#runCopy(run) };
  }

  /** Active sources ordered by id, only `sourceIds` when given. */
  async listActiveSources(sourceIds?: string[]): Promise<DueCandidate[]> {
    await this.#enter("listActiveSources");
    return [...this.sources.values()]
      .filter((s) => s.active && (sourceIds === undefined || sourceIds.includes(s.id)))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((s) => ({
        id: s.id,
        name: s.name,
        check_frequency: s.check_frequency,
        last_checked_at: s.last_checked_at,
      }));
  }

  /** `check_frequencies` as name → ms. */
  async listFrequencies(): Promise<Map<string, number>> {
    await this.#enter("listFrequencies");
    return new Map(this.frequencies);
  }

  /** `job_add_items`: due items pending, the others skipped; sets the run's totals. */
  async addItems(runId: string, due: string[], skipped: string[]): Promise<JobRunRow> {
    await this.#enter("addItems");
    const run = this.#run(runId);
    const now = this.clock().toISOString();
    const add = (sourceId: string, status: "pending" | "skipped") => {
      this.#source(sourceId); // foreign key
      if (this.items.some((i) => i.run_id === runId && i.source_id === sourceId)) return;
      this.items.push({
        run_id: runId,
        source_id: sourceId,
        status,
        changed: false,
        baseline: false,
        policy_change_id: null,
        error_class: null,
        error_message: null,
        duration_ms: null,
        attempts: 0,
        lease_until: null,
        claimed_by: null,
        finished_at: status === "skipped" ? now : null,
        fetch_id: crypto.randomUUID(),
      });
    };
    for (const id of due) add(id, "pending");
    for (const id of skipped) add(id, "skipped");
    const items = this.items.filter((i) => i.run_id === runId);
    run.total_items = items.length;
    run.sources_skipped = items.filter((i) => i.status === "skipped").length;
    return this.#runCopy(run);
  }

  /** `job_claim_items`: pending or lease-expired items of a running run, by source id. */
  async claimItems(
    runId: string,
    claimedBy: string,
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedItem[]> {
    await this.#enter("claimItems");
    const run = this.runs.find((r) => r.id === runId);
    const now = this.clock().getTime();
    if (!run || run.status !== "running") return [];
    if (!this.items.some((i) => i.run_id === runId && i.claimed_by === claimedBy)) {
      run.invocations += 1;
    }
    const picked = this.items
      .filter((i) =>
        i.run_id === runId &&
        (i.status === "pending" ||
          (i.status === "claimed" && i.lease_until !== null && i.lease_until < now))
      )
      .sort((a, b) => a.source_id.localeCompare(b.source_id))
      .slice(0, Math.max(limit, 0));
    return picked.map((item) => {
      item.status = "claimed";
      item.attempts += 1;
      item.claimed_by = claimedBy;
      item.lease_until = now + leaseMs;
      const snapshot = this.snapshots.find((s) => s.fetch_id === item.fetch_id) ?? null;
      const change = snapshot ? this.#changeOfSnapshot(snapshot.id) : null;
      return {
        source: structuredClone(this.#source(item.source_id)),
        attempt: item.attempts,
        fetch_id: item.fetch_id,
        lease_until: new Date(item.lease_until).toISOString(),
        prior_policy_change_id: change?.id ?? null,
        prior_snapshot_id: snapshot?.id ?? null,
      };
    });
  }

  /**
   * `job_complete_items`: applies outcomes whose claim is still current, moves the
   * counters of a running run, and finalises it once no item is pending or claimed.
   */
  async completeItems(
    runId: string,
    outcomes: ItemOutcome[],
    bookkeeping?: SourceBookkeeping[],
  ): Promise<{ completed: number; finalised: boolean; run: JobRunRow }> {
    await this.#enter("completeItems");
    if (bookkeeping && bookkeeping.length > 0) {
      this.applyBookkeeping(bookkeeping);
      this.onBookkeeping?.(bookkeeping);
    }
    const run = this.#run(runId);
    const now = this.clock().toISOString();
    const applied: ItemOutcome[] = [];
    for (const o of outcomes) {
      const item = this.items.find((i) =>
        i.run_id === runId && i.source_id === o.source_id && i.status === "claimed" &&
        i.attempts === o.attempt
      );
      if (!item || (o.status !== "succeeded" && o.status !== "failed")) continue;
      Object.assign(item, {
        status: o.status,
        changed: o.changed,
        baseline: o.baseline,
        policy_change_id: o.policy_change_id,
        error_class: o.error_class,
        error_message: o.error_message,
        duration_ms: o.duration_ms,
        lease_until: null,
        finished_at: now,
      });
      applied.push(o);
    }
    let completed = 0;
    if (run.status === "running") {
      completed = applied.length;
      run.sources_processed += applied.length;
      run.sources_succeeded += applied.filter((o) => o.status === "succeeded").length;
      run.sources_failed += applied.filter((o) => o.status === "failed").length;
      run.changes_detected += applied.filter((o) => o.changed).length;
      run.alerts_sent += applied.reduce((n, o) => n + o.alerts_sent, 0);
      run.errors = [
        ...run.errors,
        ...applied.flatMap((o) => (o.error_text === null ? [] : [o.error_text])),
      ];
    }
    let finalised = false;
    const open = this.items.some((i) =>
      i.run_id === runId && (i.status === "pending" || i.status === "claimed")
    );
    if (!open && run.status === "running") {
      run.status = run.sources_failed > 0 && run.sources_succeeded === 0
        ? "failed"
        : run.sources_failed > 0
        ? "partial"
        : "succeeded";
      run.completed_at = now;
      finalised = true;
    }
    return { completed, finalised, run: this.#runCopy(run) };
  }

  /** `job_fail_run`: fails the open items and finalises a running run as failed. */
  async failRun(runId: string, message: string): Promise<JobRunRow> {
    await this.#enter("failRun");
    const run = this.#run(runId);
    const now = this.clock().toISOString();
    this.#failOpenItems(runId, message, now);
    if (run.status === "running") {
      run.status = "failed";
      run.completed_at = now;
      run.errors = [...run.errors, message];
    }
    return this.#runCopy(run);
  }

  /** A run, or null. */
  async getRun(runId: string): Promise<JobRunRow | null> {
    await this.#enter("getRun");
    const run = this.runs.find((r) => r.id === runId);
    return run ? this.#runCopy(run) : null;
  }

  /** Runs of a job, newest first. */
  async listRuns(jobName: string, limit: number): Promise<JobRunRow[]> {
    await this.#enter("listRuns");
    return this.runs.filter((r) => r.job_name === jobName)
      .sort((a, b) => b.started_at.localeCompare(a.started_at))
      .slice(0, limit)
      .map((r) => this.#runCopy(r));
  }

  /** Per-source outcomes of a run, by source id. */
  async getRunSources(runId: string): Promise<RunSourceOutcome[]> {
    await this.#enter("getRunSources");
    return this.itemsOf(runId).map((i) => ({
      source_id: i.source_id,
      source_name: this.sources.get(i.source_id)?.name ?? null,
      status: i.status,
      changed: i.changed,
      baseline: i.baseline,
      policy_change_id: i.policy_change_id,
      error_class: i.error_class,
      error_message: i.error_message,
      duration_ms: i.duration_ms,
    }));
  }

  /** A policy change, or null. */
  async countOpenItems(runId: string, now: Date): Promise<{ open: number; held: number }> {
    await this.#enter("countOpenItems");
    const open = this.itemsOf(runId).filter((i) =>
      i.status === "pending" || i.status === "claimed"
    );
    const held = open.filter((i) => i.status === "claimed" && (i.lease_until ?? 0) > now.getTime());
    return { open: open.length, held: held.length };
  }

  async getPolicyChange(id: string): Promise<PolicyChange | null> {
    await this.#enter("getPolicyChange");
    const change = this.policyChanges.get(id);
    return change ? structuredClone(change) : null;
  }

  /** Rows the missed-run watchdog wrote (`options.watchdog = 'missed_run'`) lately. */
  async listMissedRuns(jobName: string, sinceDate: Date): Promise<JobRunRow[]> {
    await this.#enter("listMissedRuns");
    const since = sinceDate.getTime();
    return this.runs
      .filter((r) =>
        r.job_name === jobName && r.options.watchdog === "missed_run" &&
        Date.parse(r.started_at) >= since
      )
      .sort((a, b) => a.started_at.localeCompare(b.started_at))
      .slice(0, 20)
      .map((r) => this.#runCopy(r));
  }

  // --- internals -----------------------------------------------------------

  async #enter(method: JobStoreMethod): Promise<void> {
    this.calls.push(method);
    // A real round trip never answers synchronously; neither does this store.
    await Promise.resolve();
    const fault = this.#faults.get(method);
    if (fault && fault.remaining > 0) {
      fault.remaining -= 1;
      if (fault.remaining === 0) this.#faults.delete(method);
      throw fault.error;
    }
  }

  #newRun(
    jobName: string,
    trigger: RunTrigger,
    options: Record<string, unknown>,
    now: Date,
    deadlineMs: number,
  ): JobRunRow {
    return {
      id: crypto.randomUUID(),
      job_name: jobName,
      trigger,
      status: "running",
      started_at: now.toISOString(),
      completed_at: null,
      deadline_at: new Date(now.getTime() + deadlineMs).toISOString(),
      options: structuredClone(options),
      total_items: 0,
      sources_processed: 0,
      sources_succeeded: 0,
      sources_failed: 0,
      sources_skipped: 0,
      changes_detected: 0,
      alerts_sent: 0,
      errors: [],
    };
  }

  /** `job_expire_stale_runs`. */
  #expireStaleRuns(jobName: string): void {
    const now = this.clock();
    for (const run of this.runs) {
      if (
        run.job_name !== jobName || run.status !== "running" ||
        Date.parse(run.deadline_at) >= now.getTime()
      ) continue;
      const deadline = new Date(run.deadline_at).toISOString().replace(/\.\d{3}Z$/, "Z");
      run.status = "failed";
      run.completed_at = now.toISOString();
      run.errors = [
        ...run.errors,
        `run did not finish before its deadline ${deadline}: finalised failed by the watchdog (${run.sources_processed} of ${
          run.total_items - run.sources_skipped
        } sources done)`,
      ];
      this.#failOpenItems(
        run.id,
        "run expired before this source was processed",
        now.toISOString(),
      );
    }
  }

  #failOpenItems(runId: string, message: string, now: string): void {
    for (const i of this.items) {
      if (i.run_id !== runId || (i.status !== "pending" && i.status !== "claimed")) continue;
      Object.assign(i, {
        status: "failed",
        error_class: "internal",
        error_message: message,
        lease_until: null,
        finished_at: now,
      });
    }
  }

  #changeOfSnapshot(snapshotId: string): PolicyChange | null {
    for (const c of this.policyChanges.values()) {
      if (c.snapshot_id === snapshotId) return structuredClone(c);
    }
    return null;
  }

  #run(runId: string): JobRunRow & { invocations: number } {
    const run = this.runs.find((r) => r.id === runId);
    if (!run) throw new Error(`Cannot find run ${runId}: no such row`);
    return run;
  }

  #source(sourceId: string): Source {
    const source = this.sources.get(sourceId);
    if (!source) throw new Error(`Cannot find source ${sourceId}: no such row`);
    return source;
  }

  #runCopy(run: JobRunRow & { invocations?: number }): JobRunRow {
    const { invocations: _invocations, ...row } = structuredClone(run);
    return row;
  }
}
