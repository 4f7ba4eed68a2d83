/**
 * zod schemas of what crosses the HTTP boundary: the daily-fetch request body, the job's
 * results and the error body. The API validates with them and generates its OpenAPI document
 * from them (`.meta({ id })` names the OpenAPI component); the job and the store may reuse
 * them to check what they read.
 *
 * The TypeScript shapes live in `shared/jobs/types.ts`; the type checks at the end of this
 * file make `deno check` fail when the two drift apart.
 * @module
 */
import { z } from "zod";
import type { JobResult, RunDetails, RunOptions, RunSourceOutcome } from "./jobs/types.ts";
import { ERROR_CLASSES, RENDER_MODES } from "./types.ts";

/** Most sources one request may name in `source_ids`. */
export const MAX_SOURCE_IDS = 1000;

/**
 * A UUID in its canonical text form (any version, as Postgres' `uuid` type accepts),
 * so a well-formed id that names nothing is a 404, not a 400.
 */
export const UuidSchema = z.guid({ error: "Invalid UUID" });

/** `sources.render`: how a source's page is fetched (for the sources API's bodies). */
export const SourceRenderSchema = z.enum(RENDER_MODES).meta({
  id: "SourceRender",
  description:
    "static (default): an HTTP GET; browser: the page is rendered by a real browser (its scripts run), then extracted the same way. HTML pages only.",
  example: "static",
});

/** Class of a failed fetch (`sources.last_error_class`, per-source outcomes). */
export const ErrorClassSchema = z.enum(ERROR_CLASSES).meta({
  id: "ErrorClass",
  description: "browser: the browser of a render 'browser' source is unreachable, hung or crashed.",
});

/** Status of a run. */
export const RunStatusSchema = z.enum(["running", "succeeded", "partial", "failed"]);

/** Who started a run. */
export const RunTriggerSchema = z.enum(["cron", "manual"]);

/**
 * Body of `POST /api/jobs/daily-fetch`. Every field is optional and unknown fields are
 * refused, so a typo (`"forse": true`) is a 400 instead of a silently ignored option.
 */
export const DailyFetchRequestSchema = z.strictObject({
  force: z.boolean().optional().meta({
    description: "Treat every active source as due, whatever its check frequency.",
  }),
  source_ids: z.array(UuidSchema).min(1).max(MAX_SOURCE_IDS)
    .refine(
      (ids) => new Set(ids.map((id) => id.toLowerCase())).size === ids.length,
      { error: "source_ids must not repeat an id" },
    )
    .optional()
    .meta({
      description: "Only these sources (inactive ones are still skipped); 1 to 1000 unique ids.",
    }),
  trigger: RunTriggerSchema.optional().meta({
    description:
      'Who started the run; default "manual". Only the service role may say "cron" (pg_cron).',
  }),
}).meta({ id: "DailyFetchRequest", description: "Options of a daily-fetch run." });

/** The parsed body of `POST /api/jobs/daily-fetch`. */
export type DailyFetchRequest = z.infer<typeof DailyFetchRequestSchema>;

const count = z.number().int().min(0);

/** What a run did: the body of the daily-fetch response and of each listed run (contract). */
export const JobResultSchema = z.object({
  run_id: UuidSchema,
  status: RunStatusSchema,
  trigger: RunTriggerSchema,
  started_at: z.string().meta({ format: "date-time" }),
  completed_at: z.string().nullable().meta({ format: "date-time" }),
  sources_processed: count,
  sources_succeeded: count,
  sources_failed: count,
  sources_skipped: count,
  changes_detected: count,
  alerts_sent: count,
  errors: z.array(z.string()).meta({
    description: "One line per failure, e.g. `source <id> (<name>): timeout: no response`.",
  }),
}).meta({ id: "JobResult", description: "What a daily-fetch run did." });

/** Per-source outcome of a run. */
export const RunSourceOutcomeSchema = z.object({
  source_id: UuidSchema,
  source_name: z.string().nullable(),
  status: z.enum(["pending", "claimed", "succeeded", "failed", "skipped"]),
  changed: z.boolean(),
  baseline: z.boolean(),
  policy_change_id: UuidSchema.nullable(),
  error_class: z.string().nullable(),
  error_message: z.string().nullable(),
  duration_ms: z.number().int().min(0).nullable(),
  content: z.object({
    found_by: z.string().meta({
      description:
        "How the monitored text was found: the source's CSS selector, the element taken as the main content (e.g. `<main>`, `the only <article> of <main>`, `<body>`), or the document kind",
    }),
    chars: z.number().int().min(0).meta({ description: "Length of the normalised text" }),
  }).nullable().optional().meta({
    description: "What was monitored, when the body was read: a short length shows a blind spot",
  }),
}).meta({ id: "RunSourceOutcome", description: "What a run did with one source." });

/** A run with its progress and per-source outcomes. */
export const RunDetailsSchema = JobResultSchema.extend({
  progress: z.object({ done: count, total: count }),
  sources: z.array(RunSourceOutcomeSchema),
}).meta({ id: "RunDetails", description: "A run with its progress and per-source outcomes." });

/** The list of recent runs. */
export const RunListSchema = z.object({
  runs: z.array(JobResultSchema),
}).meta({ id: "RunList", description: "Most recent runs first." });

/** One field error of a 400 answer. */
export const FieldErrorSchema = z.object({
  path: z.string().meta({ description: 'Dotted path of the field, e.g. "source_ids.0".' }),
  message: z.string(),
}).meta({ id: "FieldError" });

/** Every error answer: `{"error": {"code", "message"}}`, plus field errors on 400. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().meta({
      description: "Machine-readable, e.g. bad_request, unauthorized, run_in_progress.",
      example: "bad_request",
    }),
    message: z.string().meta({ description: "Human-readable; never a stack trace." }),
    details: z.array(FieldErrorSchema).optional(),
    run_id: UuidSchema.optional().meta({
      description: "On run_in_progress: the run that is in progress.",
    }),
  }),
}).meta({ id: "Error", description: "An error answer." });

/** The body of an error answer. */
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

// Compile-time agreement with shared/jobs/types.ts: `deno check` fails if either side drifts.
type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _agree: [
  _Same<z.infer<typeof JobResultSchema>, JobResult>,
  _Same<z.infer<typeof RunSourceOutcomeSchema>, RunSourceOutcome>,
  _Same<z.infer<typeof RunDetailsSchema>, RunDetails>,
  _Same<Required<DailyFetchRequest>["trigger"], RunOptions["trigger"]>,
] = [true, true, true, true];
void _agree;
