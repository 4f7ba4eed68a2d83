/**
 * The fetch pipeline's persistence on Supabase: a {@link PipelineStore} over a
 * service-role supabase-js client, calling the RPCs of the pipeline migration
 * (`record_snapshot`: snapshot, policy change and source pointer in one transaction,
 * idempotent on fetch_id; `update_source_bookkeeping`: many sources in one call).
 * Answers are validated with zod.
 * @module
 */
import { z } from "zod";
import type { PipelineStore, RecordSnapshotResult, StoredText } from "../pipeline/types.ts";
import { callRpc, type Db, parseAnswer, storeError } from "./client.ts";
import { PolicyChangeSchema, QueuedAlertSchema } from "./rows.ts";

const RecordSchema = z.object({
  snapshot_id: z.guid(),
  policy_change_id: z.guid().nullable(),
  baseline: z.boolean(),
  policy_change: PolicyChangeSchema.nullable(),
  alerts: z.array(QueuedAlertSchema).nullable(),
});

/** Options of {@link createSupabasePipelineStore}. */
export interface PipelineStoreOptions {
  /**
   * A recorded change's alerts are queued in its own transaction (`record_snapshot`'s
   * `p_queue_alerts`, to every active subscription of the source or of all sources, as
   * `enqueue_policy_change_alerts` does) and returned in `alerts`: the daily-fetch job
   * delivers them without a request of its own to queue them. Default false.
   */
  queueChangeAlerts?: boolean;
}

/**
 * A {@link PipelineStore} backed by the project's database; `db` must be a service-role
 * client (the RPCs are granted to service_role only).
 * @example
 * const store = createSupabasePipelineStore(serviceClient(url, serviceRoleKey));
 * const result = await runFetchPipeline(source, { ...deps, store });
 */
export function createSupabasePipelineStore(
  db: Db,
  options: PipelineStoreOptions = {},
): PipelineStore {
  const queueAlerts = options.queueChangeAlerts ?? false;
  return {
    async getSnapshotContent(snapshotId): Promise<string | null> {
      const what = `Cannot read snapshot ${snapshotId}`;
      const { data, error } = await db.from("snapshots").select("content").eq("id", snapshotId)
        .maybeSingle();
      if (error) throw storeError(what, error);
      return parseAnswer(what, z.object({ content: z.string() }).nullable(), data)?.content ??
        null;
    },

    recordSnapshot(input): Promise<RecordSnapshotResult> {
      const { id: _id, ...bookkeeping } = input.bookkeeping;
      return callRpc(db, `Cannot record snapshot of source ${input.source_id}`, "record_snapshot", {
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
        p_queue_alerts: queueAlerts,
      }, RecordSchema);
    },

    async getRecentSnapshots(sourceId, limit): Promise<StoredText[]> {
      const what = `Cannot read the snapshots of source ${sourceId}`;
      const { data, error } = await db.from("snapshots").select("id, content")
        .eq("source_id", sourceId).order("fetched_at", { ascending: false }).limit(limit);
      if (error) throw storeError(what, error);
      return parseAnswer(what, z.array(z.object({ id: z.string(), content: z.string() })), data);
    },

    async updateSources(patches): Promise<void> {
      if (patches.length === 0) return;
      const { error } = await db.rpc("update_source_bookkeeping", { p_patches: patches });
      if (error) {
        throw storeError(`Cannot update the bookkeeping of ${patches.length} sources`, error);
      }
    },
  };
}
