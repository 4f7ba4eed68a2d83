/**
 * An in-memory {@link AlertStore} with the same semantics as the database one (unique
 * rows, atomic claims with leases, fencing by attempt, failing/recovered transitions), for
 * unit tests and local experiments without a database.
 * @module
 */
import type { PolicyChange, Source, Subscription } from "../types.ts";
import { hmacSha256Hex } from "./signature.ts";
import type {
  AbandonedAlert,
  AlertKind,
  AlertStatus,
  AlertStore,
  ClaimedAlert,
  ClaimOptions,
  ClaimResult,
  FinishOptions,
  FinishResult,
  OperationalEvent,
  QueuedAlert,
  SourceHealthResult,
} from "./types.ts";

/** The source columns the alert store reads. */
export type MemorySource =
  & Pick<Source, "id" | "name" | "url">
  & Partial<
    Pick<Source, "consecutive_failures" | "failing_alerted" | "last_success_at" | "last_checked_at">
  >
  & { last_error?: string | null; last_error_class?: string | null };

/** A row of the in-memory `alerts` table (the columns of `public.alerts`). */
export interface MemoryAlertRow {
  id: string;
  policy_change_id: string | null;
  subscription_id: string;
  kind: AlertKind;
  event_key: string | null;
  source_id: string | null;
  payload: Record<string, unknown> | null;
  status: AlertStatus;
  attempts: number;
  next_attempt_at: Date;
  sent_at: Date | null;
  error: string | null;
  created_at: Date;
  seq: number;
}

/** Initial content of a {@link MemoryAlertStore}. */
export interface MemoryAlertStoreSeed {
  sources?: MemorySource[];
  changes?: PolicyChange[];
  subscriptions?: Subscription[];
}

/** In-memory alert outbox; tables are public so tests can arrange and inspect them. */
export class MemoryAlertStore implements AlertStore {
  /** `public.sources`, by id. */
  readonly sources = new Map<string, Required<MemorySource>>();
  /** `public.policy_changes`, by id. */
  readonly changes = new Map<string, PolicyChange>();
  /** `public.subscriptions`, by id. */
  readonly subscriptions = new Map<string, Subscription>();
  /** `public.alerts`. */
  readonly alerts: MemoryAlertRow[] = [];
  #seq = 0;

  /** Creates a store holding the seed rows. */
  constructor(seed: MemoryAlertStoreSeed = {}) {
    for (const s of seed.sources ?? []) this.putSource(s);
    for (const c of seed.changes ?? []) this.changes.set(c.id, c);
    for (const s of seed.subscriptions ?? []) this.subscriptions.set(s.id, s);
  }

  /** Inserts or replaces a source. */
  putSource(source: MemorySource): void {
    this.sources.set(source.id, {
      consecutive_failures: 0,
      failing_alerted: false,
      last_success_at: null,
      last_checked_at: null,
      last_error: null,
      last_error_class: null,
      ...source,
    });
  }

