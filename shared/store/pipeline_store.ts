/**
 * The fetch pipeline's persistence on Supabase: a {@link PipelineStore} over a
 * service-role supabase-js client, calling the RPCs of
 * `supabase/migrations/20261128000200_pipeline.sql` (`record_snapshot`: snapshot, policy
 * change and source pointer in one transaction, idempotent on fetch_id;
 * `update_source_bookkeeping`: many sources in one call). Answers are validated with zod.
 * @module
 */
import { z } from "zod";
import type {
  PipelineStore,
  RecordSnapshotInput,
  RecordSnapshotResult,
  SourceBookkeeping,
} from "../pipeline/types.ts";
import type { Db } from "./client.ts";

const RecordSchema = z.object({
  snapshot_id: z.string().uuid(),
  policy_change_id: z.string().uuid().nullable(),
  baseline: z.boolean(),
  replayed: z.boolean().optional(),
});

/** A failed store call: what failed, then PostgREST's message and code. */
function _error(
  what: string,
  error: { message: string; code?: string; hint?: string | null },
): Error {
  const code = error.code ? ` (${error.code})` : "";
  return new Error(`${what}: ${error.message}${code}`);
}

/**
 * A {@link PipelineStore} backed by the project's database.
 * @example
 * const store = new SupabasePipelineStore(serviceClient(url, serviceRoleKey));
 * const result = await runFetchPipeline(source, { ...deps, store });
 */
export class SupabasePipelineStore implements PipelineStore {
  readonly #db: Db;

  /**
   * Creates the store over a client.
   * @param db a service-role client (the RPCs are granted to service_role only)
   */
  constructor(db: Db) {
    this.#db = db;
  }

  /** Normalised text of a snapshot, or null when it no longer exists. */
  async getSnapshotContent(snapshotId: string): Promise<string | null> {
    const { data, error } = await this.#db.from("snapshots").select("content").eq("id", snapshotId)
      .maybeSingle();
    if (error) throw _error(`Cannot read snapshot ${snapshotId}`, error);
    return (data as { content: string } | null)?.content ?? null;
  }

  /** The latest snapshots' texts of a source, newest first. */
  async getRecentContents(sourceId: string, limit: number): Promise<string[]> {
    const { data, error } = await this.#db.from("snapshots").select("content")
      .eq("source_id", sourceId).order("fetched_at", { ascending: false }).limit(limit);
    if (error) throw _error(`Cannot read the snapshots of source ${sourceId}`, error);
    return ((data ?? []) as { content: string }[]).map((row) => row.content);
  }

  /** Calls `record_snapshot`: snapshot, change and source move in one transaction. */
  async recordSnapshot(input: RecordSnapshotInput): Promise<RecordSnapshotResult> {
    const { id: _id, ...bookkeeping } = input.bookkeeping;
    const { data, error } = await this.#db.rpc("record_snapshot", {
      p_source_id: input.source_id,
      p_fetch_id: input.fetch_id,
      p_previous_hash: input.previous_hash,
      p_content_hash: input.content_hash,
      p_content: input.content,
      p_content_type: input.content_type,
      p_diff: input.diff,
      p_summary: input.summary,
      p_fetched_at: input.fetched_at,
      p_bookkeeping: bookkeeping,
    });
    if (error) throw _error(`Cannot record snapshot of source ${input.source_id}`, error);
    const parsed = RecordSchema.safeParse(data);
    if (!parsed.success) {
      throw new Error(
        `Cannot record snapshot of source ${input.source_id}: unexpected answer ${
          JSON.stringify(data)
        }`,
      );
    }
    const { snapshot_id, policy_change_id, baseline } = parsed.data;
    return { snapshot_id, policy_change_id, baseline };
  }

  /** Calls `update_source_bookkeeping` once for all patches. */
  async updateSources(patches: SourceBookkeeping[]): Promise<void> {
    if (patches.length === 0) return;
    const { error } = await this.#db.rpc("update_source_bookkeeping", { p_patches: patches });
    if (error) throw _error(`Cannot update the bookkeeping of ${patches.length} sources`, error);
  }
}
