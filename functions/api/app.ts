/**
 * The `api` edge function as a Hono app: routes under `/api` (the gateway adds
 * `/functions/v1`), bearer auth on the job routes, zod validation of every input, an OpenAPI
 * 3.1 document generated from the same schemas, and one error handler that turns every
 * failure into `{"error": {"code", "message"}}`. Dependencies are passed in.
 * @module
 */
import { mountApiDocs } from "./api_docs.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Config } from "../../shared/config.ts";
import { type AuthEnv, requireCaller } from "../../shared/auth/middleware.ts";
import type { Caller } from "../../shared/auth/caller.ts";
import type { Credentials } from "../../shared/auth/verify.ts";
import type { JobResult, JobService, ProcessOptions, RunOptions } from "../../shared/jobs/types.ts";
import type { Db } from "../../shared/store/client.ts";
import { pingDatabase } from "../../shared/store/client.ts";
import type { Clock, Logger } from "../../shared/types.ts";
import { ApiError, catchNonErrors, errorHandler, validationError } from "./errors.ts";
import { optionalJsonBody } from "./json_body.ts";
import { mountOperatorRoutes, type OperatorOptions } from "./routes/mod.ts";
import { BEARER_SCHEME } from "./openapi_parts.ts";
import {
  continueRunRoute,
  dailyFetchRoute,
  deliverAlertsRoute,
  getRunRoute,
  healthRoute,
  listRunsRoute,
} from "./routes.ts";
import { errorMessage, namedErrorMessage } from "../../shared/errors.ts";

export { ApiError } from "./errors.ts";

/** What the app needs from the outside world. */
export interface AppDeps {
  /** Service-role client for the function's own work (health check). */
  db: Db;
  logger: Logger;
  clock: Clock;
  /** The daily-fetch job: start, process and read runs. */
  jobs: JobService;
  /** Verifies a request's credentials (apikey and/or bearer token); throws AuthError. */
  verify: (credentials: Credentials) => Promise<Caller>;
  /**
   * Keeps the function alive until `promise` settles after the response is sent
   * (`EdgeRuntime.waitUntil` on Supabase). Without it the promise just runs on.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Tuning: the largest request body. */
  config: Pick<Config, "API_MAX_BODY_BYTES" | "API_SYNC_ANSWER_MS">;
  /** Options of the operators' routes (sources, subscriptions, history, feed). */
  operators?: OperatorOptions;
}

/** The prefix the Supabase gateway puts before the function's own paths. */
export const PUBLIC_PREFIX = "/functions/v1";

/** Kinds of caller allowed to start and read runs. */
const JOB_CALLERS = ["service_role", "admin"] as const;

/**
 * Builds the app.
 * @example
 * Deno.serve(createApp(await realDeps()).fetch);
 * const res = await createApp(fakeDeps).request("/api/health");
 */
