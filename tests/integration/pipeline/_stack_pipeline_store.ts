/**
 * The pipeline's real store on the local stack for the pipeline's tests: the sources are
 * inserted as given (inactive, so no daily run picks them up), every call reaches
 * `record_snapshot` / `update_source_bookkeeping`, and the wrapper only counts calls and can
 * make the next snapshot write fail (nothing reaches the database then, as when the
 * transaction is rolled back; pipeline_store_test.ts shows the RPC keeps neither row).
 * @module
 */
import type { PipelineStore } from "../../../shared/pipeline/types.ts";
import { createSupabasePipelineStore } from "../../../shared/store/pipeline_store.ts";
import type { Source } from "../../../shared/types.ts";
import { serviceDb } from "../_stack.ts";

const SOURCE_COLUMNS = "id, name, url, active, check_frequency, render, css_selector, " +
  "ignore_patterns, etag, last_modified, last_hash, text_key, last_snapshot_id, last_checked_at, " +
  "last_success_at, consecutive_failures, failing_alerted, last_error, last_error_class";

/** A `sources` row as stored. */
export type StoredSource = Source & { last_error: string | null; last_error_class: string | null };

/** A `snapshots` row. */
export interface StoredSnapshot {
  id: string;
  content: string;
  content_type: string | null;
}

/** A `policy_changes` row. */
export interface StoredChange {
  id: string;
  snapshot_id: string;
  previous_snapshot_id: string | null;
  diff: string;
}

/** The real store plus what the pipeline's tests look at. */
export interface StackPipelineStore extends PipelineStore {
  /** Calls made through this store. */
  calls: {
    getSnapshotContent: number;
    getRecentSnapshots: number;
    recordSnapshot: number;
    updateSources: number;
  };
  /** When set, the next recordSnapshot fails with this reason and writes nothing. */
  failNextRecord: string | null;
  /** The source's row now. */
  source(id: string): Promise<StoredSource>;
  /** Snapshots of this store's sources, oldest first. */
  snapshots(): Promise<StoredSnapshot[]>;
  /** Policy changes of this store's sources, oldest first. */
  policyChanges(): Promise<StoredChange[]>;
  /** Deletes the sources (their snapshots and changes go with them). */
  cleanup(): Promise<void>;
}

const open = new Set<StackPipelineStore>();

/** Inserts the sources and returns their store. */
export async function stackPipelineStore(sources: Source[]): Promise<StackPipelineStore> {
  const db = await serviceDb();
  const tag = crypto.randomUUID().slice(0, 8);
  if (sources.length > 0) {
    const { error } = await db.from("sources").insert(
      sources.map(({ failing_alerted: _f, ...s }) => ({
        ...s,
        name: `${s.name} ${tag}`,
        active: false,
      })),
    );
    if (error) throw new Error(`Cannot insert the test sources: ${error.message}`);
  }
  const ids = sources.map((s) => s.id);
  const real = createSupabasePipelineStore(db);
  const calls = {
    getSnapshotContent: 0,
    getRecentSnapshots: 0,
    recordSnapshot: 0,
    updateSources: 0,
  };
  const store: StackPipelineStore = {
    calls,
    failNextRecord: null,
    getSnapshotContent(id) {
      calls.getSnapshotContent++;
      return real.getSnapshotContent(id);
    },
    getRecentSnapshots(sourceId, limit) {
      calls.getRecentSnapshots++;
      return real.getRecentSnapshots(sourceId, limit);
    },
    recordSnapshot(input) {
      calls.recordSnapshot++;
      const reason = store.failNextRecord;
      if (reason !== null) {
        store.failNextRecord = null;
        return Promise.reject(
          new Error(`Cannot record snapshot of source ${input.source_id}: ${reason}`),
        );
      }
      return real.recordSnapshot(input);
    },
    updateSources(patches) {
      calls.updateSources++;
      return real.updateSources(patches);
    },
    async source(id) {
      const { data, error } = await db.from("sources").select(SOURCE_COLUMNS).eq("id", id)
        .single();
      if (error) throw new Error(`Cannot read source ${id}: ${error.message}`);
      const row = data as unknown as StoredSource;
      return { ...row, name: row.name.replace(` ${tag}`, "") };
    },
    async snapshots() {
      const { data, error } = await db.from("snapshots").select("id, content, content_type")
        .in("source_id", ids).order("fetched_at").order("id");
      if (error) throw new Error(`Cannot read snapshots: ${error.message}`);
      return data as StoredSnapshot[];
    },
    async policyChanges() {
      const { data, error } = await db.from("policy_changes")
        .select("id, snapshot_id, previous_snapshot_id, diff")
        .in("source_id", ids).order("detected_at").order("id");
      if (error) throw new Error(`Cannot read policy changes: ${error.message}`);
      return data as StoredChange[];
    },
    async cleanup() {
      open.delete(store);
      if (ids.length === 0) return;
      const { error } = await db.from("sources").delete().in("id", ids);
      if (error) throw new Error(`Cannot delete the test sources: ${error.message}`);
    },
  };
  open.add(store);
  return store;
}

/** Cleans up every store a test created and has not cleaned up yet. */
export async function cleanupStackPipelineStores(): Promise<void> {
  for (const store of [...open]) await store.cleanup();
}
