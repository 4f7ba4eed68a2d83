/**
 * zod schemas of the rows several stores read, so each table has one shape at the
 * boundary.
 * @module
 */
import { z } from "zod";
import { type PolicyChange, RENDER_MODES, type Source } from "../types.ts";
import type { QueuedAlert } from "../alerts/types.ts";

/** A timestamp column, as an ISO string in UTC. */
export const Timestamp = z.string().transform((s) => new Date(s).toISOString());

/** The columns of `public.policy_changes` the code reads. */
export const POLICY_CHANGE_COLUMNS =
  "id, source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary";

/** A row of `public.policy_changes`. */
export const PolicyChangeSchema: z.ZodType<PolicyChange> = z.object({
  id: z.string(),
  source_id: z.string(),
  snapshot_id: z.string().nullable(),
  previous_snapshot_id: z.string().nullable(),
  detected_at: Timestamp,
  diff: z.string(),
  summary: z.object({
    lines_added: z.number().default(0),
    lines_removed: z.number().default(0),
    first_changed_lines: z.array(z.string()).default([]),
  }).catch({ lines_added: 0, lines_removed: 0, first_changed_lines: [] }),
});

/** A row of `public.sources` (the columns the job and the pipeline read). */
export const SourceSchema: z.ZodType<Source> = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  active: z.boolean(),
  check_frequency: z.string(),
  render: z.enum(RENDER_MODES),
  css_selector: z.string().nullable(),
  ignore_patterns: z.array(z.string()),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
  last_hash: z.string().nullable(),
  text_key: z.string().nullable().optional(),
  last_snapshot_id: z.string().nullable(),
  last_checked_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  consecutive_failures: z.number().int(),
  failing_alerted: z.boolean(),
});

/** Kinds of an outbox row (alerts.kind). */
export const AlertKindSchema = z.enum([
  "policy_change",
  "source_failing",
  "source_recovered",
  "run_missed",
  "alert_dead",
]);
/** Channels of a subscription (subscriptions.channel). */
export const AlertChannelSchema = z.enum(["webhook", "slack", "email"]);

/** An outbox row as the enqueue RPCs (and record_snapshot) return it (QueuedAlert). */
export const QueuedAlertSchema: z.ZodType<QueuedAlert> = z.object({
  id: z.string(),
  subscription_id: z.string(),
  channel: AlertChannelSchema,
  kind: AlertKindSchema,
  status: z.enum(["pending", "sending", "sent", "failed", "dead"]),
  attempts: z.number().int(),
  next_attempt_at: Timestamp,
});
