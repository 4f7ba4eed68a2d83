/**
 * The daily-fetch job's test harness on the local stack's Postgres: the job's real store
 * (the SQL functions are the only implementation of claims, leases, fencing and
 * finalising), wrapped so a test can make its next calls fail, with fakes only at the
 * seams around the job (a scripted pipeline that writes real snapshots through the real
 * pipeline store, a recording alert engine, a manual clock for the job's own time).
 *
 * Isolation: each harness creates its own sources (unique names), passes their ids as
 * `source_ids` to every run, and names its runs with its own `job_name`, so its runs
 * never conflict (409) with other runs on the stack. `await using` deletes its rows.
 * Time in SQL is the database's `now()`: a test that needs a lease or a deadline to pass
 * moves them into the past with {@link JobHarness.expireLeases} / `expireDeadline`.
 * @module
 */
import type postgres from "postgres";
import type { AlertOutcome, OperationalEvent } from "../../../shared/alerts/types.ts";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import type { JobAlerts, JobConfig, JobDeps } from "../../../shared/jobs/deps.ts";
import {
  processDailyFetchRun,
  runDailyFetchJob,
  startDailyFetchRun,
} from "../../../shared/jobs/run_daily_fetch_job.ts";
import type { JobStore } from "../../../shared/jobs/store.ts";
import type { JobResult, RunOptions } from "../../../shared/jobs/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import { emptyPipelineResult } from "../../../shared/pipeline/pipeline.ts";
import type { PipelineResult, SourceBookkeeping } from "../../../shared/pipeline/types.ts";
import { createSupabaseJobStore } from "../../../shared/store/job_store.ts";
import { createSupabasePipelineStore } from "../../../shared/store/pipeline_store.ts";
import type { ErrorClass, PolicyChange, Source } from "../../../shared/types.ts";
import { type ManualClock, manualClock } from "../../fixtures/alert_data.ts";
import { NEW_SOURCE_DEFAULTS } from "../../fixtures/contract.ts";
import { serviceDb, sqlClient } from "../_stack.ts";

/** When every job test starts: the nightly cron time (the job's clock; SQL uses now()). */
export const NOW = new Date("2026-11-28T02:00:00.000Z");

/** The job's config slice with test-friendly values (defaults unless told). */
export function testJobConfig(overrides: Partial<JobConfig> = {}): JobConfig {
  return {
    JOB_DUE_TOLERANCE_MS: DEFAULT_CONFIG.JOB_DUE_TOLERANCE_MS,
    JOB_RUN_DEADLINE_MS: DEFAULT_CONFIG.JOB_RUN_DEADLINE_MS,
    JOB_LEASE_MS: DEFAULT_CONFIG.JOB_LEASE_MS,
    JOB_LEASE_RENEW_MS: DEFAULT_CONFIG.JOB_LEASE_RENEW_MS,
    JOB_ITEM_MAX_ATTEMPTS: DEFAULT_CONFIG.JOB_ITEM_MAX_ATTEMPTS,
    JOB_BATCH_SIZE: DEFAULT_CONFIG.JOB_BATCH_SIZE,
    JOB_INVOCATION_MAX_ITEMS: DEFAULT_CONFIG.JOB_INVOCATION_MAX_ITEMS,
    JOB_INVOCATION_WALL_MS: DEFAULT_CONFIG.JOB_INVOCATION_WALL_MS,
    JOB_INVOCATION_CPU_MS: DEFAULT_CONFIG.JOB_INVOCATION_CPU_MS,
    FETCH_GLOBAL_CONCURRENCY: 4,
    // The scripted pipeline fetches nothing: the database's per-host limit must not
    // serialise the harness's sources (tests/integration/jobs/host_limits_test.ts tests it).
    FETCH_PER_HOST_CONCURRENCY: 100,
    FETCH_POLITENESS_DELAY_MS: 0,
    ALERT_FAILING_THRESHOLD: 3,
    ...overrides,
  };
}

/** A source to create, named by an alias (`src-a`) the test uses in its script. */
export type SourceSpec = Partial<Omit<Source, "id" | "name" | "url">> & {
  id: string;
  /** Whether the source has a snapshot (so a new text is a change, not a baseline). */
  watched?: boolean;
};

/** A source never fetched: the schema's defaults (active, daily). */
export function makeSource(spec: SourceSpec): SourceSpec {
  return { ...spec, watched: spec.watched ?? false };
}

