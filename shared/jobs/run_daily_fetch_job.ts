/**
 * The daily-fetch job: start a run (one at a time, enforced by the database), decide which
 * active sources are due, then claim them in batches, run the fetch pipeline on each,
 * alert on changes, and record outcomes so the run's counters move while it works. One
 * source's failure never stops the others, and the job itself never throws (except
 * {@link RunInProgressError} from {@link startDailyFetchRun}, which the API maps to 409).
 * @module
 */
import pLimit from "p-limit";
import type { AlertOutcome, OperationalEvent } from "../alerts/types.ts";
import { redactText } from "../log.ts";
import { failureBookkeeping } from "../pipeline/bookkeeping.ts";
import type { PipelineResult, SourceBookkeeping } from "../pipeline/types.ts";
import type { Clock, Logger, PolicyChange, Source } from "../types.ts";
import { splitDueSources } from "./due_sources.ts";
import type { ClaimedItem, ItemOutcome, JobRunRow, JobStore } from "./store.ts";
import { type JobResult, RunInProgressError, type RunOptions } from "./types.ts";

/** Name of the job in `job_runs.job_name` and in pg_cron. */
export const JOB_NAME = "daily-fetch";

/** Tuning of the job (a slice of shared/config.ts). */
export interface JobConfig {
  JOB_DUE_TOLERANCE_MS: number;
  JOB_RUN_DEADLINE_MS: number;
  JOB_LEASE_MS: number;
  JOB_ITEM_MAX_ATTEMPTS: number;
  JOB_BATCH_SIZE: number;
  JOB_INVOCATION_MAX_ITEMS: number;
  JOB_INVOCATION_WALL_MS: number;
  JOB_INVOCATION_CPU_MS: number;
  FETCH_GLOBAL_CONCURRENCY: number;
  ALERT_FAILING_THRESHOLD: number;
}

/** The alert engine as the job sees it. */
export interface JobAlerts {
  deliver(change: PolicyChange): Promise<AlertOutcome[]>;
  retryPending(): Promise<AlertOutcome[]>;
  sourceHealth(source: Source, succeeded: boolean): Promise<AlertOutcome[]>;
  operational(event: OperationalEvent): Promise<AlertOutcome[]>;
}

/** Dependencies of the job; entry points wire the real ones. */
export interface JobDeps {
  store: JobStore;
  /** Runs the fetch pipeline on one source without writing its bookkeeping. */
  pipeline(
    source: Source,
    options: { fetchId: string },
  ): Promise<PipelineResult>;
  /** Writes the bookkeeping of many sources at once. */
  writeBookkeeping(patches: SourceBookkeeping[]): Promise<void>;
  alerts: JobAlerts;
  clock: Clock;
  logger: Logger;
  config: JobConfig;
  /** Identifies this invocation in claims. */
  invocationId?: string;
  /**
   * Called when this invocation's budget ended with items left: start another invocation
   * on the run (the edge function re-invokes itself).
   */
  handover?(runId: string): Promise<void>;
  /** CPU time this process has used so far, in ms (the CPU budget is measured with it). */
  cpuMs?(): number;
}

/**
 * Runs the job from start to end in this invocation.
 * @example
 * const result = await runDailyFetchJob(deps, { trigger: "manual", force: true });
 */
export async function runDailyFetchJob(
  deps: JobDeps,
  options: RunOptions,
): Promise<JobResult> {
  const started = await startDailyFetchRun(deps, options);
  if (started.status !== "running") return started;
  return await processDailyFetchRun(deps, started.run_id);
}

/**
 * Creates the run and its work items (due sources pending, others skipped).
 * Throws {@link RunInProgressError} when a run is in progress; any other failure
 * finalises the run as failed and is reported in its result.
 */
