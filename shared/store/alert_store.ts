/**
 * The alert outbox on Supabase: an {@link AlertStore} over a service-role supabase-js
 * client, calling the RPCs of `supabase/migrations/*_alerts.sql` (atomic enqueue, claim
 * with `for update skip locked` and a lease, fenced finish, source-health transitions,
 * signing inside the database). Answers are validated with zod before the engine sees
 * them.
 * @module
 */
import { z } from "zod";
import type {
  AlertStore,
  ClaimOptions,
  ClaimResult,
  FinishOptions,
  FinishResult,
  OperationalEvent,
  QueuedAlert,
  SourceHealthResult,
} from "../alerts/types.ts";
import type { PolicyChange } from "../types.ts";
import { callRpc, type Db, parseAnswer, storeError } from "./client.ts";
import {
  AlertChannelSchema as Channel,
  AlertKindSchema as Kind,
  POLICY_CHANGE_COLUMNS,
  PolicyChangeSchema,
  QueuedAlertSchema as QueuedSchema,
  Timestamp,
} from "./rows.ts";

const ClaimSchema = z.object({
  claimed: z.array(z.object({
    id: z.string(),
    kind: Kind,
    attempt: z.number().int(),
    lease_until: Timestamp,
    policy_change_id: z.string().nullable(),
    event_key: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).nullable(),
    created_at: Timestamp,
    subscription: z.object({
      id: z.string(),
      source_id: z.string().nullable(),
      channel: Channel,
      target: z.string(),
      has_secret: z.boolean(),
      active: z.boolean(),
    }),
    source: z.object({ id: z.string(), name: z.string(), url: z.string() }).nullable(),
  })),
  abandoned: z.array(z.object({
    id: z.string(),
    kind: Kind,
    subscription_id: z.string(),
    channel: Channel,
    attempts: z.number().int(),
    error: z.string(),
  })),
  reports: z.array(QueuedSchema),
});

const FinishSchema = z.object({ recorded: z.boolean(), reports: z.array(QueuedSchema) });

const HealthSchema = z.object({
  transition: z.enum(["source_failing", "source_recovered"]).nullable(),
  consecutive_failures: z.number().int(),
  alerts: z.array(QueuedSchema),
});

/** Largest number of ids per `in (...)` filter (keeps the URL short). */
const IN_CHUNK = 100;

/** Options of {@link createSupabaseAlertStore}. */
export interface AlertStoreOptions {
  /**
   * Limits the store to these subscriptions' alerts (read at each call): it queues only
   * for them, claims only their rows and reports dead alerts only to them. Default: every
   * subscription (the function's own work). Tests of the engine share the stack's outbox
   * this way; an operator's tool can drain one subscription.
   */
  subscriptionIds?: () => readonly string[];
}

/**
 * Creates the Supabase alert store. `db` must be a service-role client: the RPCs are
 * granted to service_role only.
 * @example
 * const store = createSupabaseAlertStore(serviceClient(url, serviceRoleKey));
 */
export function createSupabaseAlertStore(db: Db, options: AlertStoreOptions = {}): AlertStore {
  const rpc = <T>(what: string, fn: string, args: Record<string, unknown>, schema: z.ZodType<T>) =>
    callRpc(db, what, fn, args, schema);
  /** The scope argument of the RPCs that choose rows (null: every subscription). */
  const scope = () => options.subscriptionIds ? [...options.subscriptionIds()] : null;

  return {
    enqueueChangeAlerts(changeId, now): Promise<QueuedAlert[]> {
      return rpc(
        `Cannot queue alerts of policy change ${changeId}`,
        "enqueue_policy_change_alerts",
        { p_policy_change_id: changeId, p_now: now.toISOString(), p_subscription_ids: scope() },
        z.array(QueuedSchema),
      );
    },

    enqueueOperationalAlerts(event: OperationalEvent, now): Promise<QueuedAlert[]> {
      return rpc(
        `Cannot queue ${event.kind} alerts`,
        "enqueue_operational_alerts",
        {
          p_kind: event.kind,
          p_event_key: event.event_key,
          p_source_id: event.source_id,
          p_payload: event.payload,
          p_now: now.toISOString(),
          p_subscription_ids: scope(),
        },
        z.array(QueuedSchema),
      );
    },

    recordSourceHealth(sourceId, succeeded, threshold, now): Promise<SourceHealthResult> {
      return rpc(
        `Cannot record the health of source ${sourceId}`,
        "record_source_health",
        {
          p_source_id: sourceId,
          p_succeeded: succeeded,
          p_threshold: threshold,
          p_now: now.toISOString(),
          p_subscription_ids: scope(),
        },
        HealthSchema,
      );
    },

    claimAlerts(options: ClaimOptions): Promise<ClaimResult> {
      return rpc(
        "Cannot claim alerts",
        "claim_alerts",
        {
          p_now: options.now.toISOString(),
          p_lease_ms: options.leaseMs,
          p_limit: options.limit,
          p_max_attempts: options.maxAttempts,
          p_alert_ids: options.alertIds,
          p_exclude_ids: options.excludeIds,
          p_subscription_ids: scope(),
        },
        ClaimSchema,
      );
    },

    finishAlert(options: FinishOptions): Promise<FinishResult> {
      return rpc(
        `Cannot record the result of alert ${options.id}`,
        "finish_alert",
        {
          p_alert_id: options.id,
          p_attempt: options.attempt,
          p_status: options.status,
          p_error: options.error,
          p_next_attempt_at: options.nextAttemptAt?.toISOString() ?? null,
          p_now: options.now.toISOString(),
          p_subscription_ids: scope(),
        },
        FinishSchema,
      );
    },

    async getPolicyChanges(ids: string[]): Promise<PolicyChange[]> {
      const changes: PolicyChange[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        const { data, error } = await db.from("policy_changes")
          .select(POLICY_CHANGE_COLUMNS)
          .in("id", ids.slice(i, i + IN_CHUNK));
        if (error) throw storeError("Cannot load policy changes", error);
        changes.push(
          ...parseAnswer("Cannot load policy changes", z.array(PolicyChangeSchema), data),
        );
      }
      return changes;
    },

    signBody(subscriptionId, body): Promise<string> {
      return rpc(
        `Cannot sign alert body for subscription ${subscriptionId}`,
        "sign_alert_body",
        { p_subscription_id: subscriptionId, p_body: body },
        z.string().regex(/^[0-9a-f]{64}$/),
      );
    },
  };
}
