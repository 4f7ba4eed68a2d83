/**
 * The job's round trips to the database (issue 14 item 6): each one records what finished
 * and claims the next items (job_complete_and_claim), the claim that spends the budget
 * also says whether anything is left to hand over, and an invocation reads nothing else
 * per item. Against the local stack, through the real store.
 */
import assert from "node:assert/strict";
import { jobHarness, makeSource, watchedSource } from "./_job_harness.ts";
import type { JobStore } from "../../../shared/jobs/store.ts";

const OTHER_CALLS: Array<keyof JobStore> = [
  "claimItems",
  "completeItems",
  "countOpenItems",
  "renewLeases",
];

function sources(n: number) {
  return Array.from({ length: n }, (_, i) => watchedSource({ id: `src-${i}` }));
}

Deno.test("processDailyFetchRun() records and claims 15 sources in at most 3 round trips", async () => {
  await using h = await jobHarness({
    sources: sources(15),
    // Gathered completions go out when nothing else is being processed (not on a timer).
    config: { FETCH_GLOBAL_CONCURRENCY: 64, JOB_COMPLETE_WITHIN_MS: 60_000 },
  });
  const started = await h.start({ trigger: "manual", force: true });
  h.store.calls.completeAndClaim = 0;
  h.store.calls.getRun = 0;
  const result = await h.process(started.run_id);
  assert.deepEqual([result.status, result.sources_succeeded], ["succeeded", 15]);
  const trips = h.store.calls.completeAndClaim ?? 0;
  // The claim of all 15 (the budget allows 17); a claim for the room their first completions freed, which hears
  // that the rest is held; the last completions (the old loop: one completion and one
  // claim per one or two sources, and two counts).
  assert.ok(trips >= 2 && trips <= 3, `round trips: ${trips}`);
  assert.equal(h.store.calls.getRun, 0, "the result is the run the last completion returned");
  for (const method of OTHER_CALLS) {
    assert.equal(h.store.calls[method] ?? 0, 0, `${method} is not called`);
  }
});

Deno.test("processDailyFetchRun() decides on the handover with the claim that spent its budget", async () => {
  await using h = await jobHarness({
    sources: sources(12),
    config: {
      FETCH_GLOBAL_CONCURRENCY: 64,
      JOB_INVOCATION_MAX_ITEMS: 5,
      JOB_COMPLETE_WITHIN_MS: 60_000,
    },
  });
  const started = await h.start({ trigger: "manual", force: true });
  h.store.calls.completeAndClaim = 0;
  const first = await h.process(started.run_id);
  assert.deepEqual([first.status, first.sources_processed], ["running", 5]);
  assert.deepEqual(h.handovers, [started.run_id], "7 sources are left: handed over");
  assert.equal(h.store.calls.completeAndClaim, 2, "the claim (which counted) and the completion");
  assert.equal(h.store.calls.countOpenItems ?? 0, 0);

  // The next invocation takes 5 more; the last one finds nothing to hand over.
  await h.process(started.run_id, { invocationId: "invocation-2" });
  const last = await h.process(started.run_id, { invocationId: "invocation-3" });
  assert.deepEqual([last.status, last.sources_succeeded], ["succeeded", 12]);
  assert.equal(h.handovers.length, 2, "invocation-3 held the last items: no handover");
});

Deno.test("processDailyFetchRun() writes each finished source's bookkeeping with its outcome, changes included", async () => {
  await using h = await jobHarness({
    sources: [...sources(6), makeSource({ id: "new" })],
    script: { "src-2": "changed", "src-4": "timeout", new: "changed" },
    config: { FETCH_GLOBAL_CONCURRENCY: 64, JOB_COMPLETE_WITHIN_MS: 60_000 },
  });
  const result = await h.run({ trigger: "manual", force: true });
  assert.deepEqual(
    [result.status, result.sources_succeeded, result.sources_failed, result.changes_detected],
    ["partial", 6, 1, 1],
  );
  const items = await h.items(result.run_id);
  assert.ok(items.every((i) => i.status === "succeeded" || i.status === "failed"));
  assert.deepEqual(items.filter((i) => i.baseline).map((i) => i.alias), ["new"]);
  const [row] = await h.sql<{ consecutive_failures: number }[]>`
    select consecutive_failures from public.sources where id = ${h.id("src-4")}`;
  assert.equal(row!.consecutive_failures, 1, "the failure's bookkeeping went with its outcome");
});

Deno.test("processDailyFetchRun() delivers a change as record_snapshot answered with it, without reading it back", async () => {
  await using h = await jobHarness({
    sources: sources(4),
    script: { "src-1": "changed", "src-3": "changed_id_only" },
    config: { FETCH_GLOBAL_CONCURRENCY: 64, JOB_COMPLETE_WITHIN_MS: 60_000 },
  });
  const result = await h.run({ trigger: "manual", force: true });
  assert.deepEqual([result.status, result.changes_detected], ["succeeded", 2]);
  // src-3's result carries only the id (a store that does not answer with the row): one read.
  assert.equal(h.store.calls.getPolicyChange, 1);
  const stored = await h.sql<{ id: string; source_id: string; diff: string }[]>`
    select id, source_id, diff from public.policy_changes
    where source_id in (${h.id("src-1")}, ${h.id("src-3")}) order by source_id`;
  const delivered = h.alerts.delivered.map((c) => ({
    id: c.id,
    source_id: c.source_id,
    diff: c.diff,
  }))
    .sort((a, b) => a.source_id.localeCompare(b.source_id));
  assert.deepEqual(delivered, stored.map((r) => ({ ...r })));
});
