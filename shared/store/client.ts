/**
 * supabase-js clients. The job's own work uses the service-role client; anything done on
 * behalf of a caller under RLS uses a client built from the caller's token.
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { z } from "zod";
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

/** A failed call of PostgREST as supabase-js reports it. */
export interface PostgrestFailure {
  message: string;
  code?: string;
}

/** The one error of a failed store call: what failed, then PostgREST's message and code. */
export function storeError(what: string, error: PostgrestFailure | null): Error {
  const code = error?.code ? ` (${error.code})` : "";
  return new Error(`${what}: ${error?.message ?? "no data"}${code}`);
}

/**
 * Validates an answer of the database with zod: the boundary where untyped JSON becomes
 * the domain's types.
 */
export function parseAnswer<T>(what: string, schema: z.ZodType<T>, data: unknown): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new Error(`${what}: unexpected answer${where}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/**
 * Calls an RPC and validates its answer.
 * @example
 * const ok = await callRpc(db, `Cannot finish alert ${id}`, "finish_alert", args, z.boolean());
 */
export async function callRpc<T>(
  db: Db,
  what: string,
  fn: string,
  args: Record<string, unknown>,
  schema: z.ZodType<T>,
): Promise<T> {
  const { data, error } = await db.rpc(fn, args);
  if (error) throw storeError(what, error);
  return parseAnswer(`${what} (${fn})`, schema, data);
}
