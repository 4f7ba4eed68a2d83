/**
 * The real dependencies of the `api` function, read from the environment the hosted edge
 * runtime (or the local stack) provides: SUPABASE_URL; the new API keys
 * SUPABASE_SECRET_KEYS / SUPABASE_PUBLISHABLE_KEYS (JSON objects of named keys) and
 * SUPABASE_JWKS; the legacy SUPABASE_SERVICE_ROLE_KEY / SUPABASE_ANON_KEY (present only while
 * the project's legacy keys are enabled) and SUPABASE_JWT_SECRET or JWT_SECRET (optional:
 * legacy HS256 user tokens); and the tuning variables of shared/config.ts.
 * @module
 */
import type { JSONWebKeySet } from "jose";
import { type AuthDeps, createVerifier } from "../../shared/auth/verify.ts";
import { loadConfig } from "../../shared/config.ts";
import { httpHandover } from "../../shared/jobs/handover.ts";
import { getLogger, setupLogging } from "../../shared/log.ts";
import { serviceClient } from "../../shared/store/client.ts";
import type { Clock, FetchFn } from "../../shared/types.ts";
import type { AppDeps } from "./app.ts";
import { createRealJobService } from "./job_deps.ts";

function required(env: Record<string, string | undefined>, ...names: string[]): string {
  for (const name of names) {
    const v = env[name];
    if (v) return v;
  }
  throw new Error(`Missing environment variable ${names.join(" or ")}`);
}

/** A JSON object of named keys (`{"default": "sb_secret_…"}`); empty when unset. */
function namedKeys(env: Record<string, string | undefined>, name: string): Record<string, string> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`Cannot read environment variable ${name}: not JSON`);
  }
  if (
    parsed === null || typeof parsed !== "object" || Array.isArray(parsed) ||
    !Object.values(parsed).every((v) => typeof v === "string" && v !== "")
  ) {
    throw new Error(`Cannot read environment variable ${name}: not an object of named keys`);
  }
  return parsed as Record<string, string>;
}

/** SUPABASE_JWKS inline (`{"keys": [...]}` or `[...]`), else the project's JWKS URL. */
function jwksSource(env: Record<string, string | undefined>, url: string): AuthDeps["jwks"] {
  const raw = env.SUPABASE_JWKS;
  if (raw === undefined || raw.trim() === "") {
    return new URL(`${url}/auth/v1/.well-known/jwks.json`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("Cannot read environment variable SUPABASE_JWKS: not JSON");
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    throw new Error("Cannot read environment variable SUPABASE_JWKS: no keys array");
  }
  return { keys } as JSONWebKeySet;
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
  await setupLogging({
    format: config.LOG_FORMAT,
    level: config.LOG_LEVEL,
    maxEventsPer10s: config.LOG_MAX_EVENTS_PER_10S,
  });
  const url = required(env, "SUPABASE_URL").replace(/\/+$/, "");
  const logger = getLogger("api");
  const clock: Clock = () => new Date();
  const fetchFn: FetchFn = (input, init) => fetch(input, init);
  const secretKeys = namedKeys(env, "SUPABASE_SECRET_KEYS");
  const publishableKeys = namedKeys(env, "SUPABASE_PUBLISHABLE_KEYS");
  const legacyServiceKey = env.SUPABASE_SERVICE_ROLE_KEY || undefined;
  const legacyAnonKey = env.SUPABASE_ANON_KEY || undefined;
  const jwtSecret = env.SUPABASE_JWT_SECRET || env.JWT_SECRET || undefined;
  // The function's own database calls: the secret key in every world that has one (the
  // gateway maps it to the service role), the legacy service-role key otherwise.
  const serviceRoleKey = secretKeys.default ?? Object.values(secretKeys)[0] ?? legacyServiceKey;
  if (serviceRoleKey === undefined) {
    throw new Error(
      "Missing environment variable SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY",
    );
  }
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
    jobs: createRealJobService({ db, fetch: fetchFn, clock, logger: jobLogger, config, handover }),
    verify: createVerifier({
      url,
      secretKeys,
      publishableKeys,
      jwks: jwksSource(env, url),
      legacy: {
        ...(legacyServiceKey !== undefined ? { serviceRoleKey: legacyServiceKey } : {}),
        ...(legacyAnonKey !== undefined ? { anonKey: legacyAnonKey } : {}),
        ...(jwtSecret !== undefined ? { jwtSecret } : {}),
      },
      clock,
    }),
    ...(waitUntil !== undefined ? { waitUntil } : {}),
    config,
    operators: { fetch: fetchFn, config, publicUrl: url },
  };
}
