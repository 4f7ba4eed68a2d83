/**
 * The alert engine: queue outbox rows, claim them, send them through their channel,
 * record the result. Delivery is at least once per (change, subscription) and
 * (event, subscription): rows are unique, a claim moves a row to `sending` with a lease
 * so two engines never send the same row, and a sender that dies mid-way leaves a row
 * whose lease expires and is claimed again; receivers dedupe the rare resend with
 * `X-Alert-Id`. An alert given up (dead) is reported to the operational subscriptions:
 * the database queues the `alert_dead` reports in the step that gives it up and returns
 * them, and the call that gave it up sends them before it returns. Nothing here throws to
 * the caller: failures become outcomes.
 * @module
 */
import { addressPolicy, defaultResolveHost } from "../pipeline/address_guard.ts";
import { pinnedConnect } from "../pipeline/pinned_connect.ts";
import pLimit from "p-limit";
import type { PolicyChange, Source } from "../types.ts";
import { retryDelayMs } from "../backoff.ts";
import { CHANNELS, PermanentDeliveryError } from "./channels/mod.ts";
import type { HttpDelivery } from "./channels/mod.ts";
import { sendDelivery } from "./http_delivery.ts";
import { type AlertMessage, buildAlertMessage } from "./message.ts";
import type {
  AbandonedAlert,
  AlertDeps,
  AlertKind,
  AlertOutcome,
  ClaimedAlert,
  OperationalEvent,
  QueuedAlert,
} from "./types.ts";
import { errorMessage } from "../errors.ts";

/** A claimed row is only sent when its lease outlasts the request by this much. */
const LEASE_MARGIN_MS = 2_000;

/** State of one engine call: changes loaded, the concurrency limit, reports to send. */
interface _Pass {
  changes: Map<string, PolicyChange>;
  limiter: NonNullable<AlertDeps["limit"]>;
  /** `alert_dead` reports the database queued while this call gave alerts up. */
  reports: QueuedAlert[];
}

function _pass(deps: AlertDeps, changes = new Map<string, PolicyChange>()): _Pass {
  return { changes, limiter: deps.limit ?? pLimit(deps.config.ALERT_CONCURRENCY), reports: [] };
}

/**
 * Announces a recorded policy change to every active subscription covering its source
 * (and every all-sources subscription): queues one outbox row per subscription, then
 * sends the rows that are due. Calling it again for the same change sends nothing more.
 * `queued`: the change's rows, already queued with the change (record_snapshot's
 * `p_queue_alerts`): they are sent without queueing them again. Never throws.
 * @example
 * const outcomes = await deliverAlerts(change, deps);
 * const alertsSent = outcomes.filter((o) => o.status === "sent").length;
 */
export async function deliverAlerts(
  change: PolicyChange,
  deps: AlertDeps,
  queued?: QueuedAlert[] | null,
): Promise<AlertOutcome[]> {
  const pass = _pass(deps, new Map([[change.id, change]]));
  if (queued) return await _deliverWithReports(queued, deps, pass);
  return await _queueAndDeliver(
    "policy_change",
    `Cannot queue alerts of policy change ${change.id}`,
    () => deps.store.enqueueChangeAlerts(change.id, deps.clock()),
    deps,
    pass,
  );
}

/**
 * Sends every due alert of earlier calls: failed rows past their backoff, pending rows a
 * crashed run left behind and `sending` rows whose lease expired. The job calls it first
 * in each run, and the `alerts-deliver` cron pass. At most ALERT_RETRY_MAX_PER_CALL rows
 * per call, and no new claim once the call ran ALERT_PASS_WALL_MS (hosted limits: the
 * rest waits for the next pass); never throws.
 */
