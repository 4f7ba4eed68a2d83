/**
 * The job's store on the local stack: the RPCs of the jobs migration are the only
 * implementation of runs, claims, leases, fencing and finalising; these pin the semantics
 * the job relies on (pgTAP checks the SQL itself in supabase/tests/).
 * @module
 */
import assert from "node:assert/strict";
import type { ItemOutcome } from "../../../shared/jobs/store.ts";
import { type JobHarness, jobHarness, makeSource, watchedSource } from "./_job_harness.ts";

const LEASE = 120_000;
/** Claims of an item before it fails as poison (JOB_ITEM_MAX_ATTEMPTS). */
const ATTEMPTS = 3;
const HOUR_MS = 3_600_000;

function outcomeOf(
  h: JobHarness,
  alias: string,
  attempt: number,
  status: "succeeded" | "failed",
): ItemOutcome {
  return {
    source_id: h.id(alias),
    attempt,
    status,
    changed: false,
    baseline: false,
    policy_change_id: null,
    error_class: status === "failed" ? "timeout" : null,
    error_message: status === "failed" ? "timed out" : null,
    duration_ms: 10,
    alerts_sent: 0,
    error_text: status === "failed" ? `${h.label(alias)}: timeout: x` : null,
  };
}

/** A harness with a started run whose items are the given sources, all pending. */
async function withRun(aliases: string[], watched = false) {
  const h = await jobHarness({
    sources: aliases.map((id) => watched ? watchedSource({ id }) : makeSource({ id })),
  });
  const started = await h.store.startRun(h.deps.jobName, "manual", {}, HOUR_MS);
  assert.equal(started.conflict, false);
  if (started.conflict) throw new Error("unreachable");
  await h.store.addItems(started.run.id, aliases.map((a) => h.id(a)), []);
  return { h, runId: started.run.id };
}

Deno.test("createSupabaseJobStore().startRun() refuses a second running run and expires one past its deadline", async () => {
  const { h, runId } = await withRun(["src-a", "src-b"]);
  await using _ = h;
  assert.deepEqual(await h.store.startRun(h.deps.jobName, "cron", {}, HOUR_MS), {
    conflict: true,
    runningRunId: runId,
  });
  await h.expireDeadline(runId);
  const next = await h.store.startRun(h.deps.jobName, "cron", {}, HOUR_MS);
  assert.equal(next.conflict, false);
  const old = await h.store.getRun(runId);
  assert.equal(old?.status, "failed");
  assert.equal(old?.errors.length, 1);
  assert.match(
    old?.errors[0] ?? "",
    /^run did not finish before its deadline \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: finalised failed by the watchdog \(0 of 2 sources done\)$/,
  );
  assert.deepEqual((await h.items(runId)).map((i) => [i.status, i.error_message]), [
    ["failed", "run expired before this source was processed"],
    ["failed", "run expired before this source was processed"],
  ]);
});

Deno.test("createSupabaseJobStore().claimItems() claims pending items once and leased ones only after their lease", async () => {
  const { h, runId } = await withRun(["src-c", "src-a", "src-b"]);
  await using _ = h;
  const first = await h.store.claimItems(runId, "inv-1", 2, LEASE, ATTEMPTS);
  assert.deepEqual(first.map((i) => i.attempt), [1, 1]);
  const second = await h.store.claimItems(runId, "inv-2", 5, LEASE, ATTEMPTS);
  assert.deepEqual(
    [...first, ...second].map((i) => h.alias(i.source.id)).sort(),
    ["src-a", "src-b", "src-c"],
    "each pending item is claimed by exactly one invocation",
  );
  assert.deepEqual(await h.store.claimItems(runId, "inv-3", 5, LEASE, ATTEMPTS), []);
  await h.expireLeases(runId);
  const again = await h.store.claimItems(runId, "inv-4", 5, LEASE, ATTEMPTS);
  assert.deepEqual(again.map((i) => [h.alias(i.source.id), i.attempt]).sort(), [
    ["src-a", 2],
    ["src-b", 2],
    ["src-c", 2],
  ]);
  const firstA = first[0]!;
  assert.equal(
    again.find((i) => i.source.id === firstA.source.id)?.fetch_id,
    firstA.fetch_id,
    "the fetch id stays with the item",
  );
  assert.equal((await h.runRow(runId)).invocations, 4);
});

