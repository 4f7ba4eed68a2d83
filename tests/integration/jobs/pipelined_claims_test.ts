/**
 * No waves (issue 14 item 2): one invocation on the real job store, with the per-host
 * limits in the database. A slow host must hold only its own slots: while its one page is
 * being fetched, the fast host's pages are claimed, fetched and completed, claim after
 * claim. Fetched in waves (claim a batch, wait for all of it, claim again), every fast page
 * after the first batch would finish after the slow one.
 */
import assert from "node:assert/strict";
import {
  processDailyFetchRun,
  startDailyFetchRun,
} from "../../../shared/jobs/run_daily_fetch_job.ts";
import { policyPage } from "../../fixtures/fault_server.ts";
import { serviceDb, sqlClient } from "../_stack.ts";
import { stackJobDeps } from "./_stack_job.ts";

/** A fixture host answering /p/<n> after `latencyMs`; counts its requests in flight. */
function startHost(latencyMs: number) {
  const state = { inFlight: 0, maxInFlight: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight);
    try {
      await new Promise((r) => setTimeout(r, latencyMs));
      const page = new URL(req.url).pathname;
      return new Response(policyPage(`Policy ${page}`, [`Clause of ${page}`]), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    } finally {
      state.inFlight--;
    }
  });
  return { state, base: `http://127.0.0.1:${server.addr.port}`, server };
}

Deno.test("one invocation keeps claiming and completing a fast host's pages while a slow host's page is in flight", async () => {
  const slow = startHost(6_000);
  const fast = startHost(20);
  const db = await serviceDb();
  const sql = sqlClient();
  const tag = crypto.randomUUID().slice(0, 8);
  const jobName = `pipelined-${tag}`;
  const rows = [
    { name: `pipelined ${tag} slow`, url: `${slow.base}/p/${tag}-slow`, render: "static" },
    ...Array.from({ length: 24 }, (_, i) => ({
      name: `pipelined ${tag} fast ${i}`,
      url: `${fast.base}/p/${tag}-${i}`,
      render: "static",
    })),
  ];
  const { data, error } = await db.from("sources").insert(rows).select("id, name");
  assert.equal(error, null, error?.message);
  const ids = data!.map((r) => r.id as string);
  const slowId = data!.find((r) => String(r.name).endsWith(" slow"))!.id as string;
  const deps = {
    ...stackJobDeps(db, {
      FETCH_PER_HOST_CONCURRENCY: 2,
      JOB_BATCH_SIZE: 4,
      FETCH_GLOBAL_CONCURRENCY: 8,
      JOB_INVOCATION_CPU_MS: 3_600_000,
      JOB_INVOCATION_MAX_ITEMS: 1_000_000,
    }),
    jobName,
    invocationId: `${jobName}-1`,
  };
  try {
    const started = await startDailyFetchRun(deps, {
      trigger: "manual",
      force: true,
      source_ids: ids,
    });
    assert.equal(started.status, "running", JSON.stringify(started));
    const result = await processDailyFetchRun(deps, started.run_id);
    assert.deepEqual([result.status, result.sources_succeeded], ["succeeded", 25]);
    const items = await sql<{ source_id: string; finished_at: Date }[]>`
      select source_id, finished_at from public.job_run_sources where run_id = ${started.run_id}
      order by finished_at`;
    assert.equal(items.length, 25);
    assert.equal(
      items.at(-1)?.source_id,
      slowId,
      "every fast page was completed before the slow one",
    );
    // The database's per-host limit held all along (2 in flight per host).
    assert.ok(fast.state.maxInFlight <= 2, `fast host had ${fast.state.maxInFlight} in flight`);
    assert.equal(fast.state.maxInFlight, 2, "the fast host was kept at its limit");
  } finally {
    await db.from("sources").delete().in("id", ids);
    await sql`delete from public.job_runs where job_name = ${jobName}`;
    await sql.end();
    await slow.server.shutdown();
    await fast.server.shutdown();
  }
});