export async function startDailyFetchRun(
  deps: JobDeps,
  options: RunOptions,
): Promise<JobResult> {
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
    JOB_NAME,
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
      logger.info(
        "Skipping source {source_id}: check_frequency {frequency} not due",
        {
          source_id: s.source.id,
          source_name: s.source.name,
          frequency: s.source.check_frequency,
          next_due_at: s.next_due_at,
          reason: s.reason,
        },
      );
    }
    const withItems = await store.addItems(
      run.id,
      due.map((s) => s.id),
      skipped.map((s) => s.source.id),
    );
    if (due.length === 0) {
      // Nothing to fetch: still retry alerts, then finalise (no item left finalises).
      await _alertsBeforeRun(deps, run.id);
      const done = await store.completeItems(run.id, []);
      _logCompleted(deps, done.run);
      return toJobResult(done.run);
    }
    return toJobResult(withItems);
  } catch (error) {
    const message = `run could not start: ${_message(error)}`;
    logger.error("Daily fetch job failed: {error}", {
      run_id: run.id,
      error: message,
    });
    return toJobResult(await _failRun(deps, run, message));
  }
}

/**
 * Works on a started run: retries due alerts, then claims and processes batches of items
 * until none is left or this invocation's budget (items, wall time) is used up, in which
 * case it hands over to another invocation. Never throws.
 */
export async function processDailyFetchRun(
  deps: JobDeps,
  runId: string,
): Promise<JobResult> {
  const { store, logger, config } = deps;
  const invocationId = deps.invocationId ?? crypto.randomUUID();
  const t0 = deps.clock().getTime();
  const cpu0 = deps.cpuMs?.() ?? 0;
  let handled = 0;
  let unbounded = false; // set when a handover failed: finish the run here instead
  try {
    await _alertsBeforeRun(deps, runId);
    const limit = pLimit(config.FETCH_GLOBAL_CONCURRENCY);
    for (;;) {
      const elapsed = deps.clock().getTime() - t0;
      const cpu = (deps.cpuMs?.() ?? 0) - cpu0;
      if (
        !unbounded &&
        (handled >= config.JOB_INVOCATION_MAX_ITEMS ||
          elapsed >= config.JOB_INVOCATION_WALL_MS ||
          cpu >= config.JOB_INVOCATION_CPU_MS)
      ) {
        const run = await store.getRun(runId);
        if (run?.status === "running" && deps.handover) {
          logger.info(
            "Handing run {run_id} over to another invocation after {handled} sources",
            {
              run_id: runId,
              handled,
              elapsed_ms: elapsed,
              cpu_ms: Math.round(cpu),
            },
          );
          try {
            await deps.handover(runId);
          } catch (error) {
            // Nobody else would pick the run up before the leases expire: keep working.
            logger.error(
              "Cannot hand run {run_id} over: {error}; this invocation goes on",
              {
                run_id: runId,
                error: _message(error),
              },
            );
            unbounded = true;
            continue;
          }
        }
        break;
      }
      const size = unbounded ? config.JOB_BATCH_SIZE : Math.min(
        config.JOB_BATCH_SIZE,
        config.JOB_INVOCATION_MAX_ITEMS - handled,
      );
      const claimed = await store.claimItems(
        runId,
        invocationId,
        size,
        config.JOB_LEASE_MS,
        config.JOB_ITEM_MAX_ATTEMPTS,
      );
      await _poisoned(deps, claimed.filter((i) => i.poisoned));
      const items = claimed.filter((i) => !i.poisoned);
      if (items.length === 0) break;
      handled += items.length;
      const { outcomes, bookkeeping } = await _processBatch(deps, items, limit);
      const done = await store.completeItems(runId, outcomes, bookkeeping);
      if (done.finalised) _logCompleted(deps, done.run);
    }
  } catch (error) {
    // Infrastructure failure (database, API): leave the items to their leases so another
    // invocation (or the watchdog) finishes the run; report it.
    logger.error(
      "Daily fetch job invocation stopped on run {run_id}: {error}",
      {
        run_id: runId,
        error: _message(error),
      },
    );
    const run = await store.getRun(runId).catch(() => null);
    if (run) {
      const result = toJobResult(run);
      result.errors = [
        ...result.errors,
        `invocation ${invocationId}: ${_message(error)}`,
      ];
      return result;
    }
    return _unknownRun(deps, runId, _message(error));
  }
  const memory = typeof Deno !== "undefined" ? Deno.memoryUsage() : null;
  logger.info(
    "Invocation {invocation_id} on run {run_id} done: {handled} sources",
    {
      invocation_id: invocationId,
      run_id: runId,
      handled,
      wall_ms: deps.clock().getTime() - t0,
      cpu_ms: Math.round((deps.cpuMs?.() ?? 0) - cpu0),
      rss_bytes: memory?.rss ?? null,
      heap_used_bytes: memory?.heapUsed ?? null,
    },
  );
  const run = await store.getRun(runId).catch(() => null);
  return run ? toJobResult(run) : _unknownRun(deps, runId, "run not found");
}

