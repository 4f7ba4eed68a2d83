/**
 * The `api` edge function as a Hono app: routes under `/api`, one error handler that turns
 * every failure into `{"error": {"code", "message"}}`, dependencies passed in.
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Db } from "../../shared/store/client.ts";
import { pingDatabase } from "../../shared/store/client.ts";
import type { Clock, Logger } from "../../shared/types.ts";

/** What the app needs from the outside world. */
export interface AppDeps {
  /** Service-role client for the job's own work. */
  db: Db;
  logger: Logger;
  clock: Clock;
}

const CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable_entity",
  429: "too_many_requests",
  503: "unavailable",
};

/** An HTTP error with a machine-readable code, for `{"error": {"code", "message"}}`. */
export class ApiError extends HTTPException {
  constructor(status: ContentfulStatusCode, readonly code: string, message: string) {
    super(status, { message });
  }
}

/** Builds the app. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono().basePath("/api");

  app.get("/health", async (c) => {
    try {
      const latency = await pingDatabase(deps.db);
      return c.json({
        status: "ok",
        database: "reachable",
        latency_ms: latency,
        time: deps.clock().toISOString(),
      });
    } catch (e) {
      deps.logger.error("Health check: database unreachable: {error}", { error: String(e) });
      return c.json({
        status: "degraded",
        database: "unreachable",
        time: deps.clock().toISOString(),
      }, 503);
    }
  });

  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } },
      404,
    )
  );

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = err instanceof ApiError ? err.code : CODES[status] ?? "error";
      const res = err.getResponse();
      const headers: Record<string, string> = {};
      const www = res.headers.get("www-authenticate");
      if (www) headers["WWW-Authenticate"] = www;
      return c.json(
        { error: { code, message: err.message || code } },
        status as ContentfulStatusCode,
        headers,
      );
    }
    deps.logger.error("Unhandled error on {method} {path}: {error}", {
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return c.json({ error: { code: "internal", message: "Internal error" } }, 500);
  });

  return app;
}
