/**
 * The job as the HTTP API sees it ({@link JobService}), wired to the real pipeline, alert
 * engine and stores on one service-role supabase-js client.
 * @module
 */
import process from "node:process";
import { bindAlertEngine } from "../alerts/engine.ts";
import type { Config } from "../config.ts";
import { browserSeam } from "../pipeline/browser_fetcher.ts";
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
import {
  type JobResult,
  type JobService,
  type ProcessOptions,
  type RunDetails,
  RunInProgressError,
} from "./types.ts";

/** What {@link createJobService} needs. */
export interface JobServiceDeps {
  db: Db;
  fetch: FetchFn;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Starts another invocation on a run whose items are not all done (see handover.ts). */
  handover?: (runId: string) => Promise<void>;
  /** CPU used by this process in ms; default `process.cpuUsage()`. */
  cpuMs?: () => number;
  /** Waits between polls of a run; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** CPU time (user + system) of this process in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
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
  // One browser page limit per invocation too (render 'browser' sources only).
  const browser = browserSeam(config, { fetch });
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
      runFetchPipeline(source, {
        fetch,
        clock,
        logger,
        store: pipelineStore,
        config,
        limiter,
        browser,
      }, {
        fetchId: options.fetchId,
        writeBookkeeping: false,
      }),
    writeBookkeeping: (patches) => pipelineStore.updateSources(patches),
    alerts,
    clock,
    logger,
    config,
    handover: deps.handover,
    cpuMs: deps.cpuMs ?? processCpuMs,
  };
}

/** The real {@link JobService}. */
export function createJobService(deps: JobServiceDeps): JobService {
  const store = supabaseJobStore(deps.db);
  const sleep = deps.sleep ??
    ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { logger, config } = deps;

  /** A running run whose items nobody holds (its invocations died): start one again. */
  async function resumeIfStalled(runId: string | null): Promise<void> {
    if (runId === null || !deps.handover) return;
    try {
      const nowIso = deps.clock().toISOString();
      const [held, open] = await Promise.all([
        deps.db.from("job_run_sources").select("source_id", {
          count: "exact",
          head: true,
        })
          .eq("run_id", runId).eq("status", "claimed").gt(
            "lease_until",
            nowIso,
          ),
        deps.db.from("job_run_sources").select("source_id", {
          count: "exact",
          head: true,
        })
          .eq("run_id", runId).in("status", ["pending", "claimed"]),
      ]);
      if (held.error || open.error) return;
      if ((open.count ?? 0) === 0) {
        // Its items vanished (sources deleted after its invocation died): finish it now.
        // A run still being set up has total_items 0 and is left alone.
        const run = await store.getRun(runId);
        if (run && run.status === "running" && run.total_items > 0) {
          logger.warn("Run {run_id} has no item left: finalising it", { run_id: runId });
          await store.completeItems(runId, []);
        }
        return;
      }
      if ((held.count ?? 0) === 0) {
        logger.warn(
          "Run {run_id} is stalled ({open} items left, none held): resuming it",
          {
            run_id: runId,
            open: open.count,
          },
        );
        await deps.handover(runId);
      }
    } catch (error) {
      logger.error("Cannot resume run {run_id}: {error}", {
        run_id: runId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  return {
    async startRun(options) {
      try {
        return await startDailyFetchRun(createJobDeps(deps), options);
      } catch (error) {
        if (error instanceof RunInProgressError) {
          await resumeIfStalled(error.runningRunId);
        }
        throw error;
      }
    },

    async processRun(
      runId: string,
      options: ProcessOptions = {},
    ): Promise<JobResult> {
      if (options.fanOut && deps.handover) {
        for (let i = 1; i < config.JOB_PARALLEL_INVOCATIONS; i++) {
          await deps.handover(runId).catch((error) =>
            logger.error(
              "Cannot start a parallel invocation on run {run_id}: {error}",
              {
                run_id: runId,
                error: error instanceof Error ? error.message : String(error),
              },
            )
          );
        }
      }
      let result = await processDailyFetchRun(createJobDeps(deps), runId);
      if (options.wait && result.status === "running") {
        const until = deps.clock().getTime() + config.JOB_SYNC_WAIT_MS;
        while (result.status === "running" && deps.clock().getTime() < until) {
          await sleep(250);
          const run = await store.getRun(runId).catch(() => null);
          if (run) result = toJobResult(run);
        }
      }
      return result;
    },

    async getRun(runId, options = {}): Promise<RunDetails | null> {
      const run = await store.getRun(runId);
      if (!run) return null;
      const sources = options.sources === false
        ? []
        : (await store.getRunSources(runId)).filter((s) => s.status !== "skipped");
      return {
        ...toJobResult(run),
        progress: {
          done: run.sources_processed,
          total: run.total_items - run.sources_skipped,
        },
        sources,
      };
    },

    async listRuns(limit): Promise<JobResult[]> {
      return (await store.listRuns(JOB_NAME, limit)).map(toJobResult);
    },
  };
}
