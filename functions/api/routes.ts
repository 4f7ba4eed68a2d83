/**
 * The API's routes as OpenAPI route definitions: what each accepts (validated by
 * @hono/zod-openapi before the handler runs) and answers (documented in `openapi.json`).
 * Paths are relative to the app's base path `/api`.
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import {
  DailyFetchRequestSchema,
  JobResultSchema,
  RunDetailsSchema,
  RunListSchema,
  UuidSchema,
} from "../../shared/schemas.ts";
import { bearerRoute, errorResponse as error, json, queryRoute } from "./openapi_parts.ts";

const RunIdParams = z.object({
  run_id: UuidSchema.meta({ param: { name: "run_id", in: "path" } }),
});
const RUN_ID_ERRORS = {
  400: error("`run_id` is not a UUID."),
  404: error("No run has this id."),
} as const;

/** Default and largest `limit` of the run list. */
export const RUNS_LIMIT = { default: 20, max: 100 } as const;

const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  database: z.enum(["reachable", "unreachable"]),
  latency_ms: z.number().optional(),
  time: z.string().meta({ format: "date-time" }),
}).meta({ id: "Health" });

/** `GET /api/health`: liveness and database reachability; no auth. */
export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["ops"],
  summary: "Health check",
  description: "Whether the function runs and reaches the database. Needs no token.",
  responses: {
    200: { description: "Healthy.", content: json(HealthSchema) },
    503: { description: "The database is unreachable.", content: json(HealthSchema) },
  },
});

/** `POST /api/jobs/daily-fetch`: start a run, synchronously or in the background. */
export const dailyFetchRoute = bearerRoute({
  method: "post",
  path: "/jobs/daily-fetch",
  tags: ["jobs"],
  summary: "Run the daily fetch",
  description: "Checks the due sources (or the ones named) for changes and sends alerts. " +
    "Synchronous by default (200 with the result); with `Prefer: respond-async` the run " +
    "continues in the background and the answer is 202 with a `Location` to poll. " +
    "Allowed: the service-role key, or a user whose `app_metadata.role` is `admin`.",
  request: {
    headers: z.object({
      prefer: z.string().optional().meta({
        description: "`respond-async` to get 202 at once and run in the background.",
        example: "respond-async",
      }),
    }),
    body: {
      required: false,
      description: "Optional; an empty body means `{}`. Unknown fields are refused.",
      content: json(DailyFetchRequestSchema),
    },
  },
  responses: {
    200: {
      description: "The run finished (or this invocation's budget ended).",
      content: json(JobResultSchema),
    },
    202: {
      description: "The run started and continues in the background.",
      headers: z.object({
        location: z.string().meta({
          description: "Where to poll the run: `/functions/v1/api/jobs/runs/{run_id}`.",
        }),
        "preference-applied": z.string().meta({ example: "respond-async" }),
      }),
      content: json(JobResultSchema),
    },
    400: error("Malformed JSON or a body that does not match the schema; see `details`."),
    409: error("A run is already in progress (`code` run_in_progress, `run_id` names it)."),
    413: error("The body is larger than the limit (64 KB by default)."),
    415: error("The body is not application/json."),
  },
});

/** `GET /api/jobs/runs`: the most recent runs. */
export const listRunsRoute = queryRoute({
  path: "/jobs/runs",
  tag: "jobs",
  doc: { summary: "List recent runs", ok: "Most recent runs first." },
  query: z.object({
    limit: z.coerce.number().int().min(1).max(RUNS_LIMIT.max).default(RUNS_LIMIT.default)
      .meta({ description: "How many runs, 1 to 100.", example: RUNS_LIMIT.default }),
  }),
  ok: RunListSchema,
  badQuery: "`limit` is not an integer from 1 to 100.",
});

/** `GET /api/jobs/runs/{run_id}`: one run with progress and per-source outcomes. */
export const getRunRoute = bearerRoute({
  method: "get",
  path: "/jobs/runs/{run_id}",
  tags: ["jobs"],
  summary: "Get a run",
  description: "A run's result so far, its progress and what it did with each source.",
  request: { params: RunIdParams },
  responses: {
    200: { description: "The run.", content: json(RunDetailsSchema) },
    ...RUN_ID_ERRORS,
  },
});

const AlertDeliverySchema = z.object({
  attempted: z.number().int(),
  sent: z.number().int(),
  failed: z.number().int(),
  dead: z.number().int(),
}).meta({ id: "AlertDelivery" });

/** `POST /api/jobs/alerts/deliver`: one pass over the alert outbox (pg_cron, every 5 min). */
export const deliverAlertsRoute = bearerRoute({
  method: "post",
  path: "/jobs/alerts/deliver",
  tags: ["jobs"],
  summary: "Deliver the alerts that are due",
  description: "Sends the alerts of the outbox that are due: pending ones and failed ones " +
    "whose backoff has passed (an alert that uses up ALERT_MAX_ATTEMPTS becomes dead). " +
    "Called by the pg_cron job `alerts-deliver` every 5 minutes, so a failed alert is retried " +
    "within minutes instead of at the next run; an alert it gives up is reported to the " +
    "operational subscribers (alert_dead) in the same pass. Service role or admin.",
  responses: {
    200: { description: "What this pass did.", content: json(AlertDeliverySchema) },
    500: error("Unexpected failure (the database)."),
  },
});

/** `POST /api/jobs/runs/{run_id}/continue`: another invocation on a run (handover). */
export const continueRunRoute = bearerRoute({
  method: "post",
  path: "/jobs/runs/{run_id}/continue",
  tags: ["jobs"],
  summary: "Continue a run in another invocation",
  description: "Used by the function itself to hand a run over when an invocation's budget " +
    "(CPU, wall time, items) ends, and by pg_cron to resume a stalled run. Service role only. " +
    "202 while the run is running (it is processed in the background), 200 with the result " +
    "when it is already finished.",
  request: { params: RunIdParams },
  responses: {
    200: { description: "The run is already finished.", content: json(JobResultSchema) },
    202: { description: "An invocation is working on the run.", content: json(JobResultSchema) },
    ...RUN_ID_ERRORS,
  },
});
