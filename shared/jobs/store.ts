/**
 * What the daily-fetch job needs from the database. `shared/store/job_store.ts` implements
 * it on supabase-js over the RPCs of the jobs migration, the only implementation of the
 * run's rules (claims, leases, fencing, finalising): tests run it on the local stack.
 * @module
 */
import type { DueCandidate } from "./due_sources.ts";
import type { RunCounts, RunSourceOutcome, RunStatus, RunTrigger } from "./types.ts";
import type { PolicyChange, Source } from "../types.ts";
import type { ContentChoice, SourceBookkeeping } from "../pipeline/types.ts";

/** A row of `public.job_runs`. */
export interface JobRunRow extends RunCounts {
  id: string;
  job_name: string;
  trigger: RunTrigger;
  status: RunStatus;
  started_at: string;
  completed_at: string | null;
  deadline_at: string;
  options: Record<string, unknown>;
  total_items: number;
  errors: string[];
}

/** Result of {@link JobStore.startRun}. */
export type StartRunResult =
  | { conflict: false; run: JobRunRow }
  | { conflict: true; runningRunId: string | null };

/** A work item claimed by one invocation, with what the pipeline needs. */
export interface ClaimedItem {
  source: Source;
  /** The claim's number: the fencing token of its outcome. */
  attempt: number;
  /** Idempotency key of this item's fetch. */
  fetch_id: string;
  /** End of this claim's lease (null for a `poisoned` item: it is not claimed). */
  lease_until: string | null;
  /** Set when an earlier (dead) claim of this item already recorded its change. */
  prior_policy_change_id: string | null;
  prior_snapshot_id: string | null;
  /**
   * True for an item the database just failed as poison (every attempt's invocation died):
   * not to process; only its source-failing alert is left to send.
   */
  poisoned?: boolean;
  /** Wait this long before fetching: the politeness delay of its host, across invocations. */
  start_in_ms?: number;
  /** Host (private.url_host) and request slot the claim put the item in: see {@link HostLimits.slotDepth}. */
  host?: string;
  slot?: number | null;
  /**
   * Set by {@link JobStore.completeAndClaim}: every request slot of the item's host is in
   * use, so whoever waits for that host waits for this item's completion; the work loop
   * sends it at once instead of gathering it with others.
   */
  report_at_once?: boolean;
}

/** The claim half of {@link JobStore.completeAndClaim}. */
export interface ClaimRequest {
  claimedBy: string;
  /**
   * Items to claim at most; 0: none, but count the items left; null: neither (only
   * complete).
   */
  limit: number | null;
  leaseMs: number;
  maxAttempts: number;
  hosts?: HostLimits;
  /** Count the items left after the claim even when it claimed some. */
  count?: boolean;
}

/** Answer of {@link JobStore.completeAndClaim}. */
export interface CompleteAndClaimResult {
  /** Outcomes recorded (those of lost claims are not). */
  completed: number;
  /** True when this call finalised the run (its last item). */
  finalised: boolean;
  /** The run after the outcomes were recorded; null when there were none. */
  run: JobRunRow | null;
  /** The claimed items (poisoned ones marked, as {@link JobStore.claimItems} returns them). */
  items: ClaimedItem[];
  /**
   * When a count was asked (`count`), or a claim (limit not null) found nothing: the run's
   * unfinished items after the claim, and how many of them a live lease holds; else null.
   */
  left: { open: number; held: number } | null;
}

/** Per-host limits of a claim, applied across all invocations of the run. */
export interface HostLimits {
  /** Items in flight per host at most (FETCH_PER_HOST_CONCURRENCY). */
  perHost: number;
  /** Time between two starts on one host (FETCH_POLITENESS_DELAY_MS). */
  delayMs: number;
  /**
   * Items one claimer may hold per request slot of a host (JOB_HOST_SLOT_DEPTH; default 1
   * here, 2 in the config) on a host holding at least 1/16 of the run's items (one on the
   * others): a host has at most `perHost` slots in use across all invocations, and the
   * items of one slot are fetched one after the other, so a slot's next item starts as soon
   * as the previous one ends (after {@link JobStore.slotStart}), without a completion and a
   * claim in between.
   */
  slotDepth?: number;
}