export async function retryPendingAlerts(deps: AlertDeps): Promise<AlertOutcome[]> {
  const { config } = deps;
  const outcomes: AlertOutcome[] = [];
  const seen: string[] = [];
  const pass = _pass(deps);
  const started = deps.clock().getTime();
  const inTime = () => deps.clock().getTime() - started < config.ALERT_PASS_WALL_MS;
  while (seen.length < config.ALERT_RETRY_MAX_PER_CALL && inTime()) {
    const limit = Math.min(config.ALERT_BATCH_SIZE, config.ALERT_RETRY_MAX_PER_CALL - seen.length);
    let claimed: ClaimedAlert[];
    try {
      const result = await deps.store.claimAlerts({
        now: deps.clock(),
        leaseMs: _leaseMs(limit, deps),
        limit,
        maxAttempts: config.ALERT_MAX_ATTEMPTS,
        alertIds: null,
        excludeIds: seen,
      });
      claimed = result.claimed;
      outcomes.push(...result.abandoned.map((a) => _abandonedOutcome(a, deps)));
      pass.reports.push(...result.reports);
    } catch (error) {
      outcomes.push(_engineFailure("policy_change", "Cannot claim due alerts", error, deps));
      break;
    }
    seen.push(...claimed.map((a) => a.id));
    outcomes.push(...await _sendClaimed(claimed, deps, pass));
    if (claimed.length < limit) break;
  }
  // Reports a later claim of this loop already sent are not sent twice.
  pass.reports = pass.reports.filter((r) => !seen.includes(r.id));
  outcomes.push(...await _sendReports(pass, deps));
  return outcomes;
}

/**
 * Sends the given outbox rows now when they are due (an operator's retry of a failed or
 * dead alert, put back to pending first). Rows not due, sent or in flight elsewhere are
 * `skipped`. Never throws.
 */
export async function deliverQueuedAlerts(
  queued: QueuedAlert[],
  deps: AlertDeps,
): Promise<AlertOutcome[]> {
  return await _deliverWithReports(queued, deps, _pass(deps));
}

/**
 * Failing/recovered alerts of a source, to call after the job recorded the source's
 * outcome of this run (so `consecutive_failures` is current). Sends one "source failing"
 * alert when the streak reaches ALERT_FAILING_THRESHOLD, none on later failures, and one
 * "source recovered" alert on the next success; only to operational subscriptions.
 * Never throws.
 */
export async function handleSourceHealth(
  source: Pick<Source, "id">,
  succeeded: boolean,
  deps: AlertDeps,
): Promise<AlertOutcome[]> {
  const kind: AlertKind = succeeded ? "source_recovered" : "source_failing";
  try {
    const result = await deps.store.recordSourceHealth(
      source.id,
      succeeded,
      deps.config.ALERT_FAILING_THRESHOLD,
      deps.clock(),
    );
    if (result.transition === null) return [];
    const log = result.transition === "source_failing" ? deps.logger.warn : deps.logger.info;
    log.call(deps.logger, "Source {source_id} {transition}: {count} alerts queued", {
      source_id: source.id,
      transition: result.transition === "source_failing" ? "is failing" : "recovered",
      consecutive_failures: result.consecutive_failures,
      count: result.alerts.length,
    });
    return await _deliverWithReports(result.alerts, deps, _pass(deps));
  } catch (error) {
    return [_engineFailure(kind, `Cannot record the health of source ${source.id}`, error, deps)];
  }
}

/**
 * Sends an operational event (e.g. `run_missed`) to the operational subscriptions it
 * concerns, once per `event_key` and subscription. Never throws.
 * @example
 * await deliverOperationalAlert({
 *   kind: "run_missed",
 *   event_key: "run_missed:daily-fetch:2026-11-28",
 *   source_id: null,
 *   payload: { job_name: "daily-fetch", expected_at: "2026-11-28T02:00:00Z" },
 * }, deps);
 */
export async function deliverOperationalAlert(
  event: OperationalEvent,
  deps: AlertDeps,
): Promise<AlertOutcome[]> {
  return await _queueAndDeliver(
    event.kind,
    `Cannot queue ${event.kind} alerts`,
    () => {
      if (!event.event_key) throw new Error("event_key is empty");
      return deps.store.enqueueOperationalAlerts(event, deps.clock());
    },
    deps,
    _pass(deps),
  );
}

/**
 * Queues rows with `enqueue`, then {@link _deliverWithReports} them; a failure to queue is
 * the one outcome, an engine failure of `kind` that says `what` failed.
 */