  /** @inheritdoc */
  enqueueChangeAlerts(changeId: string, now: Date): Promise<QueuedAlert[]> {
    const change = this.changes.get(changeId);
    if (!change) {
      return Promise.reject(
        new Error(`Cannot queue alerts of policy change ${changeId}: not found`),
      );
    }
    for (const sub of this.subscriptions.values()) {
      if (!sub.active || (sub.source_id !== null && sub.source_id !== change.source_id)) continue;
      if (
        this.alerts.some((a) => a.policy_change_id === changeId && a.subscription_id === sub.id)
      ) {
        continue;
      }
      this.#insert({
        policy_change_id: changeId,
        subscription_id: sub.id,
        kind: "policy_change",
        event_key: null,
        source_id: change.source_id,
        payload: null,
      }, now);
    }
    return Promise.resolve(
      this.alerts.filter((a) => a.policy_change_id === changeId).map((a) => this.#queued(a)),
    );
  }

  /** @inheritdoc */
  enqueueOperationalAlerts(event: OperationalEvent, now: Date): Promise<QueuedAlert[]> {
    if (!event.event_key) return Promise.reject(new Error("Cannot queue alerts: empty event_key"));
    this.#enqueueOperational(event, now);
    return Promise.resolve(this.#byEventKey(event.event_key));
  }

  /** @inheritdoc */
  recordSourceHealth(
    sourceId: string,
    succeeded: boolean,
    threshold: number,
    now: Date,
  ): Promise<SourceHealthResult> {
    const source = this.sources.get(sourceId);
    if (!source) {
      return Promise.reject(new Error(`Cannot record the health of source ${sourceId}: not found`));
    }
    let kind: "source_failing" | "source_recovered";
    let payload: Record<string, unknown>;
    if (!succeeded && source.consecutive_failures >= threshold && !source.failing_alerted) {
      source.failing_alerted = true;
      kind = "source_failing";
      payload = {
        consecutive_failures: source.consecutive_failures,
        threshold,
        last_error: source.last_error,
        last_error_class: source.last_error_class,
        last_success_at: source.last_success_at,
        last_checked_at: source.last_checked_at,
      };
    } else if (succeeded && source.failing_alerted) {
      source.failing_alerted = false;
      kind = "source_recovered";
      payload = { recovered_at: now.toISOString(), last_success_at: source.last_success_at };
    } else {
      return Promise.resolve({
        transition: null,
        consecutive_failures: source.consecutive_failures,
        alerts: [],
      });
    }
    const event_key = `${kind}:${sourceId}:${now.getTime()}`;
    this.#enqueueOperational({ kind, event_key, source_id: sourceId, payload }, now);
    return Promise.resolve({
      transition: kind,
      consecutive_failures: source.consecutive_failures,
      alerts: this.#byEventKey(event_key),
    });
  }

  /** @inheritdoc */
  claimAlerts(options: ClaimOptions): Promise<ClaimResult> {
    const now = options.now.getTime();
    const within = (a: MemoryAlertRow) =>
      options.alertIds === null || options.alertIds.includes(a.id);
    const abandoned: AbandonedAlert[] = [];
    const reports: QueuedAlert[] = [];
    for (const a of this.alerts) {
      if (
        a.status === "sending" && a.next_attempt_at.getTime() <= now &&
        a.attempts >= options.maxAttempts && within(a)
      ) {
        a.status = "dead";
        a.error = `Cannot deliver alert ${a.id}: the sender of attempt ${a.attempts} stopped ` +
          `before recording a result (gave up after ${a.attempts} attempts)`;
        const sub = this.#subscription(a.subscription_id);
        abandoned.push({
          id: a.id,
          kind: a.kind,
          subscription_id: a.subscription_id,
          channel: sub.channel,
          attempts: a.attempts,
          error: a.error,
        });
        reports.push(...this.#reportDead(a, options.now));
      }
    }
    const due = this.alerts
      .filter((a) =>
        (a.status === "pending" || a.status === "failed" || a.status === "sending") &&
        a.next_attempt_at.getTime() <= now && a.attempts < options.maxAttempts && within(a) &&
        !options.excludeIds.includes(a.id)
      )
      // Same order as the SQL claim: fewer attempts first among rows due at the same time.
      .sort((x, y) =>
        x.next_attempt_at.getTime() - y.next_attempt_at.getTime() || x.attempts - y.attempts ||
        x.seq - y.seq
      )
      .slice(0, options.limit);
    const leaseUntil = new Date(now + options.leaseMs);
    const claimed: ClaimedAlert[] = due.map((a) => {
      a.status = "sending";
      a.attempts += 1;
      a.next_attempt_at = leaseUntil;
      const sub = this.#subscription(a.subscription_id);
      const source = a.source_id ? this.sources.get(a.source_id) : undefined;
      return {
        id: a.id,
        kind: a.kind,
        attempt: a.attempts,
        lease_until: leaseUntil.toISOString(),
        policy_change_id: a.policy_change_id,
        event_key: a.event_key,
        payload: a.payload,
        created_at: a.created_at.toISOString(),
        subscription: {
          id: sub.id,
          source_id: sub.source_id,
          channel: sub.channel,
          target: sub.target,
          has_secret: sub.secret !== null,
          active: sub.active,
        },
        source: source ? { id: source.id, name: source.name, url: source.url } : null,
      };
    });
    return Promise.resolve({ claimed, abandoned, reports });
  }

  /** @inheritdoc */
  finishAlert(options: FinishOptions): Promise<FinishResult> {
    const a = this.alerts.find((row) => row.id === options.id);
    if (!a || a.status !== "sending" || a.attempts !== options.attempt) {
      return Promise.resolve({ recorded: false, reports: [] });
    }
    a.status = options.status;
    a.error = options.status === "sent" ? null : options.error;
    if (options.status === "sent") a.sent_at = options.now;
    if (options.status === "failed") {
      if (!options.nextAttemptAt) {
        return Promise.reject(
          new Error(`Cannot record alert ${a.id}: failed without a retry time`),
        );
      }
      a.next_attempt_at = options.nextAttemptAt;
    } else {
      a.next_attempt_at = options.now;
    }
    return Promise.resolve({ recorded: true, reports: this.#reportDead(a, options.now) });
  }

  /** As private.report_dead_alert: alert_dead to the other operational subscriptions. */
  #reportDead(a: MemoryAlertRow, now: Date): QueuedAlert[] {
    const sub = this.#subscription(a.subscription_id);
    if (a.status !== "dead" || a.kind === "alert_dead" || !sub.active) return [];
    const event_key = `alert_dead:${a.id}:${now.getTime()}`;
    this.#enqueueOperational(
      {
        kind: "alert_dead",
        event_key,
        source_id: a.source_id,
        payload: {
          alert_id: a.id,
          alert_kind: a.kind,
          subscription_id: a.subscription_id,
          channel: sub.channel,
          policy_change_id: a.policy_change_id,
          event_key: a.event_key,
          attempts: a.attempts,
          error: a.error,
          queued_at: a.created_at.toISOString(),
          given_up_at: now.toISOString(),
        },
      },
      now,
      a.subscription_id,
    );
    return this.#byEventKey(event_key);
  }

  /** @inheritdoc */
  getPolicyChanges(ids: string[]): Promise<PolicyChange[]> {
    return Promise.resolve(
      ids.map((id) => this.changes.get(id)).filter((c): c is PolicyChange => c !== undefined),
    );
  }

  /** @inheritdoc */
  async signBody(subscriptionId: string, body: string): Promise<string> {
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub) {
      throw new Error(`Cannot sign alert body for subscription ${subscriptionId}: not found`);
    }
    if (sub.secret === null) {
      throw new Error(
        `Cannot sign alert body for subscription ${subscriptionId}: it has no secret`,
      );
    }
    return await hmacSha256Hex(sub.secret, body);
  }

  #enqueueOperational(event: OperationalEvent, now: Date, excludeSubscriptionId?: string): void {
    for (const sub of this.subscriptions.values()) {
      if (!sub.active || !sub.operational_alerts || sub.id === excludeSubscriptionId) continue;
      if (event.source_id !== null && sub.source_id !== null && sub.source_id !== event.source_id) {
        continue;
      }
      if (
        this.alerts.some((a) => a.event_key === event.event_key && a.subscription_id === sub.id)
      ) {
        continue;
      }
      this.#insert({
        policy_change_id: null,
        subscription_id: sub.id,
        kind: event.kind,
        event_key: event.event_key,
        source_id: event.source_id,
        payload: event.payload,
      }, now);
    }
  }

  #insert(
    row: Pick<
      MemoryAlertRow,
      "policy_change_id" | "subscription_id" | "kind" | "event_key" | "source_id" | "payload"
    >,
    now: Date,
  ): void {
    this.alerts.push({
      ...row,
      id: crypto.randomUUID(),
      status: "pending",
      attempts: 0,
      next_attempt_at: now,
      sent_at: null,
      error: null,
      created_at: now,
      seq: this.#seq++,
    });
  }

  #byEventKey(eventKey: string): QueuedAlert[] {
    return this.alerts.filter((a) => a.event_key === eventKey).map((a) => this.#queued(a));
  }

  #queued(a: MemoryAlertRow): QueuedAlert {
    return {
      id: a.id,
      subscription_id: a.subscription_id,
      channel: this.#subscription(a.subscription_id).channel,
      kind: a.kind,
      status: a.status,
      attempts: a.attempts,
      next_attempt_at: a.next_attempt_at.toISOString(),
    };
  }

  #subscription(id: string): Subscription {
    const sub = this.subscriptions.get(id);
    if (!sub) throw new Error(`Cannot read subscription ${id}: not found`);
    return sub;
  }
}
