/**
 * What an invocation does before it fetches anything: retry the alerts that are due again
 * and announce the nights the watchdog recorded as missed. Failures are logged, never
 * thrown: they must not stop the run.
 * @module
 */
import { errorMessage } from "../errors.ts";
import { JOB_NAME, type JobDeps } from "./deps.ts";

/** How far back missed nights are announced (once each: the outbox dedupes by event key). */
const MISSED_RUNS_WINDOW_MS = 7 * 86_400_000;

/** Retries due alerts, then sends one `run_missed` alert per missed night. */
export async function alertsBeforeRun(deps: JobDeps, runId: string): Promise<void> {
  const { logger } = deps;
  const jobName = deps.jobName ?? JOB_NAME;
  try {
    const retried = await deps.alerts.retryPending();
    if (retried.length > 0) {
      logger.info("Retried {count} pending alerts: {sent} sent", {
        run_id: runId,
        count: retried.length,
        sent: retried.filter((o) => o.status === "sent").length,
      });
    }
  } catch (error) {
    logger.error("Cannot retry pending alerts: {error}", {
      run_id: runId,
      error: errorMessage(error),
    });
  }
  try {
    const since = new Date(deps.clock().getTime() - MISSED_RUNS_WINDOW_MS);
    for (const m of await deps.store.listMissedRuns(jobName, since)) {
      await deps.alerts.operational({
        kind: "run_missed",
        event_key: `run_missed:${m.id}`,
        source_id: null,
        payload: { job_name: jobName, noticed_at: m.started_at, errors: m.errors },
      });
    }
  } catch (error) {
    logger.error("Cannot send missed-run alerts: {error}", {
      run_id: runId,
      error: errorMessage(error),
    });
  }
}
