/**
 * The daily-fetch job: start a run (one at a time, enforced by the database), decide which
 * active sources are due, then drive the work loop over the run's items with the
 * per-source task, so the run's counters move while it works. One source's failure never
 * stops the others, and the job never throws (except {@link RunInProgressError} from
 * {@link startDailyFetchRun}, which the API maps to 409).
 * @module
 */
import { errorMessage } from "../errors.ts";
import { alertsBeforeRun } from "./before_run.ts";
import { invocationBudget } from "./budget.ts";
import { reportThrottles } from "./host_throttle.ts";
import { startLeaseHeartbeat } from "./lease_heartbeat.ts";
import { JOB_NAME, type JobDeps } from "./deps.ts";
import { splitDueSources } from "./due_sources.ts";
import {
  failedLocally,
  logRunCompleted,
  toJobResult,
  unreadableRunResult,
  withError,
} from "./job_result.ts";
import { batchLog, type ItemDone, processSourceItem, runSlotLanes } from "./source_batch.ts";
import { sourceExchange } from "./source_exchange.ts";
import type { ClaimedItem, JobRunRow } from "./store.ts";
import { DEFAULT_CONFIG } from "../config.ts";
import { type JobResult, RunInProgressError, type RunOptions } from "./types.ts";
import { runWorkLoop } from "./work_loop.ts";

/**
 * Poll of an invocation that holds nothing and found nothing claimable, without a
 * politeness delay (ms): a handover's successor waits for the slots its predecessor frees
 * one by one, and each slot idles until the next poll (100 ms: ~50 ms a handover).
 */
const IDLE_POLL_MS = 25;

export type { JobAlerts, JobConfig, JobDeps } from "./deps.ts";
export { JOB_NAME } from "./deps.ts";
export { toJobResult } from "./job_result.ts";

/**
 * Runs the job from start to end in this invocation.
 * @example
 * const result = await runDailyFetchJob(deps, { trigger: "manual", force: true });
 */
export async function runDailyFetchJob(deps: JobDeps, options: RunOptions): Promise<JobResult> {
  const started = await startDailyFetchRun(deps, options);
  if (started.status !== "running") return started;
  return await processDailyFetchRun(deps, started.run_id);
}

/**
 * Creates the run and its work items (due sources pending, others skipped).
 * Throws {@link RunInProgressError} when a run is in progress; any other failure
 * finalises the run as failed and is reported in its result.
 */
export async function startDailyFetchRun(deps: JobDeps, options: RunOptions): Promise<JobResult> {
  const { store, logger, config } = deps;
  const now = deps.clock();
  logger.info("Starting daily fetch job at {timestamp}", {
    timestamp: now.toISOString(),
    trigger: options.trigger,
    force: options.force ?? false,
    source_ids: options.source_ids?.length ?? null,
  });
  const runOptions: Record<string, unknown> = {};
  if (options.force) runOptions.force = true;
  if (options.source_ids) runOptions.source_ids = options.source_ids;
  const started = await store.startRun(
    deps.jobName ?? JOB_NAME,
    options.trigger,
    runOptions,
    config.JOB_RUN_DEADLINE_MS,
  );
  if (started.conflict) {
    logger.warn("Daily fetch job not started: run {run_id} is in progress", {
      run_id: started.runningRunId,
    });
    throw new RunInProgressError(started.runningRunId);
  }
  const run = started.run;
  try {
    const [sources, intervals] = await Promise.all([
      store.listActiveSources(options.source_ids),
      store.listFrequencies(),
    ]);
    const { due, skipped } = splitDueSources(sources, {
      now,
      intervals,
      toleranceMs: config.JOB_DUE_TOLERANCE_MS,
      force: options.force,
    });
    for (const s of skipped) {
      logger.debug("Skipping source {source_id}: check_frequency {frequency} not due", {
        source_id: s.source.id,
        source_name: s.source.name,
        frequency: s.source.check_frequency,
        next_due_at: s.next_due_at,
        reason: s.reason,
      });
    }
    const withItems = await store.addItems(
      run.id,
      due.map((s) => s.id),
      skipped.map((s) => s.source.id),
    );
    if (due.length > 0) return toJobResult(withItems);
    // Nothing to fetch: still retry alerts, then finalise (no item left finalises).
    await alertsBeforeRun(deps, run.id);
    const done = await store.completeItems(run.id, []);
    logRunCompleted(logger, done.run);
    return toJobResult(done.run);
  } catch (error) {
    const message = `run could not start: ${errorMessage(error)}`;
    logger.error("Daily fetch job failed: {error}", { run_id: run.id, error: message });
    return toJobResult(await _failRun(deps, run, message));
  }
}

/**
 * Works on a started run: retries due alerts (`beforeRun`, default true: not in the
 * invocations a handover started), then runs the work loop over its items until none is
 * left or this invocation's budget is spent, in which case it hands over to another
 * invocation. Never throws.
 */
