/**
 * Leases with a heartbeat, on the real store: an invocation that works on an item longer than
 * its lease keeps it (it renews the lease every JOB_LEASE_RENEW_MS), so a second invocation
 * on the run gets nothing of it and the item is fetched once; an invocation that stops
 * renewing (killed: here, an item claimed and never renewed) loses its item after one lease.
 */
import assert from "node:assert/strict";
import { pipelineResult } from "./_job_harness.ts";
import { jobHarness, watchedSource } from "./_job_harness.ts";
import type { JobResult } from "../../../shared/jobs/types.ts";

const LEASE_MS = 3_000;
const RENEW_MS = 500;

Deno.test("processDailyFetchRun() keeps an item it works on past its lease: another invocation gets nothing of it", async () => {
  let second: JobResult | null = null;
  await using h = await jobHarness({
    sources: [watchedSource({ id: "src-a" })],
    config: { JOB_LEASE_MS: LEASE_MS, JOB_LEASE_RENEW_MS: RENEW_MS },
    script: {
      "src-a": async (source, fetchId) => {
        const [run] = await h.sql<{ id: string }[]>`select id from public.job_runs
          where job_name = ${h.deps.jobName} and status = 'running'`;
        // Work for more than two leases; halfway, a second invocation tries the run.
        await new Promise((r) => setTimeout(r, LEASE_MS * 1.2));
        second = await h.process(run!.id, { invocationId: "invocation-2" });
        await new Promise((r) => setTimeout(r, LEASE_MS * 1.2));
        return pipelineResult(source, fetchId, h.clock());
      },
    },
  });
  const result = await h.run({ trigger: "cron" });
  assert.equal(result.status, "succeeded", JSON.stringify(result.errors));
  assert.equal(second!.status, "running", "the second invocation found nothing to claim");
  assert.equal(h.pipeline.calls.length, 1, "the item was fetched once");
  const [item] = await h.items(result.run_id);
  assert.equal(item?.attempts, 1, "and claimed once");
});

Deno.test("createSupabaseJobStore().renewLeases() renews only the claimer's items; a claim nobody renews is taken over after its lease", async () => {
  await using h = await jobHarness({
    sources: ["src-a", "src-b"].map((id) => watchedSource({ id })),
  });
  const started = await h.start({ trigger: "cron" });
  const [a] = await h.store.claimItems(started.run_id, "alive", 1, LEASE_MS, 3);
  const [b] = await h.store.claimItems(started.run_id, "dead", 1, LEASE_MS, 3);
  assert.ok(a && b);
  // "alive" beats for more than a lease; "dead" never does.
  const until = Date.now() + LEASE_MS * 1.5;
  while (Date.now() < until) {
    assert.equal(await h.store.renewLeases(started.run_id, "alive", LEASE_MS), 1);
    await new Promise((r) => setTimeout(r, RENEW_MS));
  }
  const again = await h.store.claimItems(started.run_id, "rescuer", 5, LEASE_MS, 3);
  assert.deepEqual(
    again.map((i) => [h.alias(i.source.id), i.attempt]),
    [[h.alias(b.source.id), 2]],
    "only the dead invocation's item is claimed again",
  );
  assert.equal(await h.store.renewLeases(started.run_id, "dead", LEASE_MS), 0);
});
