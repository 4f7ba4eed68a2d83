/**
 * Shapes the pipeline exchanges with its caller (the job) and its store.
 * @module
 */
import type { ChangeSummary, ErrorClass } from "../types.ts";

/**
 * What a fetch changes on its source row (`public.sources`). Keys left out are left as
 * they are. The job may collect these and write many in one call
 * ({@link PipelineStore.updateSources}).
 */
export interface SourceBookkeeping {
  /** The source's id. */
  id: string;
  last_checked_at: string;
  /** Set on success only. */
  last_success_at?: string;
  /** Validators of the last 200 (or refreshed by a 304); set on success only. */
  etag?: string | null;
  last_modified?: string | null;
  /** Null after a success. */
  last_error: string | null;
  last_error_class: ErrorClass | null;
  /** 0 after a success; the previous count + 1 after a failure. */
  consecutive_failures: number;
}

/** What {@link PipelineStore.recordSnapshot} writes in one transaction. */
export interface RecordSnapshotInput {
  source_id: string;
  /** Id of this fetch: a retried write with the same id returns the first write's ids. */
  fetch_id: string;
  /** The source's `last_hash` the change was computed against (null for a baseline). */
  previous_hash: string | null;
  content_hash: string;
  content: string;
  content_type: string | null;
  /** Unified diff; null for a baseline. */
  diff: string | null;
  summary: ChangeSummary | null;
  fetched_at: string;
  bookkeeping: SourceBookkeeping;
}

/** Ids written by {@link PipelineStore.recordSnapshot}. */
export interface RecordSnapshotResult {
  snapshot_id: string;
  /** Null for a baseline. */
  policy_change_id: string | null;
  baseline: boolean;
}

/** Persistence the pipeline needs; `shared/store/pipeline_store.ts` implements it on Supabase. */
export interface PipelineStore {
  /** Normalised text of a snapshot, or null when it no longer exists. */
  getSnapshotContent(snapshotId: string): Promise<string | null>;
  /**
   * Atomically: inserts the snapshot, the policy change (when there is a previous
   * snapshot), and moves the source's last_hash / last_snapshot_id and bookkeeping.
   * Idempotent on fetch_id; fails when the source's last_hash is no longer
   * `previous_hash` (another writer got there first).
   */
  recordSnapshot(input: RecordSnapshotInput): Promise<RecordSnapshotResult>;
  /** Applies many bookkeeping patches in one write. */
  updateSources(patches: SourceBookkeeping[]): Promise<void>;
}

/** Time spent in each stage, in ms. */
export interface PipelineTimings {
  total_ms: number;
  fetch_ms: number;
  extract_ms: number;
  normalise_ms: number;
  detect_ms: number;
  store_ms: number;
}

/** Outcome of one fetch of one source. `runFetchPipeline` never throws: failures come back here. */
export interface PipelineResult {
  source_id: string;
  fetch_id: string;
  status: "ok" | "failed";
  /** A policy change was recorded. */
  changed: boolean;
  /** The first snapshot of the source was stored (not a change). */
  baseline: boolean;
  /** The server answered 304 to the conditional GET (nothing was extracted). */
  not_modified: boolean;
  policy_change_id: string | null;
  /** New snapshot, when one was stored. */
  snapshot_id: string | null;
  /** Hash of the normalised text, when the body was read. */
  content_hash: string | null;
  summary: ChangeSummary | null;
  /** Final HTTP status, when a response arrived. */
  http_status: number | null;
  error_class: ErrorClass | null;
  /** E.g. `Cannot fetch source 42: timed out after 30000 ms`. */
  error_message: string | null;
  /** The source row patch of this fetch. */
  bookkeeping: SourceBookkeeping;
  /** False when the caller still has to write `bookkeeping` (see `writeBookkeeping`). */
  bookkeeping_written: boolean;
  timings: PipelineTimings;
}
