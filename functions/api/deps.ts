/**
 * The real dependencies of the `api` function, read from the environment the edge runtime
 * (or the local stack) provides: SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, and the tuning
 * variables of shared/config.ts.
 * @module
 */
import { loadConfig } from "../../shared/config.ts";
import { getLogger, setupLogging } from "../../shared/log.ts";
import { serviceClient } from "../../shared/store/client.ts";
import type { AppDeps } from "./app.ts";

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`Missing environment variable ${name}`);
  return v;
}

/** Builds the app's dependencies from the environment. */
export async function realDeps(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<AppDeps> {
  const config = loadConfig(env);
  await setupLogging({ format: config.LOG_FORMAT, level: config.LOG_LEVEL });
  return {
    db: serviceClient(required(env, "SUPABASE_URL"), required(env, "SUPABASE_SERVICE_ROLE_KEY")),
    logger: getLogger("api"),
    clock: () => new Date(),
  };
}
