/**
 * zod schemas of the operators' API (sources, subscriptions, history, feed tokens): what
 * callers send (strict: an unknown field is a 400) and what they get back. The routes
 * validate with them and generate the OpenAPI document from them; the stores parse the
 * database's answers with them.
 * @module
 */
import { z } from "zod";
import { SourceRenderSchema, UuidSchema } from "../schemas.ts";

const Timestamp = z.string().transform((s) => new Date(s).toISOString()).meta({
  format: "date-time",
});
const NullableTimestamp = z.string().nullable().transform((s) =>
  s === null ? null : new Date(s).toISOString()
).meta({ format: "date-time" });

const Name = z.string().trim().min(1, { error: "Name must not be blank" })
  .max(200, { error: "Name must be at most 200 characters" });

// ---------------------------------------------------------------------------
// Sources

/** Fields of a source an operator sets. */
const sourceFields = {
  name: Name.meta({ example: "UK Skilled Worker visa rules" }),
  url: z.string().meta({
    description: "http(s) URL, checked against the network policy at save time.",
    example: "https://www.gov.uk/skilled-worker-visa",
  }),
  active: z.boolean().meta({ description: "Only active sources are fetched." }),
  check_frequency: z.string().meta({
    description: "A name from check_frequencies: hourly, daily, weekly, ...",
    example: "daily",
  }),
  css_selector: z.string().nullable().meta({
    description: "Part of an HTML page to watch (compiled by the extractor's engine); null: " +
      "the main content.",
    example: "main .policy-text",
  }),
  ignore_patterns: z.array(z.string()).meta({
    description: "JavaScript regular expressions (or /body/flags with i, m, s, u) whose " +
      "matches are removed before hashing; at most 50.",
    example: ["Last updated: .*"],
  }),
  render: SourceRenderSchema,
} as const;

/** Body of `POST /api/sources`. */
export const SourceCreateSchema = z.strictObject({
  name: sourceFields.name,
  url: sourceFields.url,
  active: sourceFields.active.optional(),
  check_frequency: sourceFields.check_frequency.optional(),
  css_selector: sourceFields.css_selector.optional(),
  ignore_patterns: sourceFields.ignore_patterns.optional(),
  render: sourceFields.render.optional(),
}).meta({ id: "SourceCreate", description: "A new source." });

/** Body of `PATCH /api/sources/{id}`: the fields to change. */
export const SourcePatchSchema = z.strictObject({
  name: sourceFields.name.optional(),
  url: sourceFields.url.optional(),
  active: sourceFields.active.optional(),
  check_frequency: sourceFields.check_frequency.optional(),
  css_selector: sourceFields.css_selector.optional(),
  ignore_patterns: sourceFields.ignore_patterns.optional(),
  render: sourceFields.render.optional(),
}).refine((o) => Object.keys(o).length > 0, { error: "Send at least one field to change" })
  .meta({ id: "SourcePatch", description: "The fields of a source to change." });

/** A new source as parsed. */
export type SourceCreate = z.infer<typeof SourceCreateSchema>;
/** A source patch as parsed. */
export type SourcePatch = z.infer<typeof SourcePatchSchema>;

/** A row of `public.source_status`, as the API shows it. */
export const SourceViewSchema = z.object({
  id: UuidSchema,
  name: z.string(),
  url: z.string(),
  active: z.boolean(),
  check_frequency: z.string(),
  css_selector: z.string().nullable(),
  ignore_patterns: z.array(z.string()),
  render: SourceRenderSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
  last_checked_at: NullableTimestamp,
  last_success_at: NullableTimestamp,
  last_change_at: NullableTimestamp,
  next_due_at: NullableTimestamp.meta({
    description: "Last check + its frequency; null: due at the next run.",
  }),
  consecutive_failures: z.number().int().min(0).meta({ description: "Failure streak." }),
  last_error: z.string().nullable(),
  last_error_class: z.string().nullable(),
}).meta({ id: "Source", description: "A source with its status." });

/** A source as the API shows it. */
export type SourceView = z.infer<typeof SourceViewSchema>;

/** `GET /api/sources`. */
export const SourceListSchema = z.object({ sources: z.array(SourceViewSchema) }).meta({
  id: "SourceList",
});