/**
 * A source fetched before: checked (and snapshotted) yesterday at 02:00, so it is due now
 * and a new text is a change rather than a baseline.
 */
export function watchedSource(spec: SourceSpec): SourceSpec {
  const yesterday = new Date(NOW.getTime() - 86_400_000).toISOString();
  return { last_checked_at: yesterday, last_success_at: yesterday, ...spec, watched: true };
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
    ...emptyPipelineResult(source.id, fetchId),
    content_hash: failed ? null : "1".repeat(64),
    http_status: failed ? null : 200,
    error_class: errorClass,
    error_message: errorMessage,
    error_detail: overrides.error_detail ?? null,
    bookkeeping,
    bookkeeping_written: false,
    ...overrides,
  };
}

/** What the scripted pipeline does for a source. */
export type Behaviour =
  /** 200 with the same text. */
  | "unchanged"
  /**
   * 200 with a new text: records a snapshot (a change, or a baseline on a first fetch); the
   * result carries the change row record_snapshot answered with, as the real pipeline's.
   */
  | "changed"
  /** As `changed`, but the result carries only the change's id (the job reads the row). */
  | "changed_id_only"
  /** 304 to the conditional GET. */
  | "not_modified"
  /** Fails with a timeout (a PipelineResult with status failed). */
  | "timeout"
  /** Rejects (breaking the pipeline's never-throws promise). */
  | "throws"
  /** Anything else. */
  | ((source: Source, fetchId: string) => Promise<PipelineResult>);

/** The scripted pipeline; `calls` lists what it was asked to fetch (source aliases). */
export interface FakePipeline {
  (source: Source, options: { fetchId: string }): Promise<PipelineResult>;
  calls: Array<{ source_id: string; alias: string; fetch_id: string }>;
}

/** What went wrong in a scripted timeout, as the real fetcher words it. */
export const TIMEOUT_DETAIL = "timed out after 30000 ms";

/** Error message of a scripted timeout, as the pipeline words it. */
export const timeoutMessage = (id: string) => `Cannot fetch source ${id}: ${TIMEOUT_DETAIL}`;

/** Message of a scripted pipeline crash. */
export const CRASH = "Cannot read properties of undefined (reading 'body')";

