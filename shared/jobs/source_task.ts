/**
 * The per-source task of the daily-fetch job: run the pipeline on one claimed item, tell
 * the subscribers of a change, ask for failing/recovered alerts, and return what happened
 * as a value ({@link SourceOutcome}; a failure carries its class and detail as data).
 * Nothing here claims, completes or counts: the work loop and the store do that.
 * @module
 */
import type { AlertOutcome, QueuedAlert } from "../alerts/types.ts";
import { errorMessage } from "../errors.ts";
import { redactText } from "../log.ts";
import type { ContentChoice, PipelineResult } from "../pipeline/types.ts";
import type { ChangeSummary, PolicyChange, Source } from "../types.ts";
import type { JobDeps } from "./deps.ts";
import type { ClaimedItem, ItemOutcome } from "./store.ts";

/** Why a source's work failed. */
export interface SourceFailure {
  /** ErrorClass of the pipeline, or `alert` when the subscribers were not told. */
  errorClass: string;
  /** The whole message, e.g. `Cannot fetch source 42: timed out after 30000 ms`. */
  message: string;
  /** What went wrong, for the run's errors: `timed out after 30000 ms`. */
  detail: string;
}

/** What the pipeline did with one item (or how it broke). */
export interface Fetched {
  item: ClaimedItem;
  result: PipelineResult | null;
  /** Set when the pipeline threw instead of returning a result. */
  crash: string | null;
  ms: number;
}

/** What happened to one source in this run. */
export interface SourceOutcome {
  source: Source;
  attempt: number;
  policyChangeId: string | null;
  baseline: boolean;
  notModified: boolean;
  failure: SourceFailure | null;
  alertsSent: number;
  durationMs: number;
  /** What was monitored (the pipeline's content choice), when the body was read. */
  content?: ContentChoice | null;
}

/**
 * Runs the pipeline on a claimed item; a throwing pipeline becomes a crash, not a throw.
 * Its requests to the host run in `requestSlot` when given (then its time counts from
 * the first one's start: not the wait for the slot).
 */
export async function fetchItem(
  deps: JobDeps,
  item: ClaimedItem,
  requestSlot?: <T>(exchange: () => Promise<T>) => Promise<T>,
): Promise<Fetched> {
  deps.logger.debug("Processing source {source_id}: {source_name}", {
    source_id: item.source.id,
    source_name: item.source.name,
  });
  // An earlier claim of this item died after recording its change: finish its work.
  if (item.prior_policy_change_id) return { item, result: null, crash: null, ms: 0 };
  let t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  let started = false;
  const inSlot = requestSlot &&
    (<T>(exchange: () => Promise<T>) =>
      requestSlot(() => {
        if (!started) t0 = performance.now();
        started = true;
        return exchange();
      }));
  try {
    const result = await deps.pipeline(item.source, {
      fetchId: item.fetch_id,
      requestSlot: inSlot,
    });
    return { item, result, crash: null, ms: ms() };
  } catch (error) {
    return { item, result: null, crash: errorMessage(error), ms: ms() };
  }
}

/** The fetch's own failure (before alerts), or null. */
export function fetchFailure(f: Fetched): SourceFailure | null {
  if (f.crash !== null) {
    return {
      errorClass: "internal",
      message: `Cannot process source ${f.item.source.id}: ${f.crash}`,
      detail: f.crash,
    };
  }
  if (f.result?.status !== "failed") return null;
  const message = f.result.error_message ?? "unknown error";
  return {
    errorClass: f.result.error_class ?? "internal",
    message,
    detail: f.result.error_detail ?? message,
  };
}

/** Whether this fetch can cross the failing threshold or end a failing streak. */
export function mayTransition(deps: JobDeps, f: Fetched): boolean {
  const source = f.item.source;
  if (fetchFailure(f) === null) return source.failing_alerted;
  const failures = f.result?.bookkeeping.consecutive_failures ?? source.consecutive_failures + 1;
  return failures >= deps.config.ALERT_FAILING_THRESHOLD && !source.failing_alerted;
}

/**
 * Finishes a fetched item: delivers its change, asks for health alerts when `healthDue`
 * (the bookkeeping they read is written), and returns the outcome.
 */
