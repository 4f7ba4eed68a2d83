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
  if (error) throw storeError("Cannot reach the database", error);
  return Math.round(now() - t0);
}

/**
 * What the operators' API does with a collection it edits (sources, subscriptions): the
 * store side of `collectionRoutes` (functions/api/openapi_parts.ts).
 */
export interface CollectionStore<View, Create, Patch> {
  /** Every row, in the collection's order. */
  list(): Promise<View[]>;
  /** Inserts validated fields; resolves to the new row as callers see it. */
  create(fields: Create): Promise<View>;
  /** Applies a validated patch; null when no row has this id. */
  update(id: string, patch: Patch): Promise<View | null>;
  /** Deletes a row (and what belongs to it); false when absent. */
  remove(id: string): Promise<boolean>;
}

/** A failed call of PostgREST as supabase-js reports it (a PostgrestError). */
export interface PostgrestFailure {
  message: string;
  code?: string;
}

/**
 * The one error of a failed store call: what failed, then PostgREST's message and code. The
 * SQLSTATE and the name of a broken constraint stay as data, so a caller can map the rules
 * it knows (`constraintFieldError` in db_error.ts) without parsing the text; the message
 * keeps the database's words for logs only.
 */
export class DbError extends Error {
  /** SQLSTATE (`23514` check, `23503` foreign key, `23505` unique, ...) or PostgREST's code. */
  readonly code: string | null;
  /** Name of the constraint broken, when the database named one. */
  readonly constraint: string | null;

  /** Wraps a supabase-js error (null: the call answered no data). */
  constructor(what: string, error: PostgrestFailure | null) {
    super(`${what}: ${_failureText(error)}${error?.code ? ` (${error.code})` : ""}`);
    this.name = "DbError";
    this.code = error?.code ?? null;
    this.constraint = /constraint "([^"]+)"/.exec(error?.message ?? "")?.[1] ?? null;
  }
}

/**
 * PostgREST's message of a failure. An answer that is not PostgREST's (the API gateway's
 * own JSON error when it cannot reach PostgREST) has none: then that answer, shortened.
 */
function _failureText(error: PostgrestFailure | null): string {
  if (error === null) return "no data";
  if (typeof error.message === "string") return error.message;
  return `not a PostgREST error: ${JSON.stringify(error).slice(0, 300)}`;
}

/** The {@link DbError} of a failed store call (`if (error) throw storeError(what, error)`). */
export function storeError(what: string, error: PostgrestFailure | null): DbError {
  return new DbError(what, error);
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
 * The validated data of a supabase-js answer (`{ data, error }`): a failure becomes the
 * store's {@link DbError}, the data goes through {@link parseAnswer}.
 * @example
 * const rows = answerOf("Cannot list sources", z.array(SourceViewSchema), await query);
 */
export function answerOf<T>(
  what: string,
  schema: z.ZodType<T>,
  answer: { data: unknown; error: PostgrestFailure | null },
): T {
  if (answer.error) throw storeError(what, answer.error);
  return parseAnswer(what, schema, answer.data);
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
