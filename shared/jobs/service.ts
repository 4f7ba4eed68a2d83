/**
 * The job as the HTTP API sees it ({@link JobService}), wired to the real pipeline, alert
 * engine and stores on one service-role supabase-js client.
 * @module
 */
import { bindAlertEngine } from "../alerts/engine.ts";
import type { Config } from "../config.ts";
import { HostLimiter } from "../pipeline/host_limiter.ts";
import { runFetchPipeline } from "../pipeline/pipeline.ts";
import { createSupabaseAlertStore } from "../store/alert_store.ts";
import type { Db } from "../store/client.ts";
import { supabaseJobStore } from "../store/job_store.ts";
import { SupabasePipelineStore } from "../store/pipeline_store.ts";
import type { Clock, FetchFn, Logger } from "../types.ts";
import {
  JOB_NAME,
  type JobDeps,
  processDailyFetchRun,
  startDailyFetchRun,
  toJobResult,
} from "./run_daily_fetch_job.ts";
import type { JobResult, JobService, RunDetails } from "./types.ts";

/** What {@link createJobService} needs. */
export interface JobServiceDeps {
  db: Db;
  fetch: FetchFn;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Starts another invocation on a run whose items are not all done (scale: handover). */
  handover?: (runId: string) => Promise<void>;
}

/** Builds the job's dependencies for one invocation. */
export function createJobDeps(deps: JobServiceDeps): JobDeps {
  const { db, fetch, clock, logger, config } = deps;
  const pipelineStore = new SupabasePipelineStore(db);
  // One host limiter per invocation: per-host concurrency and politeness across sources.
  const limiter = new HostLimiter({
    perHost: config.FETCH_PER_HOST_CONCURRENCY,
    politenessDelayMs: config.FETCH_POLITENESS_DELAY_MS,
    clock,
  });
  const alerts = bindAlertEngine({
    fetch,
    clock,
    logger,
    store: createSupabaseAlertStore(db),
    config,
  });
  return {
    store: supabaseJobStore(db),
    pipeline: (source, options) =>
      runFetchPipeline(source, { fetch, clock, logger, store: pipelineStore, config, limiter }, {
        fetchId: options.fetchId,
        writeBookkeeping: false,
      }),
    writeBookkeeping: (patches) => pipelineStore.updateSources(patches),
    alerts,
    clock,
    logger,
    config,
    handover: deps.handover,
  };
}

/** The real {@link JobService}. */
export function createJobService(deps: JobServiceDeps): JobService {
  const store = supabaseJobStore(deps.db);
  return {
    startRun: (options) => startDailyFetchRun(createJobDeps(deps), options),
    processRun: (runId) => processDailyFetchRun(createJobDeps(deps), runId),
    async getRun(runId): Promise<RunDetails | null> {
      const run = await store.getRun(runId);
      if (!run) return null;
      const sources = (await store.getRunSources(runId)).filter((s) => s.status !== "skipped");
      const done = sources.filter((s) => s.status === "succeeded" || s.status === "failed").length;
      return {
        ...toJobResult(run),
        progress: { done, total: run.total_items - run.sources_skipped },
        sources,
      };
    },
    async listRuns(limit): Promise<JobResult[]> {
      return (await store.listRuns(JOB_NAME, limit)).map(toJobResult);
    },
  };
}
