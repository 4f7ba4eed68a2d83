import assert from "node:assert/strict";
import { JOB_NAME } from "../../../shared/jobs/deps.ts";
import { toJobResult } from "../../../shared/jobs/job_result.ts";

Deno.test("toJobResult() maps a job_runs row to the API's JobResult", () => {
  // What a JobResult shows of its row as it is; the row's own columns are left out.
  const shown = {
    status: "partial" as const,
    trigger: "manual" as const,
    started_at: "2026-11-28T02:00:00.000Z",
    completed_at: "2026-11-28T02:03:00.000Z",
    sources_processed: 3,
    sources_succeeded: 2,
    sources_failed: 1,
    sources_skipped: 1,
    changes_detected: 1,
    alerts_sent: 2,
    errors: ["source s (S): timeout: x"],
  };
  const row = {
    ...shown,
    id: "run-1",
    job_name: JOB_NAME,
    deadline_at: "2026-11-28T04:00:00.000Z",
    options: { force: true },
    total_items: 4,
  };
  assert.deepEqual(toJobResult(row), { run_id: "run-1", ...shown });
});