/** Maps a `job_runs` row to the API's JobResult. */
export function toJobResult(run: JobRunRow): JobResult {
  return {
    run_id: run.id,
    status: run.status,
    trigger: run.trigger,
    started_at: run.started_at,
    completed_at: run.completed_at,
    sources_processed: run.sources_processed,
    sources_succeeded: run.sources_succeeded,
    sources_failed: run.sources_failed,
    sources_skipped: run.sources_skipped,
    changes_detected: run.changes_detected,
    alerts_sent: run.alerts_sent,
    errors: Array.isArray(run.errors) ? run.errors.map(String) : [],
  };
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
        error: _message(error),
      });
    }
  }
}

/** Retries failed alerts and announces missed nights before fetching anything. */
async function _alertsBeforeRun(deps: JobDeps, runId: string): Promise<void> {
  const { logger } = deps;
  try {
    const retried = await deps.alerts.retryPending();
    const sent = retried.filter((o) => o.status === "sent").length;
    if (retried.length > 0) {
      logger.info("Retried {count} pending alerts: {sent} sent", {
        run_id: runId,
        count: retried.length,
        sent,
      });
    }
  } catch (error) {
    logger.error("Cannot retry pending alerts: {error}", {
      run_id: runId,
      error: _message(error),
    });
  }
  try {
    const since = new Date(deps.clock().getTime() - 7 * 86_400_000);
    const missed = await deps.store.listMissedRuns(JOB_NAME, since);
    for (const m of missed) {
      await deps.alerts.operational({
        kind: "run_missed",
        event_key: `run_missed:${m.id}`,
        source_id: null,
        payload: {
          job_name: JOB_NAME,
          noticed_at: m.started_at,
          errors: m.errors,
        },
      });
    }
  } catch (error) {
    logger.error("Cannot send missed-run alerts: {error}", {
      run_id: runId,
      error: _message(error),
    });
  }
}

interface Fetched {
  item: ClaimedItem;
  result: PipelineResult | null;
  error: string | null;
  ms: number;
}

/**
 * Fetches a claimed batch and finishes its items. The batch's bookkeeping is written in
 * the same call as its outcomes (one write per batch), except when a failing/recovered
 * alert may be due: that reads the bookkeeping, so it is written first.
 */
