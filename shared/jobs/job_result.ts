/**
 * Every JobResult the job and the API return is built here: from a `job_runs` row, from a
 * row plus an invocation's failure, or for a run that cannot be read back. The run's
 * summary log line is written here too, so it always matches the result.
 * @module
 */
import type { Logger } from "../types.ts";
import type { JobRunRow } from "./store.ts";
import { type JobResult, NO_COUNTS, type RunCounts } from "./types.ts";

/** The counters of a row. */
export function countsOf(run: RunCounts): RunCounts {
  const counts = { ...NO_COUNTS };
  for (const key of Object.keys(NO_COUNTS) as Array<keyof RunCounts>) counts[key] = run[key];
  return counts;
}

/** Maps a `job_runs` row to the API's JobResult. */
export function toJobResult(run: JobRunRow): JobResult {
  return {
    run_id: run.id,
    status: run.status,
    trigger: run.trigger,
    started_at: run.started_at,
    completed_at: run.completed_at,
    ...countsOf(run),
    errors: Array.isArray(run.errors) ? run.errors.map(String) : [],
  };
}

/** The run's result with one more error line (e.g. this invocation stopped). */
export function withError(run: JobRunRow, error: string): JobResult {
  const result = toJobResult(run);
  return { ...result, errors: [...result.errors, error] };
}

/** The result of a run that cannot be read back: still running, as far as we know. */
export function unreadableRunResult(runId: string, now: Date, message: string): JobResult {
  return {
    run_id: runId,
    status: "running",
    trigger: "manual",
    started_at: now.toISOString(),
    completed_at: null,
    ...NO_COUNTS,
    errors: [`Cannot read run ${runId}: ${message}`],
  };
}

/** A row finalised failed here because the database could not do it. */
export function failedLocally(run: JobRunRow, now: Date, message: string): JobRunRow {
  return {
    ...run,
    status: "failed",
    completed_at: now.toISOString(),
    errors: [...run.errors, message],
  };
}

/** Logs the summary of a finalised run (as an error when it failed). */
export function logRunCompleted(logger: Logger, run: JobRunRow): void {
  const props = { run_id: run.id, status: run.status, ...countsOf(run), errors: run.errors.length };
  const message =
    "Daily fetch job completed: {sources_processed} processed, {changes_detected} changes, {errors} errors";
  if (run.status === "failed") logger.error(message, props);
  else logger.info(message, props);
}
