/**
 * The operators' API: sources, subscriptions, history and the Atom feed, mounted on the
 * app by {@link mountOperatorRoutes} behind the same bearer check as the job routes
 * (service role / secret key, or an admin user), except the feed, which takes a feed token.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  type AuthEnv,
  requireCaller,
  type RequireCallerOptions,
} from "../../../shared/auth/middleware.ts";
import type { CallerKind } from "../../../shared/auth/caller.ts";
import { type Config, DEFAULT_CONFIG } from "../../../shared/config.ts";
import type { JobService } from "../../../shared/jobs/types.ts";
import type { ResolveHost } from "../../../shared/pipeline/address_guard.ts";
import { browserSeam } from "../../../shared/pipeline/browser_fetcher.ts";
import { createSupabaseAlertStore } from "../../../shared/store/alert_store.ts";
import type { Db } from "../../../shared/store/client.ts";
import { createFeedTokenStore } from "../../../shared/store/feed_token_store.ts";
import { createHistoryStore } from "../../../shared/store/history_store.ts";
import { createSourceStore } from "../../../shared/store/source_store.ts";
import { createSubscriptionStore } from "../../../shared/store/subscription_store.ts";
import type { Clock, FetchFn, Logger } from "../../../shared/types.ts";
import { optionalJsonBody } from "../json_body.ts";
import type { OperatorDeps } from "./_shared.ts";
import { mountFeedRoute, mountFeedTokenRoutes } from "./feeds.ts";
import { mountHistoryRoutes } from "./history.ts";
import { mountSourceRoutes } from "./sources.ts";
import { mountSubscriptionRoutes } from "./subscriptions.ts";

/** Options of the operators' routes in `AppDeps.operators`; each has a real default. */
export interface OperatorOptions {
  /** HTTP client of previews, test alerts and retries; default the global `fetch`. */
  fetch?: FetchFn;
  /** All tuning variables; default `DEFAULT_CONFIG`. */
  config?: Config;
  /** Resolver of the address guard; default the runtime's DNS. */
  resolveHost?: ResolveHost;
  /** The project URL (`SUPABASE_URL`) used in feed links; default the request's origin. */
  publicUrl?: string;
}

/** What {@link mountOperatorRoutes} takes from the app's own dependencies. */
export interface OperatorAppDeps {
  db: Db;
  logger: Logger;
  clock: Clock;
  jobs: JobService;
  verify: RequireCallerOptions["verify"];
  config: { API_MAX_BODY_BYTES: number };
  operators?: OperatorOptions;
}

/** Kinds of caller allowed on the operators' routes. */
export const OPERATOR_CALLERS: CallerKind[] = ["service_role", "admin"];

/** Path prefixes (under `/api`) behind the bearer check. */
const GUARDED = ["/sources", "/subscriptions", "/changes", "/alerts", "/feeds/tokens"];

/** Routes with a JSON body (method, hono path). */
const WITH_BODY: ["post" | "patch", string][] = [
  ["post", "/sources"],
  ["post", "/sources/preview"],
  ["patch", "/sources/:id"],
  ["post", "/subscriptions"],
  ["patch", "/subscriptions/:id"],
  ["post", "/feeds/tokens"],
];

/**
 * Mounts every operator route on `app`. Call it after the app's error handler is set.
 * @example
 * mountOperatorRoutes(app, deps); // GET /api/sources, POST /api/sources/preview, ...
 */
export function mountOperatorRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorAppDeps): void {
  const options = deps.operators ?? {};
  const config = options.config ?? { ...DEFAULT_CONFIG, ...deps.config };
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const operatorDeps: OperatorDeps & { publicUrl?: string } = {
    logger: deps.logger,
    clock: deps.clock,
    jobs: deps.jobs,
    config,
    fetch: fetchFn,
    browser: browserSeam(config, { fetch: fetchFn }),
    ...(options.resolveHost !== undefined ? { resolveHost: options.resolveHost } : {}),
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    sources: createSourceStore(deps.db),
    subscriptions: createSubscriptionStore(deps.db),
    history: createHistoryStore(deps.db),
    feedTokens: createFeedTokenStore(deps.db),
    alerts: createSupabaseAlertStore(deps.db),
  };

  // Auth before anything reads the body: an unauthenticated caller gets 401, never 400/413.
  const guard = requireCaller({ verify: deps.verify, allow: OPERATOR_CALLERS });
  for (const prefix of GUARDED) app.use(`${prefix}/*`, guard); // also matches the prefix itself
  const body = optionalJsonBody({ maxBytes: deps.config.API_MAX_BODY_BYTES });
  for (const [method, path] of WITH_BODY) app.on(method.toUpperCase(), path, body);

  mountSourceRoutes(app, operatorDeps);
  mountSubscriptionRoutes(app, operatorDeps);
  mountHistoryRoutes(app, operatorDeps);
  mountFeedTokenRoutes(app, operatorDeps);
  mountFeedRoute(app, operatorDeps);
}
