/**
 * The job as the HTTP API sees it ({@link JobService}): start a run, work on it (fanning
 * out to parallel invocations, waiting for them when asked), read runs. It is handed a
 * factory of the job's dependencies; functions/api/job_deps.ts wires the real ones.
 * @module
 */
import type { Config } from "../config.ts";
import { errorMessage } from "../errors.ts";
import { sleep as realSleep } from "../sleep.ts";
import type { Clock, Logger } from "../types.ts";
import { JOB_NAME, type JobDeps } from "./deps.ts";
import { toJobResult } from "./job_result.ts";
import { processDailyFetchRun, startDailyFetchRun } from "./run_daily_fetch_job.ts";
import type { JobStore } from "./store.ts";
import {
  type AlertDeliveryResult,
  type JobResult,
  type JobService,
  type ProcessOptions,
  type RunDetails,
  RunInProgressError,
} from "./types.ts";

/** How often a synchronous caller polls a run the other invocations are finishing. */
const POLL_MS = 250;

/** What {@link createJobService} needs. */
export interface JobServiceDeps {
  store: JobStore;
  /** The job's dependencies for one invocation (a fresh host limiter each time). */
  jobDeps(): JobDeps;
  clock: Clock;
  logger: Logger;
  config: Pick<Config, "JOB_PARALLEL_INVOCATIONS" | "JOB_SYNC_WAIT_MS">;
  /** Starts another invocation on a run whose items are not all done (see handover.ts). */
  handover?: (runId: string) => Promise<void>;
  /** Waits between polls of a run; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** The real {@link JobService}. */
export function createJobService(deps: JobServiceDeps): JobService {
  const { store, logger, config } = deps;
  const sleep = deps.sleep ?? realSleep;

  /** A running run whose items nobody holds (its invocations died): start one again. */
  async function resumeIfStalled(runId: string | null): Promise<void> {
    if (runId === null || !deps.handover) return;
    try {
      const { open, held } = await store.countOpenItems(runId, deps.clock());
      if (open === 0) {
        // Its items vanished (sources deleted after its invocation died): finish it now.
        // A run still being set up has total_items 0 and is left alone.
        const run = await store.getRun(runId);
        if (run && run.status === "running" && run.total_items > 0) {
          logger.warn("Run {run_id} has no item left: finalising it", { run_id: runId });
          await store.completeItems(runId, []);
        }
        return;
      }
      if (held === 0) {
        logger.warn("Run {run_id} is stalled ({open} items left, none held): resuming it", {
          run_id: runId,
          open,
        });
        await deps.handover(runId);
      }
    } catch (error) {
      logger.error("Cannot resume run {run_id}: {error}", {
        run_id: runId,
        error: errorMessage(error),
      });
    }
  }

  return {
    async startRun(options) {
      try {
        return await startDailyFetchRun(deps.jobDeps(), options);
      } catch (error) {
        if (error instanceof RunInProgressError) await resumeIfStalled(error.runningRunId);
        throw error;
      }
    },

    async processRun(runId: string, options: ProcessOptions = {}): Promise<JobResult> {
      if (options.fanOut && deps.handover) {
        for (let i = 1; i < config.JOB_PARALLEL_INVOCATIONS; i++) {
          await deps.handover(runId).catch((error) =>
            logger.error("Cannot start a parallel invocation on run {run_id}: {error}", {
              run_id: runId,
              error: errorMessage(error),
            })
          );
        }
      }
      let result = await processDailyFetchRun(deps.jobDeps(), runId, {
        beforeRun: !options.continuation,
      });
      if (options.wait && result.status === "running") {
        const until = deps.clock().getTime() + config.JOB_SYNC_WAIT_MS;
        while (result.status === "running" && deps.clock().getTime() < until) {
          await sleep(POLL_MS);
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
        progress: { done: run.sources_processed, total: run.total_items - run.sources_skipped },
        sources,
      };
    },

    async listRuns(limit): Promise<JobResult[]> {
      return (await store.listRuns(JOB_NAME, limit)).map(toJobResult);
    },
    async deliverAlerts(): Promise<AlertDeliveryResult> {
      const outcomes = await deps.jobDeps().alerts.retryPending();
      const count = (status: string) => outcomes.filter((o) => o.status === status).length;
      const result = {
        attempted: outcomes.filter((o) => o.status !== "skipped").length,
        sent: count("sent"),
        failed: count("failed"),
        dead: count("dead"),
      };
      if (result.attempted > 0) {
        logger.info(
          "Alert outbox: {attempted} attempted, {sent} sent, {failed} failed, {dead} dead",
          result,
        );
      }
      return result;
    },
  };
}
