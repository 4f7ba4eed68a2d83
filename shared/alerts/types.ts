/**
 * Types of the alert engine: its dependencies, the outbox store it writes through, and
 * the outcomes it reports to the job.
 * @module
 */
import type { ResolveHost } from "../pipeline/address_guard.ts";
import type { PinnedConnect } from "../pipeline/pinned_connect.ts";
import type { LimitFunction } from "p-limit";
import type { Config } from "../config.ts";
import type { Clock, FetchFn, Logger, PolicyChange, Subscription } from "../types.ts";

/** What an alert announces (`alerts.kind`). */
export type AlertKind =
  | "policy_change"
  | "source_failing"
  | "source_recovered"
  | "run_missed"
  /** Another alert was given up (dead); queued by the database when it dies. */
  | "alert_dead";

/** Operational alert kinds: sent only to subscriptions with `operational_alerts`. */
export type OperationalAlertKind = Exclude<AlertKind, "policy_change">;

/** Delivery channel of a subscription. */
export type AlertChannelName = Subscription["channel"];

/** Status of an outbox row (`alerts.status`). */
export type AlertStatus = "pending" | "sending" | "sent" | "failed" | "dead";

/** The configuration slice the alert engine reads. */
export type AlertConfig = Pick<
  Config,
  | "ALERT_TIMEOUT_MS"
  | "ALERT_MAX_ATTEMPTS"
  | "ALERT_BACKOFF_BASE_MS"
  | "ALERT_BACKOFF_MAX_MS"
  | "ALERT_CONCURRENCY"
  | "ALERT_FAILING_THRESHOLD"
  | "ALERT_LEASE_MS"
  | "ALERT_BATCH_SIZE"
  | "ALERT_RETRY_MAX_PER_CALL"
  | "ALERT_PASS_WALL_MS"
  | "ALERT_WEBHOOK_MAX_DIFF_BYTES"
  | "ALERT_EMAIL_MAX_DIFF_CHARS"
  | "EMAIL_API_URL"
  | "EMAIL_API_KEY"
  | "EMAIL_FROM"
  | "FETCH_ALLOW_LOOPBACK"
  | "FETCH_ALLOW_PRIVATE_NETWORKS"
>;

/**
 * A subscription as the engine sees it: the secret never leaves the database, only
 * whether there is one (`has_secret`); signing is {@link AlertStore.signBody}.
 */
export interface AlertSubscription {
  id: string;
  source_id: string | null;
  channel: AlertChannelName;
  target: string;
  has_secret: boolean;
  active: boolean;
}

/** The source an alert is about, as shown to recipients. */
export interface AlertSource {
  id: string;
  name: string;
  url: string;
}

/** An outbox row as returned when alerts are queued (no delivery data). */
export interface QueuedAlert {
  id: string;
  subscription_id: string;
  channel: AlertChannelName;
  kind: AlertKind;
  status: AlertStatus;
  attempts: number;
  next_attempt_at: string;
}

/**
 * An outbox row claimed for sending: moved to `sending` with `attempts` already counting
 * this attempt and a lease until `lease_until` (stored in `next_attempt_at`), after which
 * another engine may claim it again.
 */
export interface ClaimedAlert {
  id: string;
  kind: AlertKind;
  /** The attempt number this claim is (attempts after the claim); also the fencing token. */
  attempt: number;
  lease_until: string;
  policy_change_id: string | null;
  event_key: string | null;
  payload: Record<string, unknown> | null;
  created_at: string;
  subscription: AlertSubscription;
  source: AlertSource | null;
}

/**
 * A row the claim gave up on: its sender lost the lease on the last allowed attempt, so
 * it was moved to `dead` instead of being claimed again.
 */
export interface AbandonedAlert {
  id: string;
  kind: AlertKind;
  subscription_id: string;
  channel: AlertChannelName;
  attempts: number;
  error: string;
}

/** What {@link AlertStore.claimAlerts} returns. */
export interface ClaimResult {
  claimed: ClaimedAlert[];
  abandoned: AbandonedAlert[];
  /** The `alert_dead` reports the abandoned rows queued (to send now). */
  reports: QueuedAlert[];
}

/** Options of {@link AlertStore.claimAlerts}. */
export interface ClaimOptions {
  now: Date;
  /** Length of the lease given to each claimed row. */
  leaseMs: number;
  limit: number;
  maxAttempts: number;
  /** Claim only among these rows (null: any due row). */
  alertIds: string[] | null;
  /** Never claim these rows (already handled in this call). */
  excludeIds: string[];
}

