/**
 * History: policy changes with their diffs, the alert outbox (failed and dead alerts with
 * their errors) and the retry of an alert.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AuthEnv } from "../../../shared/auth/middleware.ts";
import { deliverQueuedAlerts } from "../../../shared/alerts/engine.ts";
import {
  AlertListSchema,
  AlertRetryResultSchema,
  AlertStatusSchema,
  ChangeListSchema,
} from "../../../shared/operators/schemas.ts";
import { UuidSchema } from "../../../shared/schemas.ts";
import { ApiError } from "../errors.ts";
import { errorResponse, itemRoute, queryRoute } from "../openapi_parts.ts";
import { found, type OperatorDeps } from "./_shared.ts";

/** Default and largest `limit` of the change list. */
export const CHANGES_LIMIT = { default: 20, max: 100 } as const;
/** Default and largest `limit` of the alert list. */
export const ALERTS_LIMIT = { default: 50, max: 500 } as const;

const Since = z.string().refine((s) => !Number.isNaN(Date.parse(s)), {
  error: "since must be an ISO 8601 date or date-time",
}).transform((s) => new Date(s)).meta({
  description: "Only changes detected at or after this time (ISO 8601).",
  example: "2026-12-01T00:00:00Z",
});

/** Query of `GET /api/changes`. */
export const ChangesQuerySchema = z.object({
  source_id: UuidSchema.optional().meta({ description: "Only this source's changes." }),
  since: Since.optional(),
  limit: z.coerce.number().int().min(1).max(CHANGES_LIMIT.max).optional().meta({
    description: `How many, 1 to ${CHANGES_LIMIT.max} (default ${CHANGES_LIMIT.default}).`,
  }),
});

const changesRoute = queryRoute({
  path: "/changes",
  tag: "history",
  doc: {
    summary: "List policy changes",
    description: "Newest first, each with its unified diff, summary and detected_at.",
    ok: "The changes.",
  },
  query: ChangesQuerySchema,
  ok: ChangeListSchema,
  badQuery: "A bad `source_id`, `since` or `limit`.",
});

/** Query of `GET /api/alerts`. */
const AlertsQuerySchema = z.object({
  status: z.string().optional().transform((s, ctx) => {
    if (s === undefined) return undefined;
    const parts = s.split(",").map((p) => p.trim()).filter(Boolean);
    const bad = parts.filter((p) => !AlertStatusSchema.safeParse(p).success);
    if (bad.length > 0 || parts.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `status must be among ${AlertStatusSchema.options.join(", ")}`,
      });
      return z.NEVER;
    }
    return parts;
  }).meta({ description: "Comma-separated statuses, e.g. `failed,dead`." }),
  limit: z.coerce.number().int().min(1).max(ALERTS_LIMIT.max).optional(),
});

const alertsRoute = queryRoute({
  path: "/alerts",
  tag: "history",
  doc: {
    summary: "List alerts",
    description: "The alert outbox, most recently changed first. `status=failed,dead` lists " +
      "the alerts that could not be delivered, with their last error.",
    ok: "The alerts.",
  },
  query: AlertsQuerySchema,
  ok: AlertListSchema,
  badQuery: "A bad `status` or `limit`.",
});

const retryRoute = itemRoute({
  method: "post",
  path: "/alerts/{id}/retry",
  tag: "history",
  noun: "alert",
  doc: {
    summary: "Retry a failed or dead alert now",
    description: "Puts the alert back in the outbox as pending (a dead one with its attempts " +
      "reset) and sends it at once through its channel. 409 when it is not failed or dead.",
    ok: "The alert after the retry.",
  },
  ok: AlertRetryResultSchema,
  extra: { 409: errorResponse("The alert is pending, sending or sent: nothing to retry.") },
});

/** Mounts the history routes on `app`. */
export function mountHistoryRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorDeps): void {
  app.openapi(changesRoute, async (c) => {
    const query = c.req.valid("query");
    const changes = await deps.history.listChanges({
      ...(query.source_id !== undefined ? { sourceId: query.source_id } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
      limit: query.limit ?? CHANGES_LIMIT.default,
    });
    return c.json({ changes }, 200);
  });

  app.openapi(alertsRoute, async (c) => {
    const query = c.req.valid("query");
    const alerts = await deps.history.listAlerts({
      ...(query.status !== undefined ? { statuses: query.status } : {}),
      limit: query.limit ?? ALERTS_LIMIT.default,
    });
    return c.json({ alerts }, 200);
  });

  app.openapi(retryRoute, async (c) => {
    const { id } = c.req.valid("param");
    const outcome = await deps.history.retryAlert(id, deps.clock());
    found("alert", id, outcome.status);
    if (!outcome.retried) {
      throw new ApiError(
        409,
        "conflict",
        `Cannot retry alert ${id}: it is ${outcome.status}, not failed or dead`,
      );
    }
    const queued = found("alert", id, await deps.history.getAlert(id));
    const sent = await deliverQueuedAlerts([{
      id: queued.id,
      subscription_id: queued.subscription_id,
      channel: queued.channel ?? "webhook",
      kind: queued.kind,
      status: queued.status,
      attempts: queued.attempts,
      next_attempt_at: queued.next_attempt_at,
    }], {
      fetch: deps.fetch,
      clock: deps.clock,
      logger: deps.logger,
      store: deps.alerts,
      config: deps.config,
    });
    deps.logger.info("Alert {id} retried by an operator: {status}", {
      id,
      status: sent[0]?.status ?? "unknown",
    });
    const alert = found("alert", id, await deps.history.getAlert(id));
    return c.json({ alert, delivered: sent.some((o) => o.status === "sent") }, 200);
  });
}