async function _queueAndDeliver(
  kind: AlertKind,
  what: string,
  enqueue: () => Promise<QueuedAlert[]>,
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome[]> {
  let queued: QueuedAlert[];
  try {
    queued = await enqueue();
  } catch (error) {
    return [_engineFailure(kind, what, error, deps)];
  }
  return await _deliverWithReports(queued, deps, pass);
}

/** {@link _deliverQueued}, then the reports of the alerts it gave up. */
async function _deliverWithReports(
  queued: QueuedAlert[],
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome[]> {
  const outcomes = await _deliverQueued(queued, deps, pass);
  return [...outcomes, ...await _sendReports(pass, deps)];
}

/**
 * Sends the `alert_dead` reports queued during a call. A report that dies is not reported
 * (the database queues no report of a report), so this ends after one round.
 */
async function _sendReports(pass: _Pass, deps: AlertDeps): Promise<AlertOutcome[]> {
  if (pass.reports.length === 0) return [];
  const reports = pass.reports;
  pass.reports = [];
  deps.logger.warn("{count} alert_dead reports queued for operational subscribers", {
    count: reports.length,
  });
  return await _deliverWithReports(reports, deps, { ...pass, reports: [] });
}

/** Claims the given queued rows (those that are due) and sends them. */
async function _deliverQueued(
  queued: QueuedAlert[],
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome[]> {
  const outcomes: AlertOutcome[] = [];
  const handled = new Set<string>();
  for (let i = 0; i < queued.length; i += deps.config.ALERT_BATCH_SIZE) {
    const batch = queued.slice(i, i + deps.config.ALERT_BATCH_SIZE);
    let claimed: ClaimedAlert[];
    try {
      const result = await deps.store.claimAlerts({
        now: deps.clock(),
        leaseMs: _leaseMs(batch.length, deps),
        limit: batch.length,
        maxAttempts: deps.config.ALERT_MAX_ATTEMPTS,
        alertIds: batch.map((q) => q.id),
        excludeIds: [],
      });
      claimed = result.claimed;
      for (const a of result.abandoned) {
        handled.add(a.id);
        outcomes.push(_abandonedOutcome(a, deps));
      }
      pass.reports.push(...result.reports);
    } catch (error) {
      const message = `Cannot claim alerts: ${errorMessage(error)}`;
      deps.logger.error("Cannot claim {count} alerts: {error}", {
        count: batch.length,
        error: errorMessage(error),
      });
      for (const q of batch) {
        handled.add(q.id);
        outcomes.push({ ..._queuedRef(q), status: "failed", error: message });
      }
      continue;
    }
    for (const a of claimed) handled.add(a.id);
    outcomes.push(...await _sendClaimed(claimed, deps, pass));
  }
  for (const q of queued) {
    if (!handled.has(q.id)) {
      outcomes.push({ ..._queuedRef(q), status: "skipped", error: _skipReason(q) });
    }
  }
  return outcomes;
}

/** Sends claimed rows with bounded concurrency, loading the changes they need. */
async function _sendClaimed(
  claimed: ClaimedAlert[],
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome[]> {
  if (claimed.length === 0) return [];
  const { changes, limiter } = pass;
  const missing = [
    ...new Set(
      claimed.map((a) => a.policy_change_id).filter((id): id is string =>
        id !== null && !changes.has(id)
      ),
    ),
  ];
  let loadError: string | null = null;
  if (missing.length > 0) {
    try {
      for (const change of await deps.store.getPolicyChanges(missing)) {
        changes.set(change.id, change);
      }
    } catch (error) {
      loadError = `Cannot load policy changes: ${errorMessage(error)}`;
      deps.logger.error("Cannot load {count} policy changes: {error}", {
        count: missing.length,
        error: errorMessage(error),
      });
    }
  }
  return await Promise.all(
    claimed.map((alert) =>
      limiter(() => {
        const change = alert.policy_change_id ? changes.get(alert.policy_change_id) : undefined;
        return _sendOne(alert, change ?? null, loadError, deps, pass);
      })
    ),
  );
}

/** One attempt of one claimed row; records the result and returns the outcome. */
async function _sendOne(
  alert: ClaimedAlert,
  change: PolicyChange | null,
  loadError: string | null,
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome> {
  const { config, clock } = deps;
  const finish = (r: _Result) => _finish(alert, r, deps, pass);
  const retryOrDie = (error: string, retryAfterMs: number | null, httpStatus?: number) =>
    _retryOrDie(alert, error, retryAfterMs, httpStatus, deps, finish);
  const sub = alert.subscription;
  const what = `Cannot deliver alert ${alert.id} by ${sub.channel}`;
  try {
    if (!sub.active) {
      return await finish({
        status: "dead",
        error: `${what}: the subscription is no longer active`,
      });
    }
    const leaseLeft = Date.parse(alert.lease_until) - clock().getTime();
    if (leaseLeft < config.ALERT_TIMEOUT_MS + LEASE_MARGIN_MS) {
      // Another engine may claim the row once the lease ends: sending now could overlap.
      const error = `${what}: the claim ran out while waiting for a free slot`;
      return await retryOrDie(error, null);
    }
    if (alert.kind === "policy_change" && change === null && loadError !== null) {
      return await retryOrDie(`${what}: ${loadError}`, null);
    }
    let message: AlertMessage;
    let delivery: HttpDelivery;
    try {
      message = buildAlertMessage(alert, change);
      delivery = await CHANNELS[sub.channel].render(message, sub, {
        config,
        now: clock(),
        sign: (body) => deps.store.signBody(sub.id, body),
      });
    } catch (error) {
      if (error instanceof PermanentDeliveryError || alert.kind === "policy_change" && !change) {
        return await finish({ status: "dead", error: `${what}: ${errorMessage(error)}` });
      }
      return await retryOrDie(`${what}: ${errorMessage(error)}`, null);
    }
    const result = await sendDelivery(delivery, {
      fetch: deps.fetch,
      timeoutMs: config.ALERT_TIMEOUT_MS,
      now: clock(),
      policy: addressPolicy(config),
      resolveHost: deps.resolveHost ?? defaultResolveHost(),
      connect: deps.connect ?? pinnedConnect,
    });
    if (result.ok) {
      return await finish({ status: "sent", error: null, httpStatus: result.status });
    }
    const error = `${what}: ${result.error ?? "unknown error"}`;
    if (result.permanent) {
      return await finish({ status: "dead", error, httpStatus: result.status });
    }
    return await retryOrDie(error, result.retryAfterMs, result.status);
  } catch (error) {
    // Not expected (every step above classifies its errors); the row keeps its claim and
    // is claimed again when the lease ends.
    deps.logger.error("{error}", { alert_id: alert.id, error: `${what}: ${errorMessage(error)}` });
    return { ..._claimedRef(alert), status: "failed", error: `${what}: ${errorMessage(error)}` };
  }
}

/** Failed attempt: retry after a backoff, or dead once the attempts are used up. */
function _retryOrDie(
  alert: ClaimedAlert,
  error: string,
  retryAfterMs: number | null,
  httpStatus: number | undefined,
  deps: AlertDeps,
  finish: (r: _Result) => Promise<AlertOutcome>,
): Promise<AlertOutcome> {
  const { config } = deps;
  if (alert.attempt >= config.ALERT_MAX_ATTEMPTS) {
    return finish({
      status: "dead",
      error: `${error} (gave up after ${alert.attempt} attempts)`,
      httpStatus,
    });
  }
  const delay = retryDelayMs(
    alert.attempt,
    { baseMs: config.ALERT_BACKOFF_BASE_MS, maxMs: config.ALERT_BACKOFF_MAX_MS },
    retryAfterMs,
  );
  return finish({
    status: "failed",
    error,
    httpStatus,
    retryAt: new Date(deps.clock().getTime() + delay),
  });
}

interface _Result {
  status: "sent" | "failed" | "dead";
  error: string | null;
  httpStatus?: number;
  retryAt?: Date;
}

/** Records an attempt's result in the outbox, logs it and builds the outcome. */
async function _finish(
  alert: ClaimedAlert,
  r: _Result,
  deps: AlertDeps,
  pass: _Pass,
): Promise<AlertOutcome> {
  let recorded = true;
  let recordError: string | null = null;
  try {
    const finished = await deps.store.finishAlert({
      id: alert.id,
      attempt: alert.attempt,
      status: r.status,
      error: r.error,
      nextAttemptAt: r.status === "failed" ? r.retryAt ?? deps.clock() : null,
      now: deps.clock(),
    });
    recorded = finished.recorded;
    pass.reports.push(...finished.reports);
  } catch (error) {
    // The row keeps its claim and is claimed again when the lease ends; a receiver that
    // already got it dedupes the resend by X-Alert-Id.
    recordError = `Cannot record the result of alert ${alert.id}: ${errorMessage(error)}`;
    deps.logger.error("{record_error}", { alert_id: alert.id, record_error: recordError });
  }
  const props = {
    alert_id: alert.id,
    subscription_id: alert.subscription.id,
    channel: alert.subscription.channel,
    kind: alert.kind,
    attempt: alert.attempt,
    http_status: r.httpStatus,
    error: r.error,
  };
  if (!recorded) {
    deps.logger.warn(
      "Alert {alert_id} was claimed again by another engine before attempt {attempt} was recorded",
      props,
    );
  }
  if (r.status === "sent") deps.logger.info("Alert {alert_id} sent by {channel}", props);
  else if (r.status === "failed") deps.logger.warn("{error}; will retry", props);
  else deps.logger.error("{error}; giving up", props);
  const outcome: AlertOutcome = { ..._claimedRef(alert), status: r.status };
  if (r.httpStatus !== undefined) outcome.http_status = r.httpStatus;
  const errors = [r.error, recordError].filter((e): e is string => e !== null);
  if (errors.length > 0) outcome.error = errors.join("; ");
  return outcome;
}

function _leaseMs(rows: number, deps: AlertDeps): number {
  const { config } = deps;
  const rounds = Math.ceil(rows / config.ALERT_CONCURRENCY);
  return config.ALERT_LEASE_MS + rounds * (config.ALERT_TIMEOUT_MS + LEASE_MARGIN_MS);
}

function _claimedRef(alert: ClaimedAlert) {
  return {
    alert_id: alert.id,
    subscription_id: alert.subscription.id,
    channel: alert.subscription.channel,
    kind: alert.kind,
    attempts: alert.attempt,
  };
}

function _queuedRef(q: QueuedAlert) {
  return {
    alert_id: q.id,
    subscription_id: q.subscription_id,
    channel: q.channel,
    kind: q.kind,
    attempts: q.attempts,
  };
}

function _abandonedOutcome(a: AbandonedAlert, deps: AlertDeps): AlertOutcome {
  deps.logger.error("{error}", { alert_id: a.id, error: a.error });
  return {
    alert_id: a.id,
    subscription_id: a.subscription_id,
    channel: a.channel,
    kind: a.kind,
    attempts: a.attempts,
    status: "dead",
    error: a.error,
  };
}

function _skipReason(q: QueuedAlert): string {
  switch (q.status) {
    case "sent":
      return "already sent";
    case "dead":
      return "given up earlier";
    case "failed":
      return `waiting to retry at ${q.next_attempt_at}`;
    default:
      return "being sent by another run";
  }
}

function _engineFailure(
  kind: AlertKind,
  what: string,
  error: unknown,
  deps: AlertDeps,
): AlertOutcome {
  const message = `${what}: ${errorMessage(error)}`;
  deps.logger.error("{error}", { error: message });
  return {
    alert_id: null,
    subscription_id: null,
    channel: null,
    kind,
    status: "failed",
    error: message,
  };
}

/** The engine's four operations bound to one set of dependencies (see {@link bindAlertEngine}). */
export interface BoundAlertEngine {
  deliver(change: PolicyChange, queued?: QueuedAlert[] | null): Promise<AlertOutcome[]>;
  retryPending(): Promise<AlertOutcome[]>;
  sourceHealth(source: Pick<Source, "id">, succeeded: boolean): Promise<AlertOutcome[]>;
  operational(event: OperationalEvent): Promise<AlertOutcome[]>;
}

/**
 * Binds the engine to its dependencies with one limiter shared by every call, so a job
 * that alerts on several sources at once stays within ALERT_CONCURRENCY overall.
 * @example
 * const alerts = bindAlertEngine({ fetch, clock, logger, store, config });
 * await alerts.retryPending();
 */
export function bindAlertEngine(deps: AlertDeps): BoundAlertEngine {
  const shared: AlertDeps = { ...deps, limit: deps.limit ?? pLimit(deps.config.ALERT_CONCURRENCY) };
  return {
    deliver: (change, queued) => deliverAlerts(change, shared, queued),
    retryPending: () => retryPendingAlerts(shared),
    sourceHealth: (source, succeeded) => handleSourceHealth(source, succeeded, shared),
    operational: (event) => deliverOperationalAlert(event, shared),
  };
}
