/**
 * Feed tokens on supabase-js (service role): created and revoked by operators through the
 * API, looked up by the SHA-256 of the token a feed reader puts in the query. The token
 * itself is never stored.
 * @module
 */
import { z } from "zod";
import { type FeedTokenView, FeedTokenViewSchema } from "../operators/schemas.ts";
import { answerOf, type Db, storeError } from "./client.ts";

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

const RowsSchema = z.array(FeedTokenViewSchema);

/**
 * Creates the feed token store over a service-role client.
 * @example
 * const tokens = createFeedTokenStore(db);
 * const token = await tokens.use(await sha256Hex(query.token), new Date());
 */
export function createFeedTokenStore(db: Db): FeedTokenStore {
  return {
    async create(name, tokenHash) {
      const answer = await db.from("feed_tokens").insert({ name, token_hash: tokenHash })
        .select(COLUMNS);
      const row = answerOf("Cannot create the feed token", RowsSchema, answer)[0];
      if (row === undefined) throw new Error("Cannot create the feed token: no row returned");
      return row;
    },

    async list() {
      const answer = await db.from("feed_tokens").select(COLUMNS)
        .order("created_at", { ascending: false }).order("id").limit(1000);
      return answerOf("Cannot list feed tokens", RowsSchema, answer);
    },

    async revoke(id, now) {
      const { error } = await db.from("feed_tokens").update({ revoked_at: now.toISOString() })
        .eq("id", id).is("revoked_at", null);
      if (error) throw storeError(`Cannot revoke feed token ${id}`, error);
      const answer = await db.from("feed_tokens").select(COLUMNS).eq("id", id);
      return answerOf(`Cannot read feed token ${id}`, RowsSchema, answer)[0] ?? null;
    },

    async use(tokenHash, now) {
      const answer = await db.from("feed_tokens").update({ last_used_at: now.toISOString() })
        .eq("token_hash", tokenHash).is("revoked_at", null).select(COLUMNS);
      return answerOf("Cannot check the feed token", RowsSchema, answer)[0] ?? null;
    },
  };
}
