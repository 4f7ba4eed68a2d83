/**
 * Feed tokens on supabase-js (service role): created and revoked by operators through the
 * API, looked up by the SHA-256 of the token a feed reader puts in the query. The token
 * itself is never stored.
 * @module
 */
import { z } from "zod";
import { type FeedTokenView, FeedTokenViewSchema } from "../operators/schemas.ts";
import type { Db } from "./client.ts";
import { DbError } from "./db_error.ts";

/** What the API does with feed tokens. */
export interface FeedTokenStore {
  /** Stores a new token by its hash. */
  create(name: string, tokenHash: string): Promise<FeedTokenView>;
  /** Every token, newest first (without hashes). */
  list(): Promise<FeedTokenView[]>;
  /** Revokes a token; null when no token has this id (a revoked one stays revoked). */
  revoke(id: string, now: Date): Promise<FeedTokenView | null>;
  /** The token with this hash when it is not revoked, after noting its use; else null. */
  use(tokenHash: string, now: Date): Promise<FeedTokenView | null>;
}

const COLUMNS = "id, name, created_at, last_used_at, revoked_at";

function _rows(what: string, data: unknown): FeedTokenView[] {
  const parsed = z.array(FeedTokenViewSchema).safeParse(data);
  if (!parsed.success) {
    throw new Error(`${what}: unexpected answer: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/**
 * Creates the feed token store over a service-role client.
 * @example
 * const tokens = createFeedTokenStore(db);
 * const token = await tokens.use(await sha256Hex(query.token), new Date());
 */
export function createFeedTokenStore(db: Db): FeedTokenStore {
  return {
    async create(name, tokenHash) {
      const { data, error } = await db.from("feed_tokens").insert({ name, token_hash: tokenHash })
        .select(COLUMNS);
      if (error) throw new DbError("Cannot create the feed token", error);
      const row = _rows("Cannot create the feed token", data)[0];
      if (row === undefined) throw new Error("Cannot create the feed token: no row returned");
      return row;
    },

    async list() {
      const { data, error } = await db.from("feed_tokens").select(COLUMNS)
        .order("created_at", { ascending: false }).order("id").limit(1000);
      if (error) throw new DbError("Cannot list feed tokens", error);
      return _rows("Cannot list feed tokens", data);
    },

    async revoke(id, now) {
      const { error } = await db.from("feed_tokens").update({ revoked_at: now.toISOString() })
        .eq("id", id).is("revoked_at", null);
      if (error) throw new DbError(`Cannot revoke feed token ${id}`, error);
      const { data, error: readError } = await db.from("feed_tokens").select(COLUMNS).eq("id", id);
      if (readError) throw new DbError(`Cannot read feed token ${id}`, readError);
      return _rows(`Cannot read feed token ${id}`, data)[0] ?? null;
    },

    async use(tokenHash, now) {
      const { data, error } = await db.from("feed_tokens")
        .update({ last_used_at: now.toISOString() })
        .eq("token_hash", tokenHash).is("revoked_at", null).select(COLUMNS);
      if (error) throw new DbError("Cannot check the feed token", error);
      return _rows("Cannot check the feed token", data)[0] ?? null;
    },
  };
}
