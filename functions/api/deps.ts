/**
 * The real dependencies of the `api` function, read from the environment the edge runtime
 * (or the local stack) provides: SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY,
 * SUPABASE_JWT_SECRET (or JWT_SECRET), and the tuning variables of shared/config.ts.
 * @module
 */
import { createVerifier } from "../../shared/auth/verify.ts";
import { type Config, loadConfig } from "../../shared/config.ts";
import type { JobService } from "../../shared/jobs/types.ts";
import { getLogger, setupLogging } from "../../shared/log.ts";
import { type Db, serviceClient } from "../../shared/store/client.ts";
import type { Clock, FetchFn, Logger } from "../../shared/types.ts";
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
  const db = serviceClient(url, required(env, "SUPABASE_SERVICE_ROLE_KEY"));
  const waitUntil = edgeWaitUntil();
  return {
    db,
    logger,
    clock,
    jobs: jobService({ db, fetch: fetchFn, clock, logger: getLogger("job"), config }),
    verify: createVerifier({
      jwtSecret: required(env, "SUPABASE_JWT_SECRET", "JWT_SECRET"),
      jwksUrl: `${url}/auth/v1/.well-known/jwks.json`,
      fetch: fetchFn,
      clock,
      logger: getLogger("auth"),
    }),
    ...(waitUntil !== undefined ? { waitUntil } : {}),
    config,
  };
}

/**
 * WIRING PENDING — the real job service.
 *
 * Should be `createJobService(deps)` from `shared/jobs/service.ts`, which did not exist when
 * the API was written. Until it is wired, every job route answers 500 `internal` and logs
 * this error; replace the body with `return createJobService(deps);`.
 */
function jobService(
  deps: { db: Db; fetch: FetchFn; clock: Clock; logger: Logger; config: Config },
): JobService {
  const missing = () =>
    Promise.reject(
      new Error("Cannot run the daily-fetch job: createJobService is not wired in deps.ts"),
    );
  void deps;
  return { startRun: missing, processRun: missing, getRun: missing, listRuns: missing };
}
