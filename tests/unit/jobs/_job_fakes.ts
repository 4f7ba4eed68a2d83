/**
 * Fakes around {@link MemoryJobStore} for the daily-fetch job's unit tests: a
 * {@link PipelineResult} builder, a scripted pipeline, a recording alert engine, and
 * {@link jobHarness}, which wires them into {@link JobDeps} with a manual clock and a
 * capturing logger. Nothing here touches the network.
 * @module
 */
import type { AlertOutcome, OperationalEvent } from "../../../shared/alerts/types.ts";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import type { JobAlerts, JobConfig, JobDeps } from "../../../shared/jobs/deps.ts";
import { captureLogger } from "../../../shared/log.ts";
import type { PipelineResult, SourceBookkeeping } from "../../../shared/pipeline/types.ts";
import type { ErrorClass, PolicyChange, Source } from "../../../shared/types.ts";
import { type ManualClock, manualClock } from "../../fixtures/alert_data.ts";
import { makeSource, MemoryJobStore } from "./_memory_job_store.ts";

/** When every job test starts: the nightly cron time. */
export const NOW = new Date("2026-11-28T02:00:00.000Z");

/** The job's config slice with test-friendly values (defaults unless told). */
export function testJobConfig(overrides: Partial<JobConfig> = {}): JobConfig {
  return {
    JOB_DUE_TOLERANCE_MS: DEFAULT_CONFIG.JOB_DUE_TOLERANCE_MS,
    JOB_RUN_DEADLINE_MS: DEFAULT_CONFIG.JOB_RUN_DEADLINE_MS,
    JOB_LEASE_MS: DEFAULT_CONFIG.JOB_LEASE_MS,
    JOB_ITEM_MAX_ATTEMPTS: DEFAULT_CONFIG.JOB_ITEM_MAX_ATTEMPTS,
    JOB_BATCH_SIZE: DEFAULT_CONFIG.JOB_BATCH_SIZE,
    JOB_INVOCATION_MAX_ITEMS: DEFAULT_CONFIG.JOB_INVOCATION_MAX_ITEMS,
    JOB_INVOCATION_WALL_MS: DEFAULT_CONFIG.JOB_INVOCATION_WALL_MS,
    JOB_INVOCATION_CPU_MS: DEFAULT_CONFIG.JOB_INVOCATION_CPU_MS,
    FETCH_GLOBAL_CONCURRENCY: 4,
    ALERT_FAILING_THRESHOLD: 3,
    ...overrides,
  };
}

/**
 * A source fetched before: checked (and snapshotted) yesterday at 02:00, so it is due now
 * and a new text is a change rather than a baseline.
 */
export function watchedSource(overrides: Partial<Source> & { id: string }): Source {
  const yesterday = new Date(NOW.getTime() - 86_400_000).toISOString();
  return makeSource({
    last_checked_at: yesterday,
    last_success_at: yesterday,
    last_hash: "0".repeat(64),
    last_snapshot_id: crypto.randomUUID(),
    ...overrides,
  });
}

/**
 * A {@link PipelineResult} of `source` (ok and unchanged unless told), with the
 * bookkeeping a real fetch would carry: success resets the failure streak, a failure
 * extends it.
 */
export function pipelineResult(
  source: Source,
  fetchId: string,
  at: Date,
  overrides: Partial<PipelineResult> = {},
): PipelineResult {
  const failed = overrides.status === "failed";
  const errorClass = overrides.error_class ?? null;
  const errorMessage = overrides.error_message ?? null;
  const bookkeeping: SourceBookkeeping = failed
    ? {
      id: source.id,
      last_checked_at: at.toISOString(),
      last_error: errorMessage,
      last_error_class: errorClass,
      consecutive_failures: source.consecutive_failures + 1,
    }
    : {
      id: source.id,
      last_checked_at: at.toISOString(),
      last_success_at: at.toISOString(),
      etag: null,
      last_modified: null,
      last_error: null,
      last_error_class: null,
      consecutive_failures: 0,
    };
  return {
    source_id: source.id,
    fetch_id: fetchId,
    status: "ok",
    changed: false,
    baseline: false,
    not_modified: false,
    policy_change_id: null,
    snapshot_id: null,
    content_hash: failed ? null : "1".repeat(64),
    summary: null,
    http_status: failed ? null : 200,
    error_class: errorClass,
    error_message: errorMessage,
    error_detail: overrides.error_detail ?? null,
    bookkeeping,
    bookkeeping_written: false,
    timings: {
      total_ms: 5,
      fetch_ms: 3,
      extract_ms: 1,
      normalise_ms: 0,
      detect_ms: 1,
      store_ms: 0,
    },
    ...overrides,
  };
}

