/**
 * The daily-fetch job: start a run (one at a time, enforced by the database), decide which
 * active sources are due, then drive the work loop over the run's items with the
 * per-source task, so the run's counters move while it works. One source's failure never
 * stops the others, and the job never throws (except {@link RunInProgressError} from
 * {@link startDailyFetchRun}, which the API maps to 409).
 * @module
 */
import pLimit from "p-limit";
import { errorMessage } from "../errors.ts";
import { redactText } from "../log.ts";
import { alertsBeforeRun } from "./before_run.ts";
import { invocationBudget } from "./budget.ts";
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
import { type BatchDone, processSourceBatch } from "./source_batch.ts";
import { toItemOutcome } from "./source_task.ts";
import type { ClaimedItem, JobRunRow } from "./store.ts";
import { type JobResult, RunInProgressError, type RunOptions } from "./types.ts";
import { runWorkLoop } from "./work_loop.ts";
import { sleep } from "../sleep.ts";

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
 * Works on a started run: retries due alerts, then runs the work loop over its items
 * until none is left or this invocation's budget is spent, in which case it hands over to
 * another invocation. Never throws.
 */
export async function processDailyFetchRun(deps: JobDeps, runId: string): Promise<JobResult> {
  const { store, logger, config } = deps;
  const invocationId = deps.invocationId ?? crypto.randomUUID();
  const budget = invocationBudget(config, deps.clock, deps.cpuMs);
  const limit = pLimit(config.FETCH_GLOBAL_CONCURRENCY);
  _listenToThrottles(deps, runId);
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
    await alertsBeforeRun(deps, runId);
    await runWorkLoop<ClaimedItem, BatchDone>({
      claim: (size) => _claim(deps, runId, invocationId, size),
      process: (items) => processSourceBatch(deps, items, limit),
      async complete(done) {
        const outcomes = done.outcomes.map(toItemOutcome);
        const result = await store.completeItems(runId, outcomes, done.bookkeeping);
        if (result.finalised) logRunCompleted(logger, result.run);
      },
      handOver: () => _handOver(deps, runId, budget.usage()),
    }, { batchSize: config.JOB_BATCH_SIZE, budget });
  } catch (error) {
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
    rss_bytes: memory?.rss ?? null,
    heap_used_bytes: memory?.heapUsed ?? null,
  });
  const run = await store.getRun(runId).catch(() => null);
  return run ? toJobResult(run) : unreadableRunResult(runId, deps.clock(), "run not found");
}

/**
 * Claims up to `size` items within the run's per-host limits (decided in the database,
 * across all invocations); items the claim failed as poison get their alerts here and are
 * not returned. When none is claimable although items are still pending (their
 * hosts are at their limit or in their politeness delay), waits and claims again; an empty
 * answer means every open item is done or held by a live lease.
 */
async function _claim(
  deps: JobDeps,
  runId: string,
  invocationId: string,
  size: number,
): Promise<ClaimedItem[]> {
  const { store, config } = deps;
  const hosts = {
    perHost: config.FETCH_PER_HOST_CONCURRENCY,
    delayMs: config.FETCH_POLITENESS_DELAY_MS,
  };
  const pollMs = Math.min(Math.max(config.FETCH_POLITENESS_DELAY_MS, 100), 250);
  for (;;) {
    const claimed = await store.claimItems(
      runId,
      invocationId,
      size,
      config.JOB_LEASE_MS,
      config.JOB_ITEM_MAX_ATTEMPTS,
      hosts,
    );
    const poisoned = claimed.filter((i) => i.poisoned);
    await _poisoned(deps, poisoned);
    const items = claimed.filter((i) => !i.poisoned);
    if (items.length > 0) return items;
    // Only poison failures this time: claim again at once (others may be claimable now).
    if (poisoned.length > 0) continue;
    const { open, held } = await store.countOpenItems(runId, deps.clock());
    if (open <= held) return [];
    await sleep(pollMs);
  }
}

/**
 * Tells the database at once when a host answers 429/503 with a Retry-After (see
 * host_throttle.ts), so every invocation slows that host. A failed report is logged: the
 * run goes on with the host's usual limits.
 */
function _listenToThrottles(deps: JobDeps, runId: string): void {
  deps.onThrottle?.((t) => {
    deps.logger.warn("Host of {url} asked to slow down (Retry-After {retry_after_ms} ms)", {
      run_id: runId,
      url: redactText(t.url),
      retry_after_ms: t.retryAfterMs,
    });
    deps.store.slowHost?.(runId, t.url, t.retryAfterMs).catch((error) => {
      deps.logger.error("Cannot slow the host of {url} for run {run_id}: {error}", {
        run_id: runId,
        url: redactText(t.url),
        error: errorMessage(error),
      });
    });
  });
}

/** The budget is spent: hand a still-running run over; false when that failed. */
async function _handOver(
  deps: JobDeps,
  runId: string,
  usage: ReturnType<ReturnType<typeof invocationBudget>["usage"]>,
): Promise<boolean> {
  const run = await deps.store.getRun(runId);
  if (run?.status !== "running" || !deps.handover) return true;
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

/**
 * Items the database failed as poison (their outcome and bookkeeping are written): log
 * them and send their sources' failing alerts, as for any failure.
 */
async function _poisoned(deps: JobDeps, items: ClaimedItem[]): Promise<void> {
  for (const item of items) {
    deps.logger.error(
      "Source {source_id} failed as poison: each of its {attempts} attempts' invocations died",
      {
        source_id: item.source.id,
        source_name: item.source.name,
        status: "failure",
        error_class: "poison",
        attempts: item.attempt,
      },
    );
    try {
      await deps.alerts.sourceHealth(item.source, false);
    } catch (error) {
      deps.logger.error("Cannot send health alerts of source {source_id}: {error}", {
        source_id: item.source.id,
        error: errorMessage(error),
      });
    }
  }
}
