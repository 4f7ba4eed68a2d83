/**
 * The in-memory store must behave like the RPCs of the jobs migration, or the job's tests
 * prove nothing: these pin the semantics the job relies on.
 */
import assert from "node:assert/strict";
import type { ItemOutcome } from "../../../shared/jobs/store.ts";
import { manualClock } from "../../fixtures/alert_data.ts";
import { makeSource, MemoryJobStore } from "./_memory_job_store.ts";

const LEASE = 120_000;

function outcomeOf(
  source_id: string,
  attempt: number,
  status: "succeeded" | "failed",
  extra: Partial<ItemOutcome> = {},
): ItemOutcome {
  return {
    source_id,
    attempt,
    status,
    changed: false,
    baseline: false,
    policy_change_id: null,
    error_class: status === "failed" ? "timeout" : null,
    error_message: status === "failed" ? "timed out" : null,
    duration_ms: 10,
    alerts_sent: 0,
    error_text: status === "failed"
      ? `source ${source_id} (Source ${source_id}): timeout: x`
      : null,
    ...extra,
  };
}

async function storeWithRun(ids: string[]) {
  const clock = manualClock();
  const store = new MemoryJobStore(clock, ids.map((id) => makeSource({ id })));
  const started = await store.startRun("daily-fetch", "manual", {}, 3_600_000);
  assert.equal(started.conflict, false);
  if (started.conflict) throw new Error("unreachable");
  await store.addItems(started.run.id, ids, []);
  return { clock, store, runId: started.run.id };
}

Deno.test("MemoryJobStore.startRun() refuses a second running run and expires one past its deadline", async () => {
  const { clock, store, runId } = await storeWithRun(["src-a", "src-b"]);
  assert.deepEqual(await store.startRun("daily-fetch", "cron", {}, 3_600_000), {
    conflict: true,
    runningRunId: runId,
  });
  clock.advance(3_600_001);
  const next = await store.startRun("daily-fetch", "cron", {}, 3_600_000);
  assert.equal(next.conflict, false);
  const old = await store.getRun(runId);
  assert.equal(old?.status, "failed");
  assert.deepEqual(old?.errors, [
    "run did not finish before its deadline 2026-11-28T03:00:00Z: finalised failed by the watchdog (0 of 2 sources done)",
  ]);
  assert.deepEqual(store.itemsOf(runId).map((i) => [i.status, i.error_message]), [
    ["failed", "run expired before this source was processed"],
    ["failed", "run expired before this source was processed"],
  ]);
});

Deno.test("MemoryJobStore.claimItems() claims pending items by source id and leased ones only after their lease", async () => {
  const { clock, store, runId } = await storeWithRun(["src-c", "src-a", "src-b"]);
  const first = await store.claimItems(runId, "inv-1", 2, LEASE);
  assert.deepEqual(first.map((i) => [i.source.id, i.attempt]), [["src-a", 1], ["src-b", 1]]);
  assert.deepEqual((await store.claimItems(runId, "inv-2", 5, LEASE)).map((i) => i.source.id), [
    "src-c",
  ]);
  assert.deepEqual(await store.claimItems(runId, "inv-3", 5, LEASE), []);
  clock.advance(LEASE + 1);
  const again = await store.claimItems(runId, "inv-4", 5, LEASE);
  assert.deepEqual(again.map((i) => [i.source.id, i.attempt]), [
    ["src-a", 2],
    ["src-b", 2],
    ["src-c", 2],
  ]);
  assert.equal(again[0]?.fetch_id, first[0]?.fetch_id, "the fetch id stays with the item");
  assert.equal(store.invocationsOf(runId), 4);
});

Deno.test("MemoryJobStore.claimItems() reports the change an earlier claim recorded", async () => {
  const { clock, store, runId } = await storeWithRun(["src-a"]);
  store.sources.get("src-a")!.last_snapshot_id = crypto.randomUUID();
  const [item] = await store.claimItems(runId, "inv-1", 5, LEASE);
  const change = store.recordSnapshot("src-a", item!.fetch_id);
  clock.advance(LEASE + 1);
  const [again] = await store.claimItems(runId, "inv-2", 5, LEASE);
  assert.equal(again?.prior_policy_change_id, change?.id);
  assert.equal(again?.prior_snapshot_id, change?.snapshot_id);
});

Deno.test("MemoryJobStore.completeItems() ignores a lost claim and finalises exactly once", async () => {
  const { clock, store, runId } = await storeWithRun(["src-a", "src-b"]);
  await store.claimItems(runId, "inv-1", 5, LEASE);
  clock.advance(LEASE + 1);
  await store.claimItems(runId, "inv-2", 5, LEASE);
  const stale = await store.completeItems(runId, [outcomeOf("src-a", 1, "succeeded")]);
  assert.deepEqual([stale.completed, stale.finalised, stale.run.sources_processed], [0, false, 0]);
  const first = await store.completeItems(runId, [outcomeOf("src-a", 2, "succeeded")]);
  assert.deepEqual([first.completed, first.finalised, first.run.status], [1, false, "running"]);
  const last = await store.completeItems(runId, [outcomeOf("src-b", 2, "failed")]);
  assert.deepEqual([last.completed, last.finalised, last.run.status], [1, true, "partial"]);
  assert.deepEqual(last.run.errors, ["source src-b (Source src-b): timeout: x"]);
  const after = await store.completeItems(runId, [outcomeOf("src-b", 2, "failed")]);
  assert.deepEqual([after.completed, after.finalised, after.run.sources_failed], [0, false, 1]);
});

Deno.test("MemoryJobStore.completeItems() finalises failed when nothing succeeded and succeeded when nothing failed", async (t) => {
  await t.step("all failed → failed", async () => {
    const { store, runId } = await storeWithRun(["src-a"]);
    await store.claimItems(runId, "inv-1", 5, LEASE);
    const done = await store.completeItems(runId, [outcomeOf("src-a", 1, "failed")]);
    assert.equal(done.run.status, "failed");
  });
  await t.step("no item at all → succeeded", async () => {
    const { store, runId } = await storeWithRun([]);
    const done = await store.completeItems(runId, []);
    assert.deepEqual([done.finalised, done.run.status], [true, "succeeded"]);
    assert.notEqual(done.run.completed_at, null);
  });
});

Deno.test("MemoryJobStore.failRun() fails the open items and appends the run-level error", async () => {
  const { store, runId } = await storeWithRun(["src-a"]);
  const run = await store.failRun(runId, "run could not start: boom");
  assert.deepEqual([run.status, run.errors], ["failed", ["run could not start: boom"]]);
  assert.equal(store.itemsOf(runId)[0]?.status, "failed");
});

Deno.test("MemoryJobStore.failNext() makes only the next calls of a method reject", async () => {
  const { store, runId } = await storeWithRun(["src-a"]);
  store.failNext("getRun", new Error("Cannot read run: connection reset"), 2);
  await assert.rejects(store.getRun(runId), /connection reset/);
  await assert.rejects(store.getRun(runId), /connection reset/);
  assert.equal((await store.getRun(runId))?.id, runId);
});
