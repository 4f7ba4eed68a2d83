/**
 * What the daily-fetch job needs, as interfaces: entry points (functions/api) wire the
 * real ones; tests wire the real store on the local stack and fakes at the true seams.
 * @module
 */
import type { AlertOutcome, OperationalEvent, QueuedAlert } from "../alerts/types.ts";
import type { Config } from "../config.ts";
import type { PipelineOptions } from "../pipeline/pipeline.ts";
import type { PipelineResult, SourceBookkeeping } from "../pipeline/types.ts";
import type { Clock, Logger, PolicyChange, Source } from "../types.ts";
import type { BudgetConfig } from "./budget.ts";
import type { JobStore } from "./store.ts";

/** Name of the job in `job_runs.job_name` and in pg_cron. */
export const JOB_NAME = "daily-fetch";

/** Tuning of the job (its slice of shared/config.ts). */
export type JobConfig =
  & BudgetConfig
  & Pick<
    Config,
    | "JOB_DUE_TOLERANCE_MS"
    | "JOB_RUN_DEADLINE_MS"
    | "JOB_LEASE_MS"
    | "JOB_LEASE_RENEW_MS"
    | "JOB_ITEM_MAX_ATTEMPTS"
    | "JOB_BATCH_SIZE"
    | "FETCH_GLOBAL_CONCURRENCY"
    | "FETCH_PER_HOST_CONCURRENCY"
    | "FETCH_POLITENESS_DELAY_MS"
    | "ALERT_FAILING_THRESHOLD"
  >
  & Partial<Pick<Config, "JOB_HOST_SLOT_DEPTH" | "JOB_COMPLETE_WITHIN_MS">>;

/** The alert engine as the job sees it. */
export interface JobAlerts {
  /**
   * Sends a change's alerts: `queued`, when the store queued them with the change (see
   * RecordSnapshotResult.alerts), else queues them first.
   */
  deliver(change: PolicyChange, queued?: QueuedAlert[] | null): Promise<AlertOutcome[]>;
  retryPending(): Promise<AlertOutcome[]>;
  sourceHealth(source: Source, succeeded: boolean): Promise<AlertOutcome[]>;
  operational(event: OperationalEvent): Promise<AlertOutcome[]>;
}

/** Dependencies of the job. */
export interface JobDeps {
  store: JobStore;
  /**
   * Runs the fetch pipeline on one source without writing its bookkeeping; its requests to
   * the source's host run in `requestSlot` (PipelineOptions.requestSlot) when given.
   */
  pipeline(
    source: Source,
    options: { fetchId: string; requestSlot?: PipelineOptions["requestSlot"] },
  ): Promise<PipelineResult>;
  /** Writes the bookkeeping of many sources at once. */
  writeBookkeeping(patches: SourceBookkeeping[]): Promise<void>;
  alerts: JobAlerts;
  clock: Clock;
  logger: Logger;
  config: JobConfig;
  /** `job_runs.job_name` of the runs (one running run per name); default {@link JOB_NAME}. */
  jobName?: string;
  /** Identifies this invocation in claims. */
  invocationId?: string;
  /**
   * Called when this invocation's budget ended with items left: start another invocation
   * on the run (the edge function re-invokes itself).
   */
  handover?(runId: string): Promise<void>;
  /** CPU time this process has used so far, in ms (the CPU budget is measured with it). */
  cpuMs?(): number;
  /**
   * Registers the listener of the pipeline's 429/503 answers with a Retry-After (see
   * shared/jobs/host_throttle.ts): the job tells the database at once, which slows that
   * host for every invocation of the run.
   */
  onThrottle?(listener: (throttle: HostThrottle) => void): void;
}

/** A host asked us to slow down: the URL answered 429/503 with this Retry-After. */
export interface HostThrottle {
  url: string;
  retryAfterMs: number;
}