/** What the scripted pipeline does for a source. */
export type Behaviour =
  /** 200 with the same text. */
  | "unchanged"
  /** 200 with a new text: records a snapshot (a change, or a baseline on a first fetch). */
  | "changed"
  /** 304 to the conditional GET. */
  | "not_modified"
  /** Fails with a timeout (a PipelineResult with status failed). */
  | "timeout"
  /** Rejects (breaking the pipeline's never-throws promise). */
  | "throws"
  /** Anything else. */
  | ((source: Source, fetchId: string) => Promise<PipelineResult>);

/** The scripted pipeline; `calls` lists what it was asked to fetch. */
export interface FakePipeline {
  (source: Source, options: { fetchId: string }): Promise<PipelineResult>;
  calls: Array<{ source_id: string; fetch_id: string }>;
}

/** What went wrong in a scripted timeout, as the real fetcher words it. */
export const TIMEOUT_DETAIL = "timed out after 30000 ms";

/** Error message of a scripted timeout, as the pipeline words it. */
export const timeoutMessage = (id: string) => `Cannot fetch source ${id}: ${TIMEOUT_DETAIL}`;

/** Message of a scripted pipeline crash. */
export const CRASH = "Cannot read properties of undefined (reading 'body')";

/** A pipeline that follows `script` per source id ("unchanged" when absent). */
export function fakePipeline(
  store: MemoryJobStore,
  clock: ManualClock,
  script: Record<string, Behaviour>,
  events: string[],
): FakePipeline {
  const calls: FakePipeline["calls"] = [];
  const run = async (source: Source, options: { fetchId: string }): Promise<PipelineResult> => {
    calls.push({ source_id: source.id, fetch_id: options.fetchId });
    events.push(`pipeline ${source.id}`);
    await Promise.resolve();
    const behaviour = script[source.id] ?? "unchanged";
    const at = clock();
    switch (behaviour) {
      case "unchanged":
        return pipelineResult(source, options.fetchId, at);
      case "not_modified":
        return pipelineResult(source, options.fetchId, at, {
          not_modified: true,
          http_status: 304,
          content_hash: null,
        });
      case "changed": {
        const change = store.recordSnapshot(source.id, options.fetchId);
        const snapshotId = store.snapshots.find((s) => s.fetch_id === options.fetchId)?.id ??
          null;
        return pipelineResult(source, options.fetchId, at, {
          changed: change !== null,
          baseline: change === null,
          policy_change_id: change?.id ?? null,
          snapshot_id: snapshotId,
          summary: change?.summary ?? null,
          bookkeeping_written: false,
        });
      }
      case "timeout":
        return pipelineResult(source, options.fetchId, at, {
          status: "failed",
          error_class: "timeout" satisfies ErrorClass,
          error_message: timeoutMessage(source.id),
          error_detail: TIMEOUT_DETAIL,
        });
      case "throws":
        throw new TypeError(CRASH);
      default:
        return await behaviour(source, options.fetchId);
    }
  };
  return Object.assign(run, { calls });
}

/** An alert engine that records what the job asked of it. */
export interface FakeAlerts extends JobAlerts {
  delivered: PolicyChange[];
  health: Array<{ source_id: string; succeeded: boolean }>;
  operationalEvents: OperationalEvent[];
  retries: number;
}

