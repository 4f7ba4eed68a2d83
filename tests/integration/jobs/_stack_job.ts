/**
 * The daily-fetch job with its real wiring (functions/api/job_deps.ts) on the local stack,
 * for the tests that fetch real loopback pages: in this process ({@link stackJobDeps}) or
 * in a process of its own that a test may kill ({@link spawnInvocation}).
 * @module
 */
import { createJobDeps, type JobWiring } from "../../../functions/api/job_deps.ts";
import { type Config, DEFAULT_CONFIG } from "../../../shared/config.ts";
import type { JobDeps } from "../../../shared/jobs/deps.ts";
import { startDailyFetchRun } from "../../../shared/jobs/run_daily_fetch_job.ts";
import type { JobResult } from "../../../shared/jobs/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import type { Db } from "../../../shared/store/client.ts";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";
import { waitForNoRunningRun } from "../_stack.ts";

/**
 * The job's real dependencies on `db`: the real fetch and clock, a capturing logger and
 * the default config with private networks allowed (the tests' sites are on loopback),
 * then `config`; `wiring` replaces any of the rest (a logger to read, a handover).
 */
export function stackJobDeps(
  db: Db,
  config: Partial<Config> = {},
  wiring: Partial<Omit<JobWiring, "db" | "config">> = {},
): JobDeps {
  return createJobDeps({
    db,
    fetch,
    clock: () => new Date(),
    logger: captureLogger(),
    ...wiring,
    config: { ...DEFAULT_CONFIG, FETCH_ALLOW_PRIVATE_NETWORKS: true, ...config },
  });
}

/**
 * Waits until no daily-fetch run is running (one at a time), then starts a manual run that
 * fetches `sourceIds`, due or not; the run's first invocation is the caller's to start.
 */
export async function startForcedRun(deps: JobDeps, sourceIds: string[]): Promise<JobResult> {
  await waitForNoRunningRun();
  return await startDailyFetchRun(deps, { trigger: "manual", force: true, source_ids: sourceIds });
}

/**
 * Starts one invocation of run `runId` in its own process (_invocation_worker.ts) as
 * `invocationId`, with leases of `leaseMs` and at most `batch` items held at once; kill it
 * with `child.kill("SIGKILL")` to play a worker the runtime ended.
 */
export function spawnInvocation(
  runId: string,
  invocationId: string,
  leaseMs: number,
  batch: number,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO_ROOT}/tests/integration/jobs/_invocation_worker.ts`,
      runId,
      invocationId,
      String(leaseMs),
      String(batch),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}