const hex64 = () => crypto.randomUUID().replaceAll("-", "").repeat(2);

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
export function fakeAlerts(
  overrides: Partial<JobAlerts>,
  events: string[],
  alias: (id: string) => string = (id) => id,
): FakeAlerts {
  const alerts: FakeAlerts = {
    delivered: [],
    health: [],
    operationalEvents: [],
    retries: 0,
    async deliver(change) {
      alerts.delivered.push(change);
      events.push(`deliver ${alias(change.source_id)}`);
      return overrides.deliver ? await overrides.deliver(change) : [outcome("sent")];
    },
    async retryPending() {
      alerts.retries += 1;
      events.push("retryPending");
      return overrides.retryPending ? await overrides.retryPending() : [];
    },
    async sourceHealth(source, succeeded) {
      alerts.health.push({ source_id: alias(source.id), succeeded });
      events.push(`sourceHealth ${alias(source.id)} ${succeeded}`);
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

/** A job store whose methods can be made to fail; every other call reaches Postgres. */
export interface FaultyJobStore extends JobStore {
  /** The next `times` calls of `method` reject with `error`. */
  failNext(method: keyof JobStore, error: Error, times?: number): void;
  /** Every call of `method` rejects with `error` until {@link heal}. */
  failAlways(method: keyof JobStore, error: Error): void;
  heal(method: keyof JobStore): void;
  /**
   * The next round trip of the work loop that records outcomes (completeAndClaim with
   * outcomes) rejects with `error`; round trips that only claim go through.
   */
  failNextCompletion(error: Error): void;
  /** How many times each method was called (faults included). */
  calls: Partial<Record<keyof JobStore, number>>;
}

/** Wraps a real store: fault injection, and a hook on the bookkeeping sent with outcomes. */
export function faultyJobStore(
  real: JobStore,
  onBookkeeping: (patches: SourceBookkeeping[]) => void,
): FaultyJobStore {
  const faults = new Map<
    keyof JobStore,
    { error: Error; remaining: number; when?: (args: unknown[]) => boolean }
  >();
  const wrapped = {} as Record<keyof JobStore, unknown>;
  const calls: Partial<Record<keyof JobStore, number>> = {};
  for (const method of Object.keys(real) as Array<keyof JobStore>) {
    wrapped[method] = (...args: unknown[]) => {
      calls[method] = (calls[method] ?? 0) + 1;
      const fault = faults.get(method);
      if (fault && (fault.when?.(args) ?? true)) {
        fault.remaining -= 1;
        if (fault.remaining <= 0) faults.delete(method);
        return Promise.reject(fault.error);
      }
      if (method === "completeItems" || method === "completeAndClaim") {
        const patches = args[2] as SourceBookkeeping[] | undefined;
        if (patches && patches.length > 0) onBookkeeping(patches);
      }
      return (real[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return Object.assign(wrapped as unknown as JobStore, {
    calls,
    failNext(method: keyof JobStore, error: Error, times = 1) {
      faults.set(method, { error, remaining: times });
    },
    failAlways(method: keyof JobStore, error: Error) {
      faults.set(method, { error, remaining: Number.POSITIVE_INFINITY });
    },
    heal(method: keyof JobStore) {
      faults.delete(method);
    },
    failNextCompletion(error: Error) {
      faults.set("completeAndClaim", {
        error,
        remaining: 1,
        when: (args) => (args[1] as unknown[]).length > 0,
      });
    },
  });
}

/** A `job_run_sources` row, with the alias of its source. */
export interface ItemRow {
  alias: string;
  source_id: string;
  status: string;
  changed: boolean;
  baseline: boolean;
  policy_change_id: string | null;
  error_class: string | null;
  error_message: string | null;
  attempts: number;
  fetch_id: string;
}

/** Everything a job test needs, wired into `deps`. */
export interface JobHarness extends AsyncDisposable {
  deps: JobDeps & { invocationId: string; jobName: string };
  store: FaultyJobStore;
  sql: postgres.Sql;
  clock: ManualClock;
  logger: ReturnType<typeof captureLogger>;
  pipeline: FakePipeline;
  alerts: FakeAlerts;
  /** Each call of writeBookkeeping (and each bookkeeping sent with outcomes). */
  bookkeepingWrites: SourceBookkeeping[][];
  /** Run ids handed over. */
  handovers: string[];
  /** What happened, in order: pipeline, alerts, bookkeeping calls (source aliases). */
  events: string[];
  /** The database id of a source alias. */
  id(alias: string): string;
  /** The unique name of a source alias. */
  name(alias: string): string;
  /** `source <id> (<name>)`, as the run's error lines start. */
  label(alias: string): string;
  /** The alias of a database id. */
  alias(id: string): string;
  /** Runs the job over this harness's sources (`source_ids` are aliases). */
  run(options: RunOptions, deps?: Partial<JobDeps>): Promise<JobResult>;
  start(options: RunOptions): Promise<JobResult>;
  process(runId: string, deps?: Partial<JobDeps>): Promise<JobResult>;
  /** The run's items, by alias. */
  items(runId: string): Promise<ItemRow[]>;
  /** Policy changes of this harness's sources, oldest first. */
  changes(): Promise<Array<{ id: string; source_id: string }>>;
  /** Records a snapshot of `alias` with `fetchId` as the pipeline would; the change id or null. */
  recordSnapshot(alias: string, fetchId: string): Promise<string | null>;
  /** Moves every live lease of the run into the past (its invocation "died"). */
  expireLeases(runId: string): Promise<void>;
  /** Moves the run's deadline into the past. */
  expireDeadline(runId: string): Promise<void>;
  /** A failed run the missed-night watchdog would write for this job. */
  insertMissedRun(startedAt: Date, errors: string[]): Promise<{ id: string; started_at: string }>;
  /** `job_runs.options` / `invocations` of a run. */
  runRow(runId: string): Promise<{ options: unknown; invocations: number }>;
}

/** Options of {@link jobHarness}. */
export interface HarnessOptions {
  sources: SourceSpec[];
  script?: Record<string, Behaviour>;
  alerts?: Partial<JobAlerts>;
  config?: Partial<JobConfig>;
  writeBookkeeping?: (patches: SourceBookkeeping[]) => Promise<void>;
}

/**
 * Creates the sources and builds the job's dependencies around the real store.
 * @example
 * await using h = await jobHarness({ sources: [watchedSource({ id: "src-a" })] });
 * const result = await h.run({ trigger: "cron" });
 */
export async function jobHarness(options: HarnessOptions): Promise<JobHarness> {
  const tag = crypto.randomUUID().slice(0, 8);
  const jobName = `test-daily-fetch-${tag}`;
  const sql = sqlClient();
  const db = await serviceDb();
  const ids = new Map<string, string>();
  const aliases = new Map<string, string>();
  const names = new Map<string, string>();
  for (const spec of options.sources) {
    const { id: alias, watched, ...columns } = spec;
    const row = { ...NEW_SOURCE_DEFAULTS, ...columns };
    const name = `Source ${alias} ${tag}`;
    const [inserted] = await sql<{ id: string }[]>`
      insert into public.sources (name, url, active, check_frequency, last_checked_at,
        last_success_at, consecutive_failures, failing_alerted)
      values (${name}, ${`https://rules-${tag}.example/${alias}`}, ${row.active},
        ${row.check_frequency}, ${row.last_checked_at}, ${row.last_success_at},
        ${row.consecutive_failures}, ${row.failing_alerted})
      returning id`;
    const id = inserted!.id;
    if (watched) {
      const hash = "0".repeat(64);
      await sql`with s as (
          insert into public.snapshots (source_id, fetch_id, content_hash, content, fetched_at)
          values (${id}, gen_random_uuid(), ${hash}, 'Old rules', ${row.last_checked_at})
          returning id)
        update public.sources set last_snapshot_id = (select id from s), last_hash = ${hash}
        where id = ${id}`;
    }
    ids.set(alias, id);
    aliases.set(id, alias);
    names.set(alias, name);
  }
  const aliasOf = (id: string) => aliases.get(id) ?? id;
  const clock = manualClock(NOW);
  const logger = captureLogger();
  const events: string[] = [];
  const bookkeepingWrites: SourceBookkeeping[][] = [];
  const handovers: string[] = [];
  const recordBookkeeping = (patches: SourceBookkeeping[]) => {
    bookkeepingWrites.push(patches);
    events.push(`writeBookkeeping ${patches.map((p) => aliasOf(p.id)).join(",")}`);
  };
  const pipelineStore = createSupabasePipelineStore(db);
  const store = faultyJobStore(createSupabaseJobStore(db), recordBookkeeping);

  async function recordSnapshot(source: Source, fetchId: string) {
    const at = clock().toISOString();
    return await pipelineStore.recordSnapshot({
      source_id: source.id,
      fetch_id: fetchId,
      previous_hash: source.last_hash,
      content_hash: hex64(),
      content: `New rules ${fetchId}`,
      content_type: "text/html",
      diff: source.last_hash === null ? null : "@@ -1 +1 @@\n-Old rules\n+New rules\n",
      summary: source.last_hash === null
        ? null
        : { lines_added: 1, lines_removed: 1, first_changed_lines: ["New rules"] },
      fetched_at: at,
      bookkeeping: pipelineResult(source, fetchId, clock()).bookkeeping,
    });
  }

  const script = options.script ?? {};
  const calls: FakePipeline["calls"] = [];
  const pipeline = Object.assign(
    async (source: Source, o: { fetchId: string }): Promise<PipelineResult> => {
      const alias = aliasOf(source.id);
      calls.push({ source_id: source.id, alias, fetch_id: o.fetchId });
      events.push(`pipeline ${alias}`);
      await Promise.resolve();
      const behaviour = script[alias] ?? "unchanged";
      const at = clock();
      switch (behaviour) {
        case "unchanged":
          return pipelineResult(source, o.fetchId, at);
        case "not_modified":
          return pipelineResult(source, o.fetchId, at, {
            not_modified: true,
            http_status: 304,
            content_hash: null,
          });
        case "changed":
        case "changed_id_only": {
          const r = await recordSnapshot(source, o.fetchId);
          return pipelineResult(source, o.fetchId, at, {
            changed: r.policy_change_id !== null,
            baseline: r.baseline,
            policy_change_id: r.policy_change_id,
            policy_change: behaviour === "changed" ? r.policy_change : undefined,
            snapshot_id: r.snapshot_id,
            summary: r.policy_change_id
              ? { lines_added: 1, lines_removed: 1, first_changed_lines: ["New rules"] }
              : null,
          });
        }
        case "timeout":
          return pipelineResult(source, o.fetchId, at, {
            status: "failed",
            error_class: "timeout" satisfies ErrorClass,
            error_message: timeoutMessage(source.id),
            error_detail: TIMEOUT_DETAIL,
          });
        case "throws":
          throw new TypeError(CRASH);
        default:
          return await behaviour(source, o.fetchId);
      }
    },
    { calls },
  );
  const alerts = fakeAlerts(options.alerts ?? {}, events, aliasOf);
  const deps: JobHarness["deps"] = {
    store,
    pipeline,
    async writeBookkeeping(patches) {
      recordBookkeeping(patches);
      if (options.writeBookkeeping) await options.writeBookkeeping(patches);
      else await pipelineStore.updateSources(patches);
    },
    alerts,
    clock,
    logger,
    config: testJobConfig(options.config),
    jobName,
    invocationId: "invocation-1",
    async handover(runId) {
      handovers.push(runId);
      await Promise.resolve();
    },
  };
  const idOf = (alias: string) => {
    const id = ids.get(alias);
    if (!id) throw new Error(`No source ${alias} in this harness`);
    return id;
  };
  const withIds = (o: RunOptions): RunOptions => ({
    ...o,
    source_ids: o.source_ids ? o.source_ids.map((a) => ids.get(a) ?? a) : [...ids.values()],
  });
  return {
    deps,
    store,
    sql,
    clock,
    logger,
    pipeline,
    alerts,
    bookkeepingWrites,
    handovers,
    events,
    id: idOf,
    name: (alias) => names.get(alias) ?? alias,
    label: (alias) => `source ${idOf(alias)} (${names.get(alias)})`,
    alias: aliasOf,
    run: (o, extra = {}) => runDailyFetchJob({ ...deps, ...extra }, withIds(o)),
    start: (o) => startDailyFetchRun(deps, withIds(o)),
    process: (runId, extra = {}) => processDailyFetchRun({ ...deps, ...extra }, runId),
    async items(runId) {
      const rows = await sql<Omit<ItemRow, "alias">[]>`
        select source_id, status, changed, baseline, policy_change_id, error_class,
          error_message, attempts, fetch_id
        from public.job_run_sources where run_id = ${runId}`;
      return rows.map((r) => ({ ...r, alias: aliasOf(r.source_id) }))
        .sort((x, y) => x.alias.localeCompare(y.alias));
    },
    async changes() {
      return await sql<{ id: string; source_id: string }[]>`
        select id, source_id from public.policy_changes
        where source_id = any(${[...ids.values()]}::uuid[]) order by detected_at, id`;
    },
    async recordSnapshot(alias, fetchId) {
      const [source] = await sql<Source[]>`select * from public.sources where id = ${idOf(alias)}`;
      return (await recordSnapshot(source!, fetchId)).policy_change_id;
    },
    async expireLeases(runId) {
      await sql`update public.job_run_sources set lease_until = now() - interval '1 second'
        where run_id = ${runId} and status = 'claimed'`;
    },
    async expireDeadline(runId) {
      await sql`update public.job_runs set deadline_at = now() - interval '1 second'
        where id = ${runId}`;
    },
    async insertMissedRun(startedAt, errors) {
      const [row] = await sql<{ id: string; started_at: Date }[]>`
        insert into public.job_runs (job_name, trigger, status, started_at, completed_at,
          options, errors)
        values (${jobName}, 'cron', 'failed', ${startedAt}, ${startedAt},
          '{"watchdog": "missed_run"}'::jsonb, ${sql.json(errors)})
        returning id, started_at`;
      const run = await store.getRun(row!.id);
      return { id: row!.id, started_at: run!.started_at };
    },
    async runRow(runId) {
      const [row] = await sql<{ options: unknown; invocations: number }[]>`
        select options, invocations from public.job_runs where id = ${runId}`;
      return row!;
    },
    async [Symbol.asyncDispose]() {
      try {
        await sql`update public.job_runs set status = 'failed', completed_at = now()
          where job_name = ${jobName} and status = 'running'`;
        await sql`delete from public.job_runs where job_name = ${jobName}`;
        await sql`delete from public.sources where id = any(${[...ids.values()]}::uuid[])`;
      } finally {
        await sql.end();
      }
    },
  };
}