Deno.test("createSupabaseJobStore().claimItems() reports the change an earlier claim recorded", async () => {
  const { h, runId } = await withRun(["src-a"], true);
  await using _ = h;
  const [item] = await h.store.claimItems(runId, "inv-1", 5, LEASE, ATTEMPTS);
  const changeId = await h.recordSnapshot("src-a", item!.fetch_id);
  assert.ok(changeId);
  await h.expireLeases(runId);
  const [again] = await h.store.claimItems(runId, "inv-2", 5, LEASE, ATTEMPTS);
  assert.equal(again?.prior_policy_change_id, changeId);
  const change = await h.store.getPolicyChange(changeId);
  assert.equal(again?.prior_snapshot_id, change?.snapshot_id);
});

Deno.test("createSupabaseJobStore().completeItems() ignores a lost claim and finalises exactly once", async () => {
  const { h, runId } = await withRun(["src-a", "src-b"]);
  await using _ = h;
  await h.store.claimItems(runId, "inv-1", 5, LEASE, ATTEMPTS);
  await h.expireLeases(runId);
  await h.store.claimItems(runId, "inv-2", 5, LEASE, ATTEMPTS);
  const stale = await h.store.completeItems(runId, [outcomeOf(h, "src-a", 1, "succeeded")]);
  assert.deepEqual([stale.completed, stale.finalised, stale.run.sources_processed], [0, false, 0]);
  const first = await h.store.completeItems(runId, [outcomeOf(h, "src-a", 2, "succeeded")]);
  assert.deepEqual([first.completed, first.finalised, first.run.status], [1, false, "running"]);
  const last = await h.store.completeItems(runId, [outcomeOf(h, "src-b", 2, "failed")]);
  assert.deepEqual([last.completed, last.finalised, last.run.status], [1, true, "partial"]);
  assert.deepEqual(last.run.errors, [`${h.label("src-b")}: timeout: x`]);
  const after = await h.store.completeItems(runId, [outcomeOf(h, "src-b", 2, "failed")]);
  assert.deepEqual([after.completed, after.finalised, after.run.sources_failed], [0, false, 1]);
});

Deno.test("createSupabaseJobStore().completeItems() finalises failed when nothing succeeded and succeeded when nothing failed", async (t) => {
  await t.step("all failed → failed", async () => {
    const { h, runId } = await withRun(["src-a"]);
    await using _ = h;
    await h.store.claimItems(runId, "inv-1", 5, LEASE, ATTEMPTS);
    const done = await h.store.completeItems(runId, [outcomeOf(h, "src-a", 1, "failed")]);
    assert.equal(done.run.status, "failed");
  });
  await t.step("no item at all → succeeded", async () => {
    const { h, runId } = await withRun([]);
    await using _ = h;
    const done = await h.store.completeItems(runId, []);
    assert.deepEqual([done.finalised, done.run.status], [true, "succeeded"]);
    assert.notEqual(done.run.completed_at, null);
  });
});

Deno.test("createSupabaseJobStore().failRun() fails the open items and appends the run-level error", async () => {
  const { h, runId } = await withRun(["src-a"]);
  await using _ = h;
  const run = await h.store.failRun(runId, "run could not start: boom");
  assert.deepEqual([run.status, run.errors], ["failed", ["run could not start: boom"]]);
  assert.equal((await h.items(runId))[0]?.status, "failed");
});

Deno.test("createSupabaseJobStore().countOpenItems() counts unfinished items and those a live lease holds", async () => {
  const { h, runId } = await withRun(["src-a", "src-b", "src-c"]);
  await using _ = h;
  assert.deepEqual(await h.store.countOpenItems(runId, new Date()), { open: 3, held: 0 });
  const claimed = await h.store.claimItems(runId, "inv-1", 2, LEASE, ATTEMPTS);
  assert.deepEqual(await h.store.countOpenItems(runId, new Date()), { open: 3, held: 2 });
  await h.store.completeItems(runId, [
    outcomeOf(h, h.alias(claimed[0]!.source.id), 1, "succeeded"),
  ]);
  assert.deepEqual(await h.store.countOpenItems(runId, new Date()), { open: 2, held: 1 });
});

Deno.test("createSupabaseJobStore().listFrequencies() reads the seeded frequencies in ms", async () => {
  await using h = await jobHarness({ sources: [] });
  const intervals = await h.store.listFrequencies();
  assert.deepEqual(
    ["hourly", "daily", "weekly"].map((f) => intervals.get(f)),
    [HOUR_MS, 24 * HOUR_MS, 7 * 24 * HOUR_MS],
  );
});

Deno.test("faultyJobStore() makes only the next calls of a method reject", async () => {
  const { h, runId } = await withRun(["src-a"]);
  await using _ = h;
  h.store.failNext("getRun", new Error("Cannot read run: connection reset"), 2);
  await assert.rejects(h.store.getRun(runId), /connection reset/);
  await assert.rejects(h.store.getRun(runId), /connection reset/);
  assert.equal((await h.store.getRun(runId))?.id, runId);
});