/** One outcome of the engine. */
export function outcome(
  status: AlertOutcome["status"],
  overrides: Partial<AlertOutcome> = {},
): AlertOutcome {
  return {
    alert_id: crypto.randomUUID(),
    subscription_id: crypto.randomUUID(),
    channel: "webhook",
    kind: "policy_change",
    status,
    attempts: status === "skipped" ? 0 : 1,
    ...(status === "failed" || status === "dead" ? { error: "HTTP 503 from the receiver" } : {}),
    ...overrides,
  };
}

/**
 * A recording engine: by default one subscriber accepts every change and health alert,
 * and nothing is pending. `overrides` replace the answers, never the recording.
 */
export function fakeAlerts(overrides: Partial<JobAlerts>, events: string[]): FakeAlerts {
  const alerts: FakeAlerts = {
    delivered: [],
    health: [],
    operationalEvents: [],
    retries: 0,
    async deliver(change) {
      alerts.delivered.push(change);
      events.push(`deliver ${change.source_id}`);
      return overrides.deliver ? await overrides.deliver(change) : [outcome("sent")];
    },
    async retryPending() {
      alerts.retries += 1;
      events.push("retryPending");
      return overrides.retryPending ? await overrides.retryPending() : [];
    },
    async sourceHealth(source, succeeded) {
      alerts.health.push({ source_id: source.id, succeeded });
      events.push(`sourceHealth ${source.id} ${succeeded}`);
      return overrides.sourceHealth
        ? await overrides.sourceHealth(source, succeeded)
        : [outcome("sent", { kind: succeeded ? "source_recovered" : "source_failing" })];
    },
    async operational(event) {
      alerts.operationalEvents.push(event);
      events.push(`operational ${event.kind}`);
      return overrides.operational ? await overrides.operational(event) : [];
    },
  };
  return alerts;
}

/** Everything a job test needs, wired into `deps`. */
export interface JobHarness {
  deps: JobDeps & { invocationId: string };
  store: MemoryJobStore;
  clock: ManualClock;
  logger: ReturnType<typeof captureLogger>;
  pipeline: FakePipeline;
  alerts: FakeAlerts;
  /** Each call of writeBookkeeping. */
  bookkeepingWrites: SourceBookkeeping[][];
  /** Run ids handed over. */
  handovers: string[];
  /** What happened, in order: pipeline, alerts, bookkeeping calls. */
  events: string[];
}

/** Options of {@link jobHarness}. */
export interface HarnessOptions {
  sources: Source[];
  script?: Record<string, Behaviour>;
  alerts?: Partial<JobAlerts>;
  config?: Partial<JobConfig>;
  writeBookkeeping?: (patches: SourceBookkeeping[]) => Promise<void>;
}

/** Builds the job's dependencies around a fresh in-memory store. */
export function jobHarness(options: HarnessOptions): JobHarness {
  const clock = manualClock(NOW);
  const store = new MemoryJobStore(clock, options.sources);
  const logger = captureLogger();
  const events: string[] = [];
  const pipeline = fakePipeline(store, clock, options.script ?? {}, events);
  const alerts = fakeAlerts(options.alerts ?? {}, events);
  const bookkeepingWrites: SourceBookkeeping[][] = [];
  const handovers: string[] = [];
  // Bookkeeping written together with the outcomes counts as a write too.
  store.onBookkeeping = (patches) => {
    bookkeepingWrites.push(patches);
    events.push(`writeBookkeeping ${patches.map((p) => p.id).join(",")}`);
  };
  const deps: JobHarness["deps"] = {
    store,
    pipeline,
    async writeBookkeeping(patches) {
      bookkeepingWrites.push(patches);
      events.push(`writeBookkeeping ${patches.map((p) => p.id).join(",")}`);
      if (options.writeBookkeeping) await options.writeBookkeeping(patches);
      else store.applyBookkeeping(patches);
    },
    alerts,
    clock,
    logger,
    config: testJobConfig(options.config),
    invocationId: "invocation-1",
    async handover(runId) {
      handovers.push(runId);
      await Promise.resolve();
    },
  };
  return { deps, store, clock, logger, pipeline, alerts, bookkeepingWrites, handovers, events };
}
