/**
 * The job's wiring: the real pipeline, alert engine and stores on one service-role
 * supabase-js client. It lives with the entry point (not in shared/jobs) so that
 * shared/jobs depends on interfaces only and shared/store on shared/jobs' types only.
 * @module
 */
import process from "node:process";
import { bindAlertEngine } from "../../shared/alerts/engine.ts";
import type { Config } from "../../shared/config.ts";
import type { JobDeps } from "../../shared/jobs/deps.ts";
import { recordThrottles } from "../../shared/jobs/host_throttle.ts";
import { createJobService } from "../../shared/jobs/service.ts";
import type { JobService } from "../../shared/jobs/types.ts";
import { browserSeam } from "../../shared/pipeline/browser_fetcher.ts";
import { ByteBudget } from "../../shared/pipeline/byte_budget.ts";
import { HostLimiter } from "../../shared/pipeline/host_limiter.ts";
import { type PinnedConnect, pinnedConnect } from "../../shared/pipeline/pinned_connect.ts";
import { runFetchPipeline } from "../../shared/pipeline/pipeline.ts";
import { createSupabaseAlertStore } from "../../shared/store/alert_store.ts";
import type { Db } from "../../shared/store/client.ts";
import { createSupabaseJobStore } from "../../shared/store/job_store.ts";
import { createSupabasePipelineStore } from "../../shared/store/pipeline_store.ts";
import type { Clock, FetchFn, Logger } from "../../shared/types.ts";

/** What {@link createJobDeps} and {@link createRealJobService} need. */
export interface JobWiring {
  db: Db;
  fetch: FetchFn;
  /** Connects to the address the SSRF guard checked; default the pinned socket (pinned_connect.ts). */
  connect?: PinnedConnect;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Starts another invocation on a run whose items are not all done (see handover.ts). */
  handover?: (runId: string) => Promise<void>;
  /** CPU used by this process in ms; default `process.cpuUsage()`. */
  cpuMs?: () => number;
  /** Waits between polls of a run; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** CPU time (user + system) of this process in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Builds the job's dependencies for one invocation. */
export function createJobDeps(wiring: JobWiring): JobDeps {
  const { db, fetch, clock, logger, config } = wiring;
  // A change's alerts are queued in the change's own transaction (one request less each).
  const pipelineStore = createSupabasePipelineStore(db, { queueChangeAlerts: true });
  // One host limiter per invocation: per-host concurrency and politeness across sources.
  const limiter = new HostLimiter({
    perHost: config.FETCH_PER_HOST_CONCURRENCY,
    politenessDelayMs: config.FETCH_POLITENESS_DELAY_MS,
    clock,
  });
  // One browser page limit per invocation too (render 'browser' sources only).
  const browser = browserSeam(config, { fetch });
  // 429/503 + Retry-After answers to the pipeline's requests (fetch or pinned connection):
  // the job slows their hosts in the database, for every invocation of the run.
  const throttles = recordThrottles(fetch, clock, wiring.connect ?? pinnedConnect);
  // One body budget per invocation: bytes of bodies in flight across its sources.
  const budget = new ByteBudget(config.FETCH_BODY_BUDGET_BYTES);
  return {
    store: createSupabaseJobStore(db),
    pipeline: (source, options) =>
      runFetchPipeline(source, {
        fetch: throttles.fetch,
        connect: throttles.connect,
        clock,
        logger,
        store: pipelineStore,
        config,
        limiter,
        browser,
        budget,
      }, {
        fetchId: options.fetchId,
        writeBookkeeping: false,
        requestSlot: options.requestSlot,
      }),
    writeBookkeeping: (patches) => pipelineStore.updateSources(patches),
    alerts: bindAlertEngine({ fetch, clock, logger, store: createSupabaseAlertStore(db), config }),
    clock,
    logger,
    config,
    handover: wiring.handover,
    cpuMs: wiring.cpuMs ?? processCpuMs,
    onThrottle: throttles.listen,
  };
}

/** The {@link JobService} of the `api` function. */
export function createRealJobService(wiring: JobWiring): JobService {
  return createJobService({
    store: createSupabaseJobStore(wiring.db),
    jobDeps: () => createJobDeps(wiring),
    clock: wiring.clock,
    logger: wiring.logger,
    config: wiring.config,
    handover: wiring.handover,
    sleep: wiring.sleep,
  });
}
