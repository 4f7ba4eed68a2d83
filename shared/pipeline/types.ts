/**
 * Shapes the pipeline exchanges with its caller (the job) and its store.
 * @module
 */
import type { QueuedAlert } from "../alerts/types.ts";
import type { ChangeSummary, ErrorClass, PolicyChange } from "../types.ts";

/**
 * What a fetch changes on its source row (`public.sources`). Keys left out are left as
 * they are. The job may collect these and write many in one call
 * ({@link PipelineStore.updateSources}).
 */
export interface SourceBookkeeping {
  /** The source's id. */
  id: string;
  /** When this fetch happened (ISO 8601). */
  last_checked_at: string;
  /** Set on success only. */
  last_success_at?: string;
  /** Validators of the last 200 (or refreshed by a 304); set on success only. */
  etag?: string | null;
  /** Last-Modified of the last 200 (or refreshed by a 304); set on success only. */
  last_modified?: string | null;
  /** Null after a success. */
  last_error: string | null;
  /** Class of the failure; null after a success. */
  last_error_class: ErrorClass | null;
  /** 0 after a success; the previous count + 1 after a failure. */
  consecutive_failures: number;
  /**
   * The stored key of this check's extracted text (shared/pipeline/text_key.ts), when its
   * hash is the source's `last_hash` after the check; absent: the stored one stays.
   */
  text_key?: string;
}

/** What {@link PipelineStore.recordSnapshot} writes in one transaction. */
export interface RecordSnapshotInput {
  /** The source fetched. */
  source_id: string;
  /** Id of this fetch: a retried write with the same id returns the first write's ids. */
  fetch_id: string;
  /** The source's `last_hash` the change was computed against (null for a baseline). */
  previous_hash: string | null;
  /** SHA-256 (hex) of `content`. */
  content_hash: string;
  /** Normalised text. */
  content: string;
  /** Media type of the document, e.g. `text/html`. */
  content_type: string | null;
  /** Unified diff; null for a baseline. */
  diff: string | null;
  /** Summary of the diff; null for a baseline. */
  summary: ChangeSummary | null;
  /** When the response was fetched (ISO 8601). */
  fetched_at: string;
  /** The source row patch, applied in the same transaction. */
  bookkeeping: SourceBookkeeping;
}

/** Ids written by {@link PipelineStore.recordSnapshot}. */
export interface RecordSnapshotResult {
  /** The stored snapshot (the first write's, on a retry). */
  snapshot_id: string;
  /** Null for a baseline. */
  policy_change_id: string | null;
  /** True when this was the source's first snapshot. */
  baseline: boolean;
  /**
   * The change as stored (what alert delivery needs), when there is one; absent from a store
   * that does not answer with it (the job then reads it by `policy_change_id`).
   */
  policy_change?: PolicyChange | null;
  /**
   * The change's alerts, when the store queued them with it (in the same transaction);
   * null or absent: not queued here (the job queues them itself).
   */
  alerts?: QueuedAlert[] | null;
}

/** A stored snapshot's id and normalised text. */
export interface StoredText {
  id: string;
  content: string;
}

/** Persistence the pipeline needs; `shared/store/pipeline_store.ts` implements it on Supabase. */
export interface PipelineStore {
  /** Normalised text of a snapshot, or null when it no longer exists. */
  getSnapshotContent(snapshotId: string): Promise<string | null>;
  /**
   * The source's latest snapshots (id and normalised text), newest first (at most `limit`):
   * the source's history, which tells page furniture that comes and goes from a change; its
   * first row is, but for a stale source row, the previous snapshot a change is diffed
   * against (one read for both).
   */
  getRecentSnapshots(sourceId: string, limit: number): Promise<StoredText[]>;
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
  /** The whole call. */
  total_ms: number;
  /** HTTP, redirects and retries included. */
  fetch_ms: number;
  /** Decoding and HTML/PDF/text extraction. */
  extract_ms: number;
  /** Normalisation and hashing. */
  normalise_ms: number;
  /** Reading the previous text and diffing. */
  detect_ms: number;
  /** Database writes. */
  store_ms: number;
  /**
   * The synchronous compute of the run (extraction, normalisation, fingerprint, detection
   * and diff, a confirmation's too): `performance.now()` spans that contain no await, so
   * no other work of the isolate runs inside them and their wall time bounds their CPU on
   * the one thread they run on, where the runtime gives no CPU reading (hosted). The job's
   * budget charges it (shared/jobs/budget.ts). A PDF's extraction awaits inside its library:
   * its whole wall time is counted, an upper bound.
   */
  compute_ms: number;
}

/** Which part of the document was monitored: the operator's view of a blind spot. */
export interface ContentChoice {
  /** How it was found, e.g. `<main>`, `the source's CSS selector #terms`, `the PDF's text`. */
  found_by: string;
  /** Characters of the normalised text. */
  chars: number;
}

/** Outcome of one fetch of one source. `runFetchPipeline` never throws: failures come back here. */
export interface PipelineResult {
  /** The source fetched. */
  source_id: string;
  /** Id of this fetch (idempotency key of the snapshot write). */
  fetch_id: string;
  /** `failed` when any stage failed; see `error_class`. */
  status: "ok" | "failed";
  /** A policy change was recorded. */
  changed: boolean;
  /** The first snapshot of the source was stored (not a change). */
  baseline: boolean;
  /** The server answered 304 to the conditional GET (nothing was extracted). */
  not_modified: boolean;
  /** The recorded change, when there was one. */
  policy_change_id: string | null;
  /** The recorded change's row, when the store answered with it (see RecordSnapshotResult). */
  policy_change?: PolicyChange | null;
  /** The change's alerts, when the store queued them with it (see RecordSnapshotResult). */
  alerts?: QueuedAlert[] | null;
  /** New snapshot, when one was stored. */
  snapshot_id: string | null;
  /** What was taken as the content, when the body was read. */
  content?: ContentChoice | null;
  /** Hash of the normalised text, when the body was read. */
  content_hash: string | null;
  /** Summary of the recorded change. */
  summary: ChangeSummary | null;
  /** Final HTTP status, when a response arrived. */
  http_status: number | null;
  /** Class of the failure; null on success. */
  error_class: ErrorClass | null;
  /** E.g. `Cannot fetch source 42: timed out after 30000 ms`. */
  error_message: string | null;
  /** What went wrong, without the message's `Cannot fetch source 42: ` (for the run's errors). */
  error_detail: string | null;
  /** The source row patch of this fetch. */
  bookkeeping: SourceBookkeeping;
  /** False when the caller still has to write `bookkeeping` (see `writeBookkeeping`). */
  bookkeeping_written: boolean;
  /** Time spent per stage. */
  timings: PipelineTimings;
}