/** Body of `POST /api/sources/preview`. */
export const PreviewRequestSchema = z.strictObject({
  url: sourceFields.url,
  css_selector: sourceFields.css_selector.optional(),
  ignore_patterns: sourceFields.ignore_patterns.optional(),
  render: sourceFields.render.optional(),
}).meta({ id: "PreviewRequest", description: "What to fetch and how to read it." });

/** What each ignore pattern removed. */
export const PatternEffectSchema = z.object({
  pattern: z.string(),
  matches: z.number().int().min(0).meta({ description: "Matches removed." }),
  samples: z.array(z.string()).meta({ description: "The first few removed texts (capped)." }),
}).meta({ id: "PatternEffect" });

/** Answer of `POST /api/sources/preview`. */
export const PreviewResultSchema = z.object({
  ok: z.boolean(),
  url: z.string(),
  final_url: z.string().nullable().meta({ description: "URL after redirects." }),
  http_status: z.number().int().nullable(),
  content_type: z.string().nullable(),
  text: z.string().meta({ description: "The monitored text: what would be hashed (capped)." }),
  text_chars: z.number().int().min(0).meta({ description: "Length of the whole text." }),
  text_truncated: z.boolean(),
  content_hash: z.string().nullable(),
  ignore_patterns: z.array(PatternEffectSchema),
  timings: z.object({
    total_ms: z.number(),
    fetch_ms: z.number(),
    extract_ms: z.number(),
    normalise_ms: z.number(),
  }),
  error: z.object({ class: z.string(), message: z.string() }).nullable().meta({
    description: "The classified failure (dns, connect, timeout, blocked, http_4xx, parse, ...).",
  }),
}).meta({ id: "PreviewResult", description: "What the pipeline sees at this URL now." });

/** A preview result. */
export type PreviewResult = z.infer<typeof PreviewResultSchema>;

// ---------------------------------------------------------------------------
// Subscriptions

const Channel = z.enum(["webhook", "slack", "email"]);
const Secret = z.string().min(16, { error: "Secret must be at least 16 characters" })
  .max(512, { error: "Secret must be at most 512 characters" });

/** Body of `POST /api/subscriptions`. */
export const SubscriptionCreateSchema = z.strictObject({
  channel: Channel,
  target: z.string().meta({
    description: "Webhook URL, Slack incoming-webhook URL or e-mail address.",
    example: "https://example.org/hooks/policy",
  }),
  source_id: UuidSchema.nullable().optional().meta({
    description: "The source watched; null or absent: all sources.",
  }),
  secret: Secret.optional().meta({
    description: "Webhook signing secret (X-Signature-256). Write-only: never returned.",
  }),
  active: z.boolean().optional(),
  operational_alerts: z.boolean().optional().meta({
    description: "Also receive source failing / recovered and run missed alerts.",
  }),
}).meta({ id: "SubscriptionCreate" });

/** Body of `PATCH /api/subscriptions/{id}`. */
export const SubscriptionPatchSchema = z.strictObject({
  channel: Channel.optional(),
  target: z.string().optional(),
  source_id: UuidSchema.nullable().optional(),
  secret: Secret.nullable().optional().meta({ description: "null removes the secret." }),
  active: z.boolean().optional(),
  operational_alerts: z.boolean().optional(),
}).refine((o) => Object.keys(o).length > 0, { error: "Send at least one field to change" })
  .meta({ id: "SubscriptionPatch" });

/** A new subscription as parsed. */
export type SubscriptionCreate = z.infer<typeof SubscriptionCreateSchema>;
/** A subscription patch as parsed. */
export type SubscriptionPatch = z.infer<typeof SubscriptionPatchSchema>;

/** A subscription as the API shows it: never the secret, only whether there is one. */
export const SubscriptionViewSchema = z.object({
  id: UuidSchema,
  source_id: UuidSchema.nullable(),
  channel: Channel,
  target: z.string().meta({
    description: "Slack targets are shown without their path (the path is the credential).",
  }),
  has_secret: z.boolean(),
  active: z.boolean(),
  operational_alerts: z.boolean(),
  created_at: Timestamp,
}).meta({ id: "Subscription" });

