/**
 * Poison items: a page whose processing kills its invocation every time (here: the worker
 * process is SIGKILLed mid-item, as the runtime ends an invocation over its limits) is
 * attempted JOB_ITEM_MAX_ATTEMPTS (3) times, then failed with class `poison`; the healthy
 * sources of the run succeed, the run finishes, the source's failure streak and its
 * source-failing alert work as for any failure, and the next run starts. Real database
 * (PostgREST + Postgres), real HTTP fixture site, invocations in child processes.
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import {
  processDailyFetchRun,
  startDailyFetchRun,
} from "../../../shared/jobs/run_daily_fetch_job.ts";
import { eventually, serviceDb, sqlClient } from "../_stack.ts";
import { spawnInvocation, stackJobDeps, startForcedRun } from "./_stack_job.ts";

const LEASE_MS = 1_500;

Deno.test("an item whose invocation dies on each of 3 attempts fails as poison; the run finishes and the next one starts", async () => {
  const hooks: Array<{ event: string; source_id: string | null }> = [];
  const hanging: Array<() => void> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/hook") {
      const body = await req.json();
      hooks.push({ event: body.event, source_id: body.source?.id ?? null });
      return new Response("ok");
    }
    if (url.pathname === "/poison") {
      // Never answers while its invocation lives: the worker is killed holding it.
      await new Promise((resolve) => hanging.push(() => resolve(null)));
      return new Response("too late");
    }
    return new Response(
      `<html><body><main><p>Healthy page ${url.pathname}.</p></main></body></html>`,
      {
        headers: { "content-type": "text/html; charset=utf-8" },
      },
    );
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const tag = crypto.randomUUID().slice(0, 6);
  const sql = sqlClient();
  const db = await serviceDb();
  let runId: string | null = null;
  let nextRunId: string | null = null;
  const [poison] = await sql<{ id: string }[]>`insert into public.sources (name, url)
    values (${`poison ${tag}`}, ${`${base}/poison`}) returning id`;
  const healthy = await sql<{ id: string }[]>`insert into public.sources ${
    sql([1, 2, 3].map((i) => ({ name: `healthy ${tag} ${i}`, url: `${base}/ok/${i}` })))
  } returning id`;
  const ids = [poison!.id, ...healthy.map((r) => r.id)];
  const [sub] = await sql<{ id: string }[]>`insert into public.subscriptions
      (source_id, channel, target, operational_alerts)
    values (${poison!.id}, 'webhook', ${`${base}/hook`}, true) returning id`;
  const logger = captureLogger();
  // The first failure alerts, so the test sees the source-failing alert of this run.
  const deps = stackJobDeps(db, { ALERT_FAILING_THRESHOLD: 1 }, { logger });
  try {
    const started = await startForcedRun(deps, ids);
    runId = started.run_id;
    for (let attempt = 1; attempt <= 3; attempt++) {
      // An invocation that claims one item at a time; it is killed once it holds the poison.
      const child = spawnInvocation(runId, `doomed-${attempt}`, LEASE_MS, 1);
      await eventually(`invocation ${attempt} to hold the poison item`, async () => {
        const [r] = await sql`select attempts, claimed_by from public.job_run_sources
          where run_id = ${runId} and source_id = ${poison!.id} and status = 'claimed'`;
        return r?.claimed_by === `doomed-${attempt}` ? true : undefined;
      }, 60_000);
      child.kill("SIGKILL");
      await child.status;
      // Its lease must end before anyone may claim the item again.
      await eventually("the dead invocation's lease to expire", async () => {
        const [r] = await sql`select lease_until < now() as expired from public.job_run_sources
          where run_id = ${runId} and source_id = ${poison!.id}`;
        return r?.expired ? true : undefined;
      }, 10_000);
    }
    const [before] = await sql`select attempts, status from public.job_run_sources
      where run_id = ${runId} and source_id = ${poison!.id}`;
    assert.deepEqual({ ...before }, { attempts: 3, status: "claimed" });

    // Another invocation: the poison item is not attempted a 4th time; the rest succeeds.
    const result = await processDailyFetchRun({ ...deps, invocationId: "rescuer" }, runId);
    assert.equal(result.status, "partial", JSON.stringify(result.errors));
    assert.equal(result.sources_processed, 4);
    assert.equal(result.sources_succeeded, 3);
    assert.equal(result.sources_failed, 1);
    assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
    assert.match(
      result.errors[0]!,
      new RegExp(`^source ${poison!.id} \\(poison ${tag}\\): poison: gave up after 3 attempts`),
    );
    const [item] = await sql`select status, attempts, error_class, error_message
      from public.job_run_sources where run_id = ${runId} and source_id = ${poison!.id}`;
    assert.equal(item!.status, "failed");
    assert.equal(item!.attempts, 3, "never claimed a 4th time");
    assert.equal(item!.error_class, "poison");
    assert.match(
      item!.error_message,
      /gave up after 3 attempts, .*last error: attempt 3 by invocation doomed-3 stopped before finishing/,
    );
    const [src] = await sql`select consecutive_failures, last_error_class, failing_alerted
      from public.sources where id = ${poison!.id}`;
    assert.deepEqual({ ...src }, {
      consecutive_failures: 1,
      last_error_class: "poison",
      failing_alerted: true,
    });
    await eventually("the source-failing alert to arrive", () =>
      Promise.resolve(
        hooks.some((h) => h.event === "source_failing" && h.source_id === poison!.id)
          ? true
          : undefined,
      ), 10_000);
    assert.equal(hooks.filter((h) => h.event === "source_failing").length, 1, "sent once");
    assert.ok(
      logger.records.some((r) => r.text.includes(`Source ${poison!.id} failed as poison`)),
      "the invocation logs the poison failure",
    );

    // The next run is not blocked.
    const next = await startDailyFetchRun(deps, {
      trigger: "manual",
      force: true,
      source_ids: healthy.map((r) => r.id),
    });
    nextRunId = next.run_id;
    assert.equal(next.status, "running");
    const finished = await processDailyFetchRun({ ...deps, invocationId: "next" }, next.run_id);
    assert.equal(finished.status, "succeeded", JSON.stringify(finished.errors));
  } finally {
    // A failed assertion must not leave a run holding the job for the next tests.
    for (const id of [runId, nextRunId]) {
      if (id) await sql`select public.job_fail_run(${id}::uuid, 'test cleanup: run left running')`;
    }
    if (sub) await sql`delete from public.subscriptions where id = ${sub.id}`;
    await sql`delete from public.sources where id = any(${ids})`;
    await sql.end();
    for (const release of hanging) release();
    await server.shutdown();
  }
});