/** Outcome of one item, written by {@link JobStore.completeItems}. */
export interface ItemOutcome {
  source_id: string;
  attempt: number;
  status: "succeeded" | "failed";
  changed: boolean;
  baseline: boolean;
  policy_change_id: string | null;
  error_class: string | null;
  error_message: string | null;
  duration_ms: number;
  alerts_sent: number;
  /** Line for `job_runs.errors`, e.g. `source <id> (<name>): timeout: …`. */
  error_text: string | null;
  /** What was monitored (the pipeline's content choice), when the body was read. */
  content?: ContentChoice | null;
}

/** Persistence of the job. */
export interface JobStore {
  startRun(
    jobName: string,
    trigger: RunTrigger,
    options: Record<string, unknown>,
    deadlineMs: number,
  ): Promise<StartRunResult>;
  /** Active sources (only these ids when given). */
  listActiveSources(sourceIds?: string[]): Promise<DueCandidate[]>;
  /** Frequency name → interval in ms. */
  listFrequencies(): Promise<Map<string, number>>;
  addItems(runId: string, due: string[], skipped: string[]): Promise<JobRunRow>;
  /**
   * Claims items. First fails (class `poison`, with the source's bookkeeping) the items
   * whose `maxAttempts`-th claim died too, and returns them marked `poisoned`.
   */
  claimItems(
    runId: string,
    claimedBy: string,
    limit: number,
    leaseMs: number,
    maxAttempts: number,
    hosts?: HostLimits,
  ): Promise<ClaimedItem[]>;
  /**
   * Heartbeat: extends to at least now + `leaseMs` the leases of the items `claimedBy` still
   * holds on the run (not those another invocation claimed again); returns how many.
   */
  renewLeases(runId: string, claimedBy: string, leaseMs: number): Promise<number>;
  /** A 429/503 with Retry-After from `url`'s host: slow that host for the rest of the run. */
  slowHost?(runId: string, url: string, retryAfterMs: number): Promise<void>;
  /**
   * A request slot's queued item of `host` is about to start: ms to wait first (0 unless
   * the host was slowed by a 429/503 with Retry-After; then its start is scheduled).
   */
  slotStart?(runId: string, host: string): Promise<number>;
  /**
   * The claimed item (`attempt`) made its last request to its host and its claimer queues
   * nothing more in its request slot: free the slot now, before the item's completion.
   */
  slotRelease?(runId: string, sourceId: string, attempt: number): Promise<void>;
  /**
   * Records outcomes (moving the run's counters, finalising it when nothing is left) and,
   * in the same write, the sources' bookkeeping patches when given.
   */
  completeItems(
    runId: string,
    outcomes: ItemOutcome[],
    bookkeeping?: SourceBookkeeping[],
  ): Promise<{ completed: number; finalised: boolean; run: JobRunRow }>;
  /**
   * One round trip of the work loop, in one transaction: records `outcomes` with their
   * `bookkeeping` (as {@link completeItems}, nothing written when there are none), then
   * claims as {@link claimItems} does.
   */
  completeAndClaim(
    runId: string,
    outcomes: ItemOutcome[],
    bookkeeping: SourceBookkeeping[],
    claim: ClaimRequest,
  ): Promise<CompleteAndClaimResult>;
  failRun(runId: string, message: string): Promise<JobRunRow>;
  getRun(runId: string): Promise<JobRunRow | null>;
  listRuns(jobName: string, limit: number): Promise<JobRunRow[]>;
  getRunSources(runId: string): Promise<RunSourceOutcome[]>;
  getPolicyChange(id: string): Promise<PolicyChange | null>;
  /** Items of a run not finished yet (`open`), and how many of them a live lease holds. */
  countOpenItems(runId: string, now: Date): Promise<{ open: number; held: number }>;
  /** Rows the missed-run watchdog wrote since `since`. */
  listMissedRuns(jobName: string, since: Date): Promise<JobRunRow[]>;
}