/** A subscription as the API shows it. */
export type SubscriptionView = z.infer<typeof SubscriptionViewSchema>;

/** `GET /api/subscriptions`. */
export const SubscriptionListSchema = z.object({
  subscriptions: z.array(SubscriptionViewSchema),
}).meta({ id: "SubscriptionList" });

/** Answer of `POST /api/subscriptions/{id}/test`. */
export const TestAlertResultSchema = z.object({
  delivered: z.boolean(),
  channel: Channel,
  http_status: z.number().int().nullable(),
  error: z.string().nullable(),
  alert_id: z.string().meta({ description: "Id of the test message (not an outbox row)." }),
}).meta({ id: "TestAlertResult" });

// ---------------------------------------------------------------------------
// History

/** The stored summary of a change. */
const SummarySchema = z.object({
  lines_added: z.number().int(),
  lines_removed: z.number().int(),
  first_changed_lines: z.array(z.string()),
}).meta({ id: "ChangeSummary" });

/** A policy change as the API shows it. */
export const ChangeViewSchema = z.object({
  id: UuidSchema,
  source_id: UuidSchema,
  source_name: z.string().nullable(),
  source_url: z.string().nullable(),
  detected_at: Timestamp,
  summary: SummarySchema,
  diff: z.string().meta({ description: "Unified diff of the normalised text, old to new." }),
}).meta({ id: "PolicyChange" });

/** A policy change as the API shows it. */
export type ChangeView = z.infer<typeof ChangeViewSchema>;

/** `GET /api/changes`. */
export const ChangeListSchema = z.object({ changes: z.array(ChangeViewSchema) }).meta({
  id: "ChangeList",
});

/** Statuses of an alert. */
export const AlertStatusSchema = z.enum(["pending", "sending", "sent", "failed", "dead"]);

/** An outbox row as the API shows it. */
export const AlertViewSchema = z.object({
  id: UuidSchema,
  kind: z.enum(["policy_change", "source_failing", "source_recovered", "run_missed", "alert_dead"]),
  status: AlertStatusSchema,
  attempts: z.number().int(),
  next_attempt_at: Timestamp,
  sent_at: NullableTimestamp,
  error: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  subscription_id: UuidSchema,
  channel: Channel.nullable(),
  policy_change_id: UuidSchema.nullable(),
  source_id: UuidSchema.nullable(),
}).meta({ id: "Alert" });

/** An alert as the API shows it. */
export type AlertView = z.infer<typeof AlertViewSchema>;

/** `GET /api/alerts`. */
export const AlertListSchema = z.object({ alerts: z.array(AlertViewSchema) }).meta({
  id: "AlertList",
});

/** Answer of `POST /api/alerts/{id}/retry`. */
export const AlertRetryResultSchema = z.object({
  alert: AlertViewSchema,
  delivered: z.boolean().meta({ description: "The retry was sent and accepted now." }),
}).meta({ id: "AlertRetryResult" });

// ---------------------------------------------------------------------------
// Feed tokens

/** Body of `POST /api/feeds/tokens`. */
export const FeedTokenCreateSchema = z.strictObject({
  name: Name.meta({ example: "team feed reader" }),
}).meta({ id: "FeedTokenCreate" });

/** A feed token without its value. */
export const FeedTokenViewSchema = z.object({
  id: UuidSchema,
  name: z.string(),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
}).meta({ id: "FeedToken" });

/** A feed token as the API shows it. */
export type FeedTokenView = z.infer<typeof FeedTokenViewSchema>;

/** Answer of `POST /api/feeds/tokens`: the token, shown this once. */
export const FeedTokenCreatedSchema = FeedTokenViewSchema.extend({
  token: z.string().meta({ description: "Shown once; only its SHA-256 is stored." }),
  feed_url: z.string().meta({ description: "The feed's URL with the token." }),
}).meta({ id: "FeedTokenCreated" });

/** `GET /api/feeds/tokens`. */
export const FeedTokenListSchema = z.object({ tokens: z.array(FeedTokenViewSchema) }).meta({
  id: "FeedTokenList",
});