/** Options of {@link AlertStore.finishAlert}. */
export interface FinishOptions {
  id: string;
  /** The attempt the caller claimed; the update is skipped when the row moved on. */
  attempt: number;
  status: "sent" | "failed" | "dead";
  error: string | null;
  /** When a failed row is due again; null for sent and dead rows. */
  nextAttemptAt: Date | null;
  now: Date;
}

/** What {@link AlertStore.finishAlert} did. */
export interface FinishResult {
  /** False when the claim was lost (the row moved on): nothing was changed. */
  recorded: boolean;
  /**
   * The `alert_dead` reports queued when the row was recorded as dead, in the same
   * transaction (one per active operational subscription concerned, never the row's own).
   */
  reports: QueuedAlert[];
}

/** An operational event to announce to operational subscriptions. */
export interface OperationalEvent {
  kind: OperationalAlertKind;
  /** Deduplication key: one alert per event key and subscription, ever. */
  event_key: string;
  /** Source concerned, or null for events about the whole job (run_missed). */
  source_id: string | null;
  payload: Record<string, unknown>;
}

/** What {@link AlertStore.recordSourceHealth} did. */
export interface SourceHealthResult {
  /** The transition that queued alerts, or null when none was due. */
  transition: "source_failing" | "source_recovered" | null;
  consecutive_failures: number;
  alerts: QueuedAlert[];
}

/**
 * The alert outbox. Every write is idempotent: rows are unique per (change, subscription)
 * and per (event key, subscription), and a claim moves a row to `sending` atomically, so
 * concurrent engines never send the same row.
 */
export interface AlertStore {
  /**
   * Queues one row per active subscription covering the change's source (or all
   * sources) and returns every row of the change, new and old.
   */
  enqueueChangeAlerts(changeId: string, now: Date): Promise<QueuedAlert[]>;
  /** Queues one row per active operational subscription concerned by the event. */
  enqueueOperationalAlerts(event: OperationalEvent, now: Date): Promise<QueuedAlert[]>;
  /**
   * Reads the source's failure streak (written by the job before this call) and, in one
   * transaction, flips `failing_alerted` and queues "source failing" alerts when the streak
   * reaches `threshold`, or "source recovered" alerts on the first success after that.
   */
  recordSourceHealth(
    sourceId: string,
    succeeded: boolean,
    threshold: number,
    now: Date,
  ): Promise<SourceHealthResult>;
  /**
   * Claims due rows (pending, failed past their backoff, or sending past their lease);
   * rows whose last sender died are given up (abandoned) and reported.
   */
  claimAlerts(options: ClaimOptions): Promise<ClaimResult>;
  /**
   * Records the result of an attempt (`recorded` false when the claim was lost); a row
   * given up queues its `alert_dead` reports in the same transaction.
   */
  finishAlert(options: FinishOptions): Promise<FinishResult>;
  /** Loads policy changes by id (missing ids are left out). */
  getPolicyChanges(ids: string[]): Promise<PolicyChange[]>;
  /** Hex HMAC-SHA256 of `body` with the subscription's secret, computed where it lives. */
  signBody(subscriptionId: string, body: string): Promise<string>;
}

/** Dependencies of the alert engine. */
export interface AlertDeps {
  fetch: FetchFn;
  clock: Clock;
  logger: Logger;
  store: AlertStore;
  config: AlertConfig;
  /** Resolver of the delivery's SSRF guard; default `Deno.resolveDns`. */
  resolveHost?: ResolveHost;
  /** Connects to the checked address; default the pinned socket (pinned_connect.ts). */
  connect?: PinnedConnect;
  /**
   * Limiter shared by every delivery of the caller (e.g. one per job invocation), so
   * concurrent `deliverAlerts` calls stay within ALERT_CONCURRENCY together. Default: one
   * limiter per call.
   */
  limit?: LimitFunction;
}

/** The result of one alert in one engine call; the job counts `sent` into `alerts_sent`. */
export interface AlertOutcome {
  /** Outbox row, or null when the engine could not queue anything (see `error`). */
  alert_id: string | null;
  subscription_id: string | null;
  channel: AlertChannelName | null;
  kind: AlertKind;
  /**
   * sent: accepted by the receiver; failed: will be retried; dead: given up; skipped: not
   * attempted by this call (already sent, in flight elsewhere or waiting for its backoff).
   */
  status: "sent" | "failed" | "dead" | "skipped";
  /** Attempts so far, when known. */
  attempts?: number;
  /** HTTP status of the receiver's answer, when there was one. */
  http_status?: number;
  error?: string;
}