export function createApp(deps: AppDeps): OpenAPIHono<AuthEnv> {
  const app = new OpenAPIHono<AuthEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.target, result.error);
    },
  }).basePath("/api");

  app.onError(errorHandler(deps.logger));
  app.use(catchNonErrors());
  app.notFound((c) => {
    throw new ApiError(404, "not_found", `No route for ${c.req.method} ${_printable(c.req.path)}`);
  });

  app.openapi(healthRoute, async (c) => {
    try {
      const latency = await pingDatabase(deps.db);
      return c.json({
        status: "ok" as const,
        database: "reachable" as const,
        latency_ms: latency,
        time: deps.clock().toISOString(),
      }, 200);
    } catch (e) {
      deps.logger.error("Health check: database unreachable: {error}", { error: errorMessage(e) });
      return c.json({
        status: "degraded" as const,
        database: "unreachable" as const,
        time: deps.clock().toISOString(),
      }, 503);
    }
  });

  // Auth before anything reads the body: an unauthenticated caller gets 401, never 400/413.
  app.use("/jobs/*", requireCaller({ verify: deps.verify, allow: [...JOB_CALLERS] }));
  app.post(
    dailyFetchRoute.getRoutingPath(),
    optionalJsonBody({ maxBytes: deps.config.API_MAX_BODY_BYTES }),
  );

  app.openapi(dailyFetchRoute, async (c) => {
    const caller = c.get("caller");
    const body = c.req.valid("json");
    const trigger = body.trigger ?? "manual";
    if (trigger === "cron" && caller.kind !== "service_role") {
      throw new ApiError(
        403,
        "forbidden",
        "Caller not allowed: only the service role may start a cron run",
      );
    }
    const options: RunOptions = {
      trigger,
      ...(body.force !== undefined ? { force: body.force } : {}),
      ...(body.source_ids !== undefined ? { source_ids: body.source_ids } : {}),
    };
    const started = await deps.jobs.startRun(options);
    deps.logger.info("Run {run_id} started by {caller} ({trigger})", {
      run_id: started.run_id,
      caller: caller.kind,
      trigger,
    });
    if (started.status !== "running") return c.json(started, 200); // nothing was due
    if (_prefersAsync(c.req.header("Prefer"))) {
      _inBackground(deps, started.run_id, { fanOut: true });
      return c.json(started, 202, {
        Location: `${PUBLIC_PREFIX}/api/jobs/runs/${started.run_id}`,
        "Preference-Applied": "respond-async",
      });
    }
    // A synchronous call answers within API_SYNC_ANSWER_MS (hosted ends a request that has
    // not answered after 150 s of idle time with a 504): past it, 202 with Location, as
    // `Prefer: respond-async` would, and the work goes on in the background.
    const work = deps.jobs.processRun(started.run_id, { fanOut: true, wait: true });
    const result = await _within(work, deps.config.API_SYNC_ANSWER_MS);
    if (result !== null) return c.json(result, 200);
    _keepWorking(deps, started.run_id, work);
    return c.json(started, 202, {
      Location: `${PUBLIC_PREFIX}/api/jobs/runs/${started.run_id}`,
    });
  });

  app.openapi(continueRunRoute, async (c) => {
    if (c.get("caller").kind !== "service_role") {
      throw new ApiError(
        403,
        "forbidden",
        "Caller not allowed: only the service role continues runs",
      );
    }
    const { run_id } = c.req.valid("param");
    const run = await deps.jobs.getRun(run_id, { sources: false });
    if (run === null) throw new ApiError(404, "not_found", `Cannot find run ${run_id}`);
    const { progress: _p, sources: _s, ...result } = run;
    if (result.status !== "running") return c.json(result, 200);
    _inBackground(deps, run_id, { continuation: true });
    return c.json(result, 202);
  });

  app.openapi(deliverAlertsRoute, async (c) => c.json(await deps.jobs.deliverAlerts(), 200));

  app.openapi(listRunsRoute, async (c) => {
    const { limit } = c.req.valid("query");
    return c.json({ runs: await deps.jobs.listRuns(limit) }, 200);
  });

  app.openapi(getRunRoute, async (c) => {
    const { run_id } = c.req.valid("param");
    const run = await deps.jobs.getRun(run_id);
    if (run === null) throw new ApiError(404, "not_found", `Cannot find run ${run_id}`);
    return c.json(run, 200);
  });

  mountOperatorRoutes(app, deps);

  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The project's secret key (`sb_secret_…`, sent in the `apikey` header, " +
      "optionally also as bearer), the legacy service-role key, or the access token of a " +
      "user whose `app_metadata.role` is `admin`. A publishable key or another user: 403.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Policy change monitor API",
      version: "1.0.0",
      description: "Starts and reports the daily fetch of policy sources. Errors are " +
        '`{"error": {"code", "message"}}`.',
    },
    // The function sees `/api/...`; callers reach it through the gateway's prefix.
    servers: [{ url: PUBLIC_PREFIX, description: "Supabase functions gateway" }],
  });
  // Swagger UI from the pinned swagger-ui-dist package, with a CSP (api_docs.ts).
  mountApiDocs(app, "Policy change monitor API");

  return app;
}

/** RFC 7240: `Prefer: respond-async` among comma-separated preferences (case-insensitive). */
function _prefersAsync(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(",").some((pref) =>
    pref.split(";")[0]?.split("=")[0]?.trim().toLowerCase() === "respond-async"
  );
}

/** The value of `work` if it settles within `ms`, else null (`work` goes on; it may throw). */
async function _within<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([work, new Promise<null>((r) => (timer = setTimeout(r, ms, null)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Processes a started run after the response; failures are logged, never unhandled. */
function _inBackground(deps: AppDeps, runId: string, options: ProcessOptions): void {
  _keepWorking(deps, runId, deps.jobs.processRun(runId, options));
}

/** Keeps `work` on a run going after the response; failures are logged, never unhandled. */
function _keepWorking(deps: AppDeps, runId: string, processing: Promise<JobResult>): void {
  const work = processing.then(
    (result) =>
      deps.logger.info("Run {run_id} processed in the background: {status}", {
        run_id: runId,
        status: result.status,
      }),
    (error) =>
      deps.logger.error("Cannot process run {run_id} in the background: {error}", {
        run_id: runId,
        error: namedErrorMessage(error),
      }),
  );
  deps.waitUntil?.(work);
}

function _printable(path: string): string {
  return path.length <= 200 && /^[\x21-\x7e]*$/.test(path) ? path : "(path not shown)";
}