async function _processBatch(
  deps: JobDeps,
  items: ClaimedItem[],
  limit: ReturnType<typeof pLimit>,
): Promise<{ outcomes: ItemOutcome[]; bookkeeping: SourceBookkeeping[] }> {
  const { logger } = deps;
  const fetched: Fetched[] = await Promise.all(
    items.map((item) =>
      limit(async (): Promise<Fetched> => {
        const t0 = performance.now();
        logger.info("Processing source {source_id}: {source_name}", {
          source_id: item.source.id,
          source_name: item.source.name,
        });
        if (item.prior_policy_change_id) {
          // An earlier claim of this item died after recording its change: finish its work.
          return { item, result: null, error: null, ms: 0 };
        }
        try {
          const result = await deps.pipeline(item.source, {
            fetchId: item.fetch_id,
          });
          return {
            item,
            result,
            error: null,
            ms: Math.round(performance.now() - t0),
          };
        } catch (error) {
          return {
            item,
            result: null,
            error: _message(error),
            ms: Math.round(performance.now() - t0),
          };
        }
      })
    ),
  );
  // One write for the whole batch's bookkeeping, before the health alerts read it.
  // A pipeline that threw still counts as a failed check of its source.
  const patches = fetched.flatMap((f) =>
    f.result
      ? (f.result.bookkeeping_written ? [] : [f.result.bookkeeping])
      : f.error !== null
      ? [failureBookkeeping(f.item.source, deps.clock(), "internal", f.error)]
      : []
  );
  let bookkeepingError: string | null = null;
  const healthDue = fetched.some((f) => _mayTransition(deps, f));
  if (patches.length > 0 && healthDue) {
    try {
      await deps.writeBookkeeping(patches);
    } catch (error) {
      bookkeepingError = _message(error);
      logger.error("Cannot write the bookkeeping of {count} sources: {error}", {
        count: patches.length,
        error: bookkeepingError,
      });
    }
  }
  const outcomes = await Promise.all(
    fetched.map((f) => limit(() => _finishItem(deps, f, bookkeepingError))),
  );
  return { outcomes, bookkeeping: healthDue ? [] : patches };
}

/** Whether this fetch can cross the failing threshold or end a failing streak. */
function _mayTransition(deps: JobDeps, f: Fetched): boolean {
  const source = f.item.source;
  const fetchSucceeded = f.error === null && f.result?.status !== "failed";
  if (fetchSucceeded) return source.failing_alerted;
  const failures = f.result?.bookkeeping.consecutive_failures ?? source.consecutive_failures + 1;
  return failures >= deps.config.ALERT_FAILING_THRESHOLD && !source.failing_alerted;
}

async function _finishItem(
  deps: JobDeps,
  f: Fetched,
  bookkeepingError: string | null,
): Promise<ItemOutcome> {
  const { logger } = deps;
  const { item, result } = f;
  const source = item.source;
  let alertsSent = 0;
  let status: "succeeded" | "failed";
  let errorClass: string | null = null;
  let errorMessage: string | null = null;
  let changeId: string | null = item.prior_policy_change_id;
  if (changeId === null && result?.status === "ok" && result.changed) {
    changeId = result.policy_change_id;
  }

  if (f.error !== null) {
    status = "failed";
    errorClass = "internal";
    errorMessage = `Cannot process source ${source.id}: ${f.error}`;
  } else if (result && result.status === "failed") {
    status = "failed";
    errorClass = result.error_class ?? "internal";
    errorMessage = result.error_message ?? "unknown error";
  } else {
    status = "succeeded";
  }

  const fetchSucceeded = status === "succeeded";
  let alertError: string | null = null;
  if (changeId) {
    logger.info("Change detected for source {source_id}", {
      source_id: source.id,
      source_name: source.name,
      policy_change_id: changeId,
      summary: result?.summary ?? null,
    });
    try {
      const change = await deps.store.getPolicyChange(changeId);
      if (!change) throw new Error(`policy change ${changeId} not found`);
      const outcomes = await deps.alerts.deliver(change);
      alertsSent += _countSent(outcomes);
      const undelivered = outcomes.filter((o) => o.status === "failed" || o.status === "dead");
      for (const o of undelivered) {
        logger.error(
          "Alert {alert_id} of change {policy_change_id} {status}: {error}",
          {
            alert_id: o.alert_id,
            policy_change_id: changeId,
            status: o.status,
            error: o.error ?? "",
          },
        );
      }
      if (undelivered.length > 0) {
        const dead = undelivered.filter((o) => o.status === "dead").length;
        alertError = `${undelivered.length} of ${outcomes.length} alerts not delivered` +
          ` (${dead} given up, ${undelivered.length - dead} to retry): ` +
          (undelivered[0]?.error ?? "unknown error");
      }
    } catch (error) {
      alertError = _message(error);
      logger.error(
        "Cannot alert on change {policy_change_id} of source {source_id}: {error}",
        {
          source_id: source.id,
          policy_change_id: changeId,
          error: alertError,
        },
      );
    }
  }

  // Failing/recovered alerts, only when this outcome can cross a threshold.
  if (_mayTransition(deps, f) && bookkeepingError === null) {
    try {
      alertsSent += _countSent(
        await deps.alerts.sourceHealth(source, fetchSucceeded),
      );
    } catch (error) {
      logger.error("Cannot send health alerts of source {source_id}: {error}", {
        source_id: source.id,
        error: _message(error),
      });
    }
  }

  // Subscribers not told of a change: the source's work is not done; report it.
  if (alertError !== null && status === "succeeded") {
    status = "failed";
    errorClass = "alert";
    errorMessage = `Cannot alert subscribers of change ${changeId}: ${alertError}`;
  }

  // Stored in job_run_sources / job_runs.errors and returned by the API: no URL secrets.
  if (errorMessage !== null) errorMessage = redactText(errorMessage);

  const props = {
    source_id: source.id,
    source_name: source.name,
    status: status === "succeeded" ? "success" : "failure",
    changed: changeId !== null,
    baseline: result?.baseline ?? false,
    not_modified: result?.not_modified ?? false,
    error_class: errorClass,
    error: errorMessage,
    duration_ms: f.ms,
  };
  if (status === "succeeded") {
    logger.info("Source {source_id} processed: {status}", props);
  } else logger.error("Source {source_id} processed: {status}", props);

  return {
    source_id: source.id,
    attempt: item.attempt,
    status,
    changed: changeId !== null,
    baseline: result?.baseline ?? false,
    policy_change_id: changeId,
    error_class: errorClass,
    error_message: errorMessage,
    duration_ms: f.ms,
    alerts_sent: alertsSent,
    error_text: status === "failed"
      ? `source ${source.id} (${source.name}): ${errorClass}: ${_detail(errorMessage)}`
      : null,
  };
}

