/**
 * One job invocation in its own process, for the scale tests that kill an invocation
 * mid-batch: `deno run -A _invocation_worker.ts <run_id> <invocation_id> <lease_ms> <batch>`
 * (`spawnInvocation()` in _stack_job.ts).
 * It holds at most <batch> items at once (the work loop claims again as soon as there is
 * room, so its concurrency is the batch too).
 */
import { processDailyFetchRun } from "../../../shared/jobs/run_daily_fetch_job.ts";
import { serviceDb } from "../_stack.ts";
import { stackJobDeps } from "./_stack_job.ts";

const [runId, invocationId, leaseMs, batch] = Deno.args;
const deps = stackJobDeps(await serviceDb(), {
  JOB_LEASE_MS: Number(leaseMs),
  JOB_BATCH_SIZE: Number(batch),
  FETCH_GLOBAL_CONCURRENCY: Number(batch),
  // Every page is on one host here: let the whole batch be in flight at once.
  FETCH_PER_HOST_CONCURRENCY: 64,
});
console.log("ready");
await processDailyFetchRun({ ...deps, invocationId }, runId!);
console.log("done");