export async function finishItem(
  deps: JobDeps,
  f: Fetched,
  healthDue: boolean,
): Promise<SourceOutcome> {
  const { item, result } = f;
  const source = item.source;
  const changeId = item.prior_policy_change_id ??
    (result?.status === "ok" && result.changed ? result.policy_change_id : null);
  let failure = fetchFailure(f);
  let alertsSent = 0;
  if (changeId) {
    // The change record_snapshot answered with (its read-back is one request per change);
    // a resumed item's change is read by its id.
    const recorded = result?.policy_change?.id === changeId ? result.policy_change : null;
    const announced = await _announceChange(
      deps,
      source,
      changeId,
      recorded,
      result?.summary ?? null,
      // Queued with the change (record_snapshot): sent without a request to queue them.
      recorded ? result?.alerts ?? null : null,
    );
    alertsSent += announced.sent;
    // The change's alerts could not even be queued: the source's work is not done (the
    // next run announces it again); report it. Queued alerts that failed are alert
    // failures, not the source's: the outbox retries them on its own clock.
    if (announced.error !== null && failure === null) {
      const message = `Cannot alert subscribers of change ${changeId}: ${announced.error}`;
      failure = { errorClass: "alert", message, detail: message };
    }
  }
  if (healthDue) {
    try {
      alertsSent += countSent(await deps.alerts.sourceHealth(source, fetchFailure(f) === null));
    } catch (error) {
      deps.logger.error("Cannot send health alerts of source {source_id}: {error}", {
        source_id: source.id,
        error: errorMessage(error),
      });
    }
  }
  // Stored in job_run_sources / job_runs.errors and returned by the API: no URL secrets.
  if (failure) {
    failure = {
      ...failure,
      message: redactText(failure.message),
      detail: redactText(failure.detail),
    };
  }
  const outcome: SourceOutcome = {
    source,
    attempt: item.attempt,
    policyChangeId: changeId,
    baseline: result?.baseline ?? false,
    notModified: result?.not_modified ?? false,
    failure,
    alertsSent,
    durationMs: f.ms,
    content: result?.content ?? null,
  };
  _logOutcome(deps, outcome);
  return outcome;
}

/** The row `job_complete_items` records for an outcome. */
export function toItemOutcome(o: SourceOutcome): ItemOutcome {
  return {
    source_id: o.source.id,
    attempt: o.attempt,
    status: o.failure ? "failed" : "succeeded",
    changed: o.policyChangeId !== null,
    baseline: o.baseline,
    policy_change_id: o.policyChangeId,
    error_class: o.failure?.errorClass ?? null,
    error_message: o.failure?.message ?? null,
    duration_ms: o.durationMs,
    alerts_sent: o.alertsSent,
    content: o.content ?? null,
    error_text: o.failure
      ? `source ${o.source.id} (${o.source.name}): ${o.failure.errorClass}: ${o.failure.detail}`
      : null,
  };
}

/** How many outcomes were sent. */
export function countSent(outcomes: AlertOutcome[]): number {
  return outcomes.filter((o) => o.status === "sent").length;
}

/**
 * Delivers a change's alerts; an alert that could not be queued is an error (as data),
 * never a throw. A queued alert that failed is logged and left to the outbox's retries.
 */
async function _announceChange(
  deps: JobDeps,
  source: Source,
  changeId: string,
  recorded: PolicyChange | null,
  summary: ChangeSummary | null,
  queued: QueuedAlert[] | null,
): Promise<{ sent: number; error: string | null }> {
  const { logger } = deps;
  logger.debug("Change detected for source {source_id}", {
    source_id: source.id,
    source_name: source.name,
    policy_change_id: changeId,
    summary,
  });
  try {
    const change = recorded ?? await deps.store.getPolicyChange(changeId);
    if (!change) throw new Error(`policy change ${changeId} not found`);
    const outcomes = await deps.alerts.deliver(change, queued);
    const undelivered = outcomes.filter((o) => o.status === "failed" || o.status === "dead");
    for (const o of undelivered) {
      logger.error("Alert {alert_id} of change {policy_change_id} {status}: {error}", {
        alert_id: o.alert_id,
        policy_change_id: changeId,
        status: o.status,
        error: o.error ?? "",
      });
    }
    // Failed or dead rows of the outbox are counted there (alerts.status, retried by the
    // `alerts-deliver` cron job); only alerts that were never queued fail the source.
    const unqueued = undelivered.filter((o) => o.alert_id === null);
    if (unqueued.length === 0) return { sent: countSent(outcomes), error: null };
    const error = `${unqueued.length} of ${outcomes.length} alerts not queued: ` +
      (unqueued[0]?.error ?? "unknown error");
    return { sent: countSent(outcomes), error };
  } catch (e) {
    const error = errorMessage(e);
    logger.error("Cannot alert on change {policy_change_id} of source {source_id}: {error}", {
      source_id: source.id,
      policy_change_id: changeId,
      error,
    });
    return { sent: 0, error };
  }
}

function _logOutcome(deps: JobDeps, o: SourceOutcome): void {
  const props = {
    source_id: o.source.id,
    source_name: o.source.name,
    status: o.failure ? "failure" : "success",
    changed: o.policyChangeId !== null,
    baseline: o.baseline,
    not_modified: o.notModified,
    error_class: o.failure?.errorClass ?? null,
    error: o.failure?.message ?? null,
    duration_ms: o.durationMs,
  };
  // Per source at debug: hosted keeps 100 log events per 10 s; the batch's summary is at info.
  deps.logger.debug("Source {source_id} processed: {status}", props);
}