/** The part of a pipeline message after "Cannot fetch source X: ", for the run's errors. */
function _detail(message: string | null): string {
  if (!message) return "unknown error";
  const m = message.match(/^Cannot [^:]*?source [^:]+: (.*)$/s);
  return m?.[1] ?? message;
}

function _countSent(outcomes: AlertOutcome[]): number {
  return outcomes.filter((o) => o.status === "sent").length;
}

function _logCompleted(deps: JobDeps, run: JobRunRow): void {
  const props = {
    run_id: run.id,
    status: run.status,
    sources_processed: run.sources_processed,
    sources_succeeded: run.sources_succeeded,
    sources_failed: run.sources_failed,
    sources_skipped: run.sources_skipped,
    changes_detected: run.changes_detected,
    alerts_sent: run.alerts_sent,
    errors: run.errors.length,
  };
  const message =
    "Daily fetch job completed: {sources_processed} processed, {changes_detected} changes, {errors} errors";
  if (run.status === "failed") deps.logger.error(message, props);
  else deps.logger.info(message, props);
}

async function _failRun(
  deps: JobDeps,
  run: JobRunRow,
  message: string,
): Promise<JobRunRow> {
  try {
    const failed = await deps.store.failRun(run.id, message);
    _logCompleted(deps, failed);
    return failed;
  } catch (error) {
    deps.logger.error("Cannot finalise run {run_id}: {error}", {
      run_id: run.id,
      error: _message(error),
    });
    return {
      ...run,
      status: "failed",
      completed_at: deps.clock().toISOString(),
      errors: [...run.errors, message],
    };
  }
}

function _unknownRun(deps: JobDeps, runId: string, message: string): JobResult {
  return {
    run_id: runId,
    status: "running",
    trigger: "manual",
    started_at: deps.clock().toISOString(),
    completed_at: null,
    sources_processed: 0,
    sources_succeeded: 0,
    sources_failed: 0,
    sources_skipped: 0,
    changes_detected: 0,
    alerts_sent: 0,
    errors: [`Cannot read run ${runId}: ${message}`],
  };
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
