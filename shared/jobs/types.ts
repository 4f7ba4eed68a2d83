/**
 * Shapes of the daily-fetch job shared by the job, its store and the HTTP API.
 * @module
 */

/** Status of a run. */
export type RunStatus = "running" | "succeeded" | "partial" | "failed";

/** Who started a run. */
export type RunTrigger = "cron" | "manual";

/** The counters a run moves as its sources finish (`job_runs` columns, JobResult fields). */
export interface RunCounts {
  sources_processed: number;
  sources_succeeded: number;
  sources_failed: number;
  sources_skipped: number;
  changes_detected: number;
  alerts_sent: number;
}

/** Every counter of a run that has done nothing yet. */
export const NO_COUNTS: Readonly<RunCounts> = {
  sources_processed: 0,
  sources_succeeded: 0,
  sources_failed: 0,
  sources_skipped: 0,
  changes_detected: 0,
  alerts_sent: 0,
};

/** What a run did; the API's response body (contract). */
export interface JobResult extends RunCounts {
  run_id: string;
  status: RunStatus;
  trigger: RunTrigger;
  started_at: string;
  completed_at: string | null;
  /** e.g. `source <id> (<name>): timeout: no response after 30000 ms` */
  errors: string[];
}

/** Per-source outcome of a run (`job_run_sources`). */
export interface RunSourceOutcome {
  source_id: string;
  source_name: string | null;
  status: "pending" | "claimed" | "succeeded" | "failed" | "skipped";
  changed: boolean;
  baseline: boolean;
  policy_change_id: string | null;
  error_class: string | null;
  error_message: string | null;
  duration_ms: number | null;
  /** What was monitored: how the content was found and its length (null when not read). */
  content?: { found_by: string; chars: number } | null;
}

/** A run with its progress and per-source outcomes (`GET /api/jobs/runs/{id}`). */
export interface RunDetails extends JobResult {
  progress: { done: number; total: number };
  sources: RunSourceOutcome[];
}

/** Options of a run, as the API accepts them. */
export interface RunOptions {
  trigger: RunTrigger;
  /** Treat every active source as due. */
  force?: boolean;
  /** Only these sources (still only active ones). */
  source_ids?: string[];
}

/** Thrown by {@link JobService.startRun} when a run of the job is already in progress. */
export class RunInProgressError extends Error {
  constructor(readonly runningRunId: string | null) {
    super(
      `Cannot start daily-fetch: run ${runningRunId ?? "(unknown)"} is in progress`,
    );
    this.name = "RunInProgressError";
  }
}

/** Options of {@link JobService.processRun}. */
export interface ProcessOptions {
  fanOut?: boolean;
  wait?: boolean;
  /**
   * Another invocation of the run already did its once-per-run work (retrying due alerts,
   * announcing missed nights): a handover or a resume.
   */
  continuation?: boolean;
}

/** What one pass over the alert outbox did ({@link JobService.deliverAlerts}). */
export interface AlertDeliveryResult {
  /** Alerts attempted (claimed and sent, or given up on). */
  attempted: number;
  sent: number;
  /** Failed again: retried after their backoff. */
  failed: number;
  /** Given up (attempts used up). */
  dead: number;
}

/** What the HTTP API needs from the job. */
export interface JobService {
  /** Creates the run row and its work items; throws {@link RunInProgressError}. */
  startRun(options: RunOptions): Promise<JobResult>;
  /**
   * Works on a started run until it is finished or this invocation's budget ends (then
   * another invocation takes over). `fanOut` first starts the other parallel invocations;
   * `wait` waits (bounded) for the other invocations to finish the run.
   */
  processRun(runId: string, options?: ProcessOptions): Promise<JobResult>;
  /** A run with progress and per-source outcomes (`sources: false`: without), or null. */
  getRun(runId: string, options?: { sources?: boolean }): Promise<RunDetails | null>;
  /** Most recent runs first. */
  listRuns(limit: number): Promise<JobResult[]>;
  /**
   * Delivers the alerts of the outbox that are due (pending, or failed past their
   * backoff), on their own clock: the `alerts-deliver` cron job calls it every 5 minutes.
   * Throws on a database failure.
   */
  deliverAlerts(): Promise<AlertDeliveryResult>;
}
