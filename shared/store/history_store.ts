/**
 * The operators' reads of what happened on supabase-js (service role): policy changes
 * with their diffs, the alert outbox, and the retry of a failed or dead alert
 * (`public.retry_alert`). Answers are parsed with zod.
 * @module
 */
import { z } from "zod";
import {
  type AlertView,
  AlertViewSchema,
  type ChangeView,
  ChangeViewSchema,
} from "../operators/schemas.ts";
import { normaliseSummary } from "../alerts/message.ts";
import { callRpc, type Db, parseAnswer, storeError } from "./client.ts";

/** Filters of {@link HistoryStore.listChanges}. */
export interface ChangeFilter {
  sourceId?: string;
  /** Only changes detected at or after this time. */
  since?: Date;
  limit: number;
}

/** Filters of {@link HistoryStore.listAlerts}. */
export interface AlertFilter {
  statuses?: readonly string[];
  limit: number;
}

/** What {@link HistoryStore.retryAlert} did. */
export interface RetryOutcome {
  /** The alert was failed or dead and is pending again. */
  retried: boolean;
  /** Its status now; null when no alert has this id. */
  status: string | null;
}

/** The operators' history reads. */
export interface HistoryStore {
  /** Policy changes, newest first. */
  listChanges(filter: ChangeFilter): Promise<ChangeView[]>;
  /** Alerts, most recently changed first. */
  listAlerts(filter: AlertFilter): Promise<AlertView[]>;
  /** One alert, or null. */
  getAlert(id: string): Promise<AlertView | null>;
  /** Puts a failed or dead alert back in the outbox, due at `now`. */
  retryAlert(id: string, now: Date): Promise<RetryOutcome>;
}

const CHANGE_COLUMNS = "id, source_id, detected_at, summary, diff, source:sources(name, url)";
const ALERT_COLUMNS = "id, kind, status, attempts, next_attempt_at, sent_at, error, created_at, " +
  "updated_at, subscription_id, policy_change_id, source_id, subscription:subscriptions(channel)";

const ChangeRowSchema = z.object({
  source: z.object({ name: z.string(), url: z.string() }).nullable(),
}).passthrough();

const AlertRowSchema = z.object({
  subscription: z.object({ channel: z.string() }).nullable(),
}).passthrough();

function _change(what: string, row: unknown): ChangeView {
  const { source, ...rest } = parseAnswer(what, ChangeRowSchema, row);
  return parseAnswer(what, ChangeViewSchema, {
    ...rest,
    summary: normaliseSummary(rest.summary),
    source_name: source?.name ?? null,
    source_url: source?.url ?? null,
  });
}

function _alert(what: string, row: unknown): AlertView {
  const { subscription, ...rest } = parseAnswer(what, AlertRowSchema, row);
  return parseAnswer(what, AlertViewSchema, { ...rest, channel: subscription?.channel ?? null });
}

/**
 * Creates the history store over a service-role client.
 * @example
 * const history = createHistoryStore(db);
 * const changes = await history.listChanges({ sourceId, limit: 20 });
 */
export function createHistoryStore(db: Db): HistoryStore {
  async function getAlert(id: string): Promise<AlertView | null> {
    const { data, error } = await db.from("alerts").select(ALERT_COLUMNS).eq("id", id);
    if (error) throw storeError(`Cannot read alert ${id}`, error);
    const row = (data ?? [])[0];
    return row === undefined ? null : _alert(`Cannot read alert ${id}`, row);
  }

  return {
    async listChanges(filter) {
      let q = db.from("policy_changes").select(CHANGE_COLUMNS);
      if (filter.sourceId !== undefined) q = q.eq("source_id", filter.sourceId);
      if (filter.since !== undefined) q = q.gte("detected_at", filter.since.toISOString());
      const { data, error } = await q.order("detected_at", { ascending: false }).order("id")
        .limit(filter.limit);
      if (error) throw storeError("Cannot list policy changes", error);
      return (data ?? []).map((row) => _change("Cannot list policy changes", row));
    },

    async listAlerts(filter) {
      let q = db.from("alerts").select(ALERT_COLUMNS);
      if (filter.statuses !== undefined) q = q.in("status", [...filter.statuses]);
      const { data, error } = await q.order("updated_at", { ascending: false }).order("id")
        .limit(filter.limit);
      if (error) throw storeError("Cannot list alerts", error);
      return (data ?? []).map((row) => _alert("Cannot list alerts", row));
    },

    getAlert,

    async retryAlert(id, now) {
      return await callRpc(
        db,
        `Cannot retry alert ${id}`,
        "retry_alert",
        { p_alert_id: id, p_now: now.toISOString() },
        z.object({ retried: z.boolean(), status: z.string().nullable() }),
      );
    },
  };
}
