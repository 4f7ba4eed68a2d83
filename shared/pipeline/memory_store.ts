/**
 * In-memory {@link PipelineStore} with the same rules as the SQL functions (one
 * transaction per snapshot, idempotent on fetch_id, stale previous_hash refused), for
 * unit tests and local experiments. `failNextRecord` simulates a crash half-way through
 * the write: the staged snapshot is thrown away, as a rolled-back transaction would be.
 * @module
 */
import type { ChangeSummary, Source } from "../types.ts";
import type {
  PipelineStore,
  RecordSnapshotInput,
  RecordSnapshotResult,
  SourceBookkeeping,
} from "./types.ts";

/** A stored source row (the columns the pipeline touches). */
export type MemorySource = Source & {
  last_error?: string | null;
  last_error_class?: string | null;
};

/** A stored snapshot. */
export interface MemorySnapshot {
  id: string;
  source_id: string;
  fetch_id: string;
  content_hash: string;
  content: string;
  content_type: string | null;
  fetched_at: string;
}

/** A stored policy change. */
export interface MemoryPolicyChange {
  id: string;
  source_id: string;
  snapshot_id: string;
  previous_snapshot_id: string | null;
  detected_at: string;
  diff: string;
  summary: ChangeSummary;
}

/** Calls made to the store, for assertions ("no content write", "one batched write"). */
export interface MemoryStoreCalls {
  getSnapshotContent: number;
  recordSnapshot: number;
  updateSources: number;
}

/**
 * A {@link PipelineStore} in memory.
 * @example
 * const store = new MemoryPipelineStore([source]);
 * await runFetchPipeline(source, { ...deps, store });
 * store.policyChanges.size; // 0 after a baseline
 */
export class MemoryPipelineStore implements PipelineStore {
  /** Source rows by id. */
  readonly sources = new Map<string, MemorySource>();
  /** Snapshots by id. */
  readonly snapshots = new Map<string, MemorySnapshot>();
  /** Policy changes by id. */
  readonly policyChanges = new Map<string, MemoryPolicyChange>();
  /** Call counters. */
  readonly calls: MemoryStoreCalls = { getSnapshotContent: 0, recordSnapshot: 0, updateSources: 0 };
  /** When set, the next recordSnapshot fails after staging the snapshot row (nothing is kept). */
  failNextRecord: string | null = null;

  /**
   * Creates a store holding copies of the given sources and nothing else.
   * @param sources initial source rows
   */
  constructor(sources: Source[] = []) {
    for (const source of sources) this.sources.set(source.id, { ...source });
  }

  /** The current row of a source (a copy), to feed the next pipeline run. */
  source(id: string): MemorySource {
    const row = this.sources.get(id);
    if (!row) throw new Error(`Cannot read source ${id}: not found`);
    return { ...row, ignore_patterns: [...row.ignore_patterns] };
  }

  /** Normalised text of a snapshot, or null. */
  getSnapshotContent(snapshotId: string): Promise<string | null> {
    this.calls.getSnapshotContent++;
    return Promise.resolve(this.snapshots.get(snapshotId)?.content ?? null);
  }

  /** The latest snapshots' texts of a source, newest first. */
  getRecentContents(sourceId: string, limit: number): Promise<string[]> {
    const rows = [...this.snapshots.values()].filter((s) => s.source_id === sourceId);
    rows.sort((a, b) => b.fetched_at.localeCompare(a.fetched_at));
    return Promise.resolve(rows.slice(0, limit).map((s) => s.content));
  }

  /** Snapshot + change + source pointer, all or nothing; idempotent on fetch_id. */
  recordSnapshot(input: RecordSnapshotInput): Promise<RecordSnapshotResult> {
    this.calls.recordSnapshot++;
    try {
      return Promise.resolve(this.#record(input));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #record(input: RecordSnapshotInput): RecordSnapshotResult {
    const source = this.sources.get(input.source_id);
    if (!source) throw new Error(`Cannot record snapshot: source ${input.source_id} not found`);
    const existing = [...this.snapshots.values()].find((s) => s.fetch_id === input.fetch_id);
    if (existing) {
      if (existing.source_id !== input.source_id) {
        throw new Error(
          `Cannot record snapshot: fetch ${input.fetch_id} belongs to another source`,
        );
      }
      const change = [...this.policyChanges.values()].find((c) => c.snapshot_id === existing.id);
      return { snapshot_id: existing.id, policy_change_id: change?.id ?? null, baseline: !change };
    }
    if (source.last_hash !== input.previous_hash) {
      throw new Error(
        `Cannot record snapshot of source ${input.source_id}: last_hash is ${source.last_hash} but the fetch compared against ${input.previous_hash}`,
      );
    }
    // Stage everything, then commit at once: a failure before the commit keeps nothing.
    const snapshot: MemorySnapshot = {
      id: crypto.randomUUID(),
      source_id: input.source_id,
      fetch_id: input.fetch_id,
      content_hash: input.content_hash,
      content: input.content,
      content_type: input.content_type,
      fetched_at: input.fetched_at,
    };
    let change: MemoryPolicyChange | null = null;
    if (input.previous_hash !== null) {
      if (input.diff === null) throw new Error("Cannot record policy change: diff is missing");
      change = {
        id: crypto.randomUUID(),
        source_id: input.source_id,
        snapshot_id: snapshot.id,
        previous_snapshot_id: source.last_snapshot_id,
        detected_at: input.fetched_at,
        diff: input.diff,
        summary: input.summary ?? { lines_added: 0, lines_removed: 0, first_changed_lines: [] },
      };
    }
    if (this.failNextRecord !== null) {
      const reason = this.failNextRecord;
      this.failNextRecord = null;
      throw new Error(`Cannot record snapshot of source ${input.source_id}: ${reason}`);
    }
    this.snapshots.set(snapshot.id, snapshot);
    if (change) this.policyChanges.set(change.id, change);
    this.#apply(input.bookkeeping);
    source.last_hash = input.content_hash;
    source.last_snapshot_id = snapshot.id;
    return {
      snapshot_id: snapshot.id,
      policy_change_id: change?.id ?? null,
      baseline: change === null,
    };
  }

  /** Applies bookkeeping patches (keys left out keep their value). */
  updateSources(patches: SourceBookkeeping[]): Promise<void> {
    this.calls.updateSources++;
    for (const patch of patches) this.#apply(patch);
    return Promise.resolve();
  }

  #apply(patch: SourceBookkeeping): void {
    const source = this.sources.get(patch.id);
    if (!source) return; // a source deleted meanwhile: nothing to keep up to date
    source.last_checked_at = patch.last_checked_at;
    if (patch.last_success_at !== undefined) source.last_success_at = patch.last_success_at;
    if (patch.etag !== undefined) source.etag = patch.etag;
    if (patch.last_modified !== undefined) source.last_modified = patch.last_modified;
    source.last_error = patch.last_error;
    source.last_error_class = patch.last_error_class;
    source.consecutive_failures = patch.consecutive_failures;
  }
}