export async function processDailyFetchRun(
  deps: JobDeps,
  runId: string,
  options: { beforeRun?: boolean } = {},
): Promise<JobResult> {
  const { store, logger, config } = deps;
  const invocationId = deps.invocationId ?? crypto.randomUUID();
  const budget = invocationBudget(config, deps.clock, { cpuMs: deps.cpuMs, runId });
  const summary = batchLog(deps, config.JOB_BATCH_SIZE);
  const round = sourceExchange(deps, runId, invocationId, summary);
  const lanes = runSlotLanes(deps, runId, () => budget.spent());
  reportThrottles(deps, runId, (t, reported) => lanes.slow(t.url, t.retryAfterMs, reported));
  const heartbeat = startLeaseHeartbeat(
    {
      store,
      logger,
      leaseMs: config.JOB_LEASE_MS,
      renewMs: config.JOB_LEASE_RENEW_MS,
    },
    runId,
    invocationId,
  );
  try {
    if (options.beforeRun ?? true) await alertsBeforeRun(deps, runId);
    await runWorkLoop<ClaimedItem, ItemDone>({
      exchange: async (done, limit, count) => {
        const answer = await round.exchange(done, limit, count);
        lanes.hold(answer.items); // their slots are ours until they are finished
        return answer;
      },
      reportAtOnce: (item) => item.report_at_once === true,
      process: async (item) => {
        let computeMs = 0;
        try {
          const done = await processSourceItem(deps, item, lanes);
          computeMs = done.computeMs;
          return done;
        } finally {
          lanes.release(item);
          budget.settle(computeMs); // what it cost replaces the estimate of an item in flight
        }
      },
      handOver: () => _handOver(deps, runId, budget.usage()),
    }, {
      batchSize: config.JOB_BATCH_SIZE,
      concurrency: config.FETCH_GLOBAL_CONCURRENCY,
      // Hosts at their limit or in their politeness delay: look again soon.
      pollMs: Math.min(Math.max(config.FETCH_POLITENESS_DELAY_MS, 100), 250),
      // Holding nothing, without a politeness delay: waiting for request slots another
      // invocation frees with its completions (a handover): look again sooner.
      idlePollMs: config.FETCH_POLITENESS_DELAY_MS > 0
        ? Math.min(Math.max(config.FETCH_POLITENESS_DELAY_MS, 100), 250)
        : IDLE_POLL_MS,
      completeWithinMs: Math.min(
        config.JOB_COMPLETE_WITHIN_MS ?? DEFAULT_CONFIG.JOB_COMPLETE_WITHIN_MS,
        config.JOB_LEASE_MS / 3,
      ),
      budget,
    });
    summary.flush();
  } catch (error) {
    summary.flush();
    // Infrastructure failure (database, API): leave the items to their leases so another
    // invocation (or the watchdog) finishes the run; report it.
    const message = errorMessage(error);
    logger.error("Daily fetch job invocation stopped on run {run_id}: {error}", {
      run_id: runId,
      error: message,
    });
    const run = await store.getRun(runId).catch(() => null);
    return run
      ? withError(run, `invocation ${invocationId}: ${message}`)
      : unreadableRunResult(runId, deps.clock(), message);
  } finally {
    heartbeat.stop();
  }
  const memory = typeof Deno !== "undefined" ? Deno.memoryUsage() : null;
  const usage = budget.usage();
  logger.info("Invocation {invocation_id} on run {run_id} done: {handled} sources", {
    invocation_id: invocationId,
    run_id: runId,
    handled: usage.handled,
    wall_ms: usage.elapsed_ms,
    cpu_ms: usage.cpu_ms,
    compute_ms: usage.compute_ms,
    rss_bytes: memory?.rss ?? null,
    heap_used_bytes: memory?.heapUsed ?? null,
  });
  // The run as this invocation's last completion left it (read again when it completed none).
  const run = round.lastRun() ?? await store.getRun(runId).catch(() => null);
  return run ? toJobResult(run) : unreadableRunResult(runId, deps.clock(), "run not found");
}

/**
 * The budget is spent and items are left that nobody holds: hand them over; false when
 * that failed.
 */
async function _handOver(
  deps: JobDeps,
  runId: string,
  usage: ReturnType<ReturnType<typeof invocationBudget>["usage"]>,
): Promise<boolean> {
  if (!deps.handover) return true;
  deps.logger.info("Handing run {run_id} over to another invocation after {handled} sources", {
    run_id: runId,
    ...usage,
  });
  try {
    await deps.handover(runId);
    return true;
  } catch (error) {
    // Nobody else would pick the run up before the leases expire: keep working.
    deps.logger.error("Cannot hand run {run_id} over: {error}; this invocation goes on", {
      run_id: runId,
      error: errorMessage(error),
    });
    return false;
  }
}

async function _failRun(deps: JobDeps, run: JobRunRow, message: string): Promise<JobRunRow> {
  try {
    const failed = await deps.store.failRun(run.id, message);
    logRunCompleted(deps.logger, failed);
    return failed;
  } catch (error) {
    deps.logger.error("Cannot finalise run {run_id}: {error}", {
      run_id: run.id,
      error: errorMessage(error),
    });
    return failedLocally(run, deps.clock(), message);
  }
}
