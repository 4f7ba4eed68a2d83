/**
 * supabase-js clients. The job's own work uses the service-role client; anything done on
 * behalf of a caller under RLS uses a client built from the caller's token.
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { FetchFn } from "../types.ts";

/** The project's supabase-js client type (untyped schema). */
export type Db = SupabaseClient;

/** A service-role client: bypasses RLS; never exposed to callers. */
export function serviceClient(url: string, serviceRoleKey: string, fetchFn?: FetchFn): Db {
  return createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: fetchFn ? { fetch: fetchFn as typeof fetch } : undefined,
  });
}

/** Checks that the database answers through the API; resolves to the latency in ms. */
export async function pingDatabase(
  db: Db,
  now: () => number = () => performance.now(),
): Promise<number> {
  const t0 = now();
  const { error } = await db.from("check_frequencies").select("name").limit(1);
  if (error) throw new Error(`Cannot reach the database: ${error.message}`);
  return Math.round(now() - t0);
}
