/**
 * The real dependencies of the `api` function, read from the environment the edge runtime
 * (or the local stack) provides: SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY,
 * SUPABASE_JWT_SECRET (or JWT_SECRET), and the tuning variables of shared/config.ts.
 * @module
 */
import { createVerifier } from "../../shared/auth/verify.ts";
import { loadConfig } from "../../shared/config.ts";
import { httpHandover } from "../../shared/jobs/handover.ts";
import { createJobService } from "../../shared/jobs/service.ts";
import { getLogger, setupLogging } from "../../shared/log.ts";
import { serviceClient } from "../../shared/store/client.ts";
import type { Clock, FetchFn } from "../../shared/types.ts";
import type { AppDeps } from "./app.ts";

function required(env: Record<string, string | undefined>, ...names: string[]): string {
  for (const name of names) {
    const v = env[name];
    if (v) return v;
  }
  throw new Error(`Missing environment variable ${names.join(" or ")}`);
}

/** `EdgeRuntime.waitUntil` of Supabase's edge runtime, when running there. */
function edgeWaitUntil(): AppDeps["waitUntil"] {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } })
    .EdgeRuntime;
  const waitUntil = runtime?.waitUntil;
  return typeof waitUntil === "function" ? (p) => waitUntil.call(runtime, p) : undefined;
}

/**
 * Builds the app's dependencies from the environment. Call it once per process: the token
 * verifier it builds holds the JWKS cache.
 */
export async function realDeps(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<AppDeps> {
  const config = loadConfig(env);
  await setupLogging({ format: config.LOG_FORMAT, level: config.LOG_LEVEL });
  const url = required(env, "SUPABASE_URL").replace(/\/+$/, "");
  const logger = getLogger("api");
  const clock: Clock = () => new Date();
  const fetchFn: FetchFn = (input, init) => fetch(input, init);
  const serviceRoleKey = required(env, "SUPABASE_SERVICE_ROLE_KEY");
  const db = serviceClient(url, serviceRoleKey);
  const waitUntil = edgeWaitUntil();
  const jobLogger = getLogger("job");
  const handover = httpHandover({
    projectUrl: url,
    serviceRoleKey,
    fetch: fetchFn,
    logger: jobLogger,
  });
  return {
    db,
    logger,
    clock,
    jobs: createJobService({ db, fetch: fetchFn, clock, logger: jobLogger, config, handover }),
    verify: createVerifier({
      jwtSecret: required(env, "SUPABASE_JWT_SECRET", "JWT_SECRET"),
      jwksUrl: `${url}/auth/v1/.well-known/jwks.json`,
      fetch: fetchFn,
      clock,
      logger: getLogger("auth"),
    }),
    ...(waitUntil !== undefined ? { waitUntil } : {}),
    config,
    operators: { fetch: fetchFn, config, publicUrl: url },
  };
}
