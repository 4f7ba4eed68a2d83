/**
 * A run is data, not a call stack: invocations with small budgets hand a run over to each
 * other, a killed invocation's items are claimed again after their lease, and two
 * invocations claiming at once never share an item. Real database (PostgREST + Postgres),
 * real HTTP fixture site; the invocations run in this process or in a child process.
 */
import assert from "node:assert/strict";
import type { Config } from "../../../shared/config.ts";
import { captureLogger } from "../../../shared/log.ts";
import { processDailyFetchRun } from "../../../shared/jobs/run_daily_fetch_job.ts";
import { toJobResult } from "../../../shared/jobs/job_result.ts";
import type { JobDeps } from "../../../shared/jobs/deps.ts";
import type { JobResult } from "../../../shared/jobs/types.ts";
import { eventually, serviceDb, sqlClient } from "../_stack.ts";
import { spawnInvocation, stackJobDeps, startForcedRun } from "./_stack_job.ts";

interface Site {
  base: string;
  /** page number → version shown */
  versions: Map<number, number>;
  hits: Map<string, number>;
  delayMs: number;
  /** Pages answering at once regardless of delayMs. */
  fast: Set<number>;
  deliveries: Array<{ alertId: string | null; changeId: string }>;
  /** Webhook calls held unanswered (and not counted as delivered) until released. */
  heldHooks: Array<() => void> | null;
  server: Deno.HttpServer<Deno.NetAddr>;
}

function startSite(): Site {
  const site: Site = {
    base: "",
    versions: new Map(),
    hits: new Map(),
    delayMs: 0,
    fast: new Set(),
    deliveries: [],
    heldHooks: null,
    server: undefined as unknown as Deno.HttpServer<Deno.NetAddr>,
  };
  site.server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/hook") {
      const body = await req.json();
      const held = site.heldHooks;
      if (held !== null) {
        // Its sender is killed meanwhile: it never learns the answer, so it is no delivery.
        await new Promise<void>((resolve) => held.push(resolve));
        return new Response("sender gone", { status: 503 });
      }
      site.deliveries.push({ alertId: req.headers.get("x-alert-id"), changeId: body.change.id });
      return new Response("ok");
    }
    site.hits.set(url.pathname, (site.hits.get(url.pathname) ?? 0) + 1);
    const n = Number(url.pathname.match(/^\/p\/(\d+)$/)?.[1] ?? NaN);
    // Ends early when delayMs is lowered meanwhile (a page held for a killed invocation).
    for (let waited = 0; waited < site.delayMs && !site.fast.has(n); waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (Number.isNaN(n)) return new Response("not found", { status: 404 });
    const v = site.versions.get(n) ?? 0;
    return new Response(
      `<html><body><script>var x=${Math.random()}</script><main><h1>Policy ${n}</h1>` +
        `<p>Rule one of policy ${n}, version ${v}.</p><p>Rule two stays.</p></main>` +
        `<footer>${new Date().toISOString()}</footer></body></html>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  });
  site.base = `http://127.0.0.1:${site.server.addr.port}`;
  return site;
}

function config(overrides: Partial<Config> = {}): Partial<Config> {
  // Every page is on one host here: the per-host limit (in the database) must not serialise them.
  return { FETCH_PER_HOST_CONCURRENCY: 64, ...overrides };
}

/** The site with `count` sources on it; `await using` deletes them and stops the site. */
async function siteWithSources(
  count: number,
): Promise<{ site: Site; ids: string[] } & AsyncDisposable> {
  const site = startSite();
  const tag = crypto.randomUUID().slice(0, 6);
  const sql = sqlClient();
  try {
    const rows = Array.from({ length: count }, (_, i) => ({
      name: `scale ${tag} ${i}`,
      url: `${site.base}/p/${i}`,
    }));
    const ids = (await sql<{ id: string }[]>`insert into public.sources ${sql(rows)} returning id`)
      .map((r) => r.id);
    return {
      site,
      ids,
      async [Symbol.asyncDispose]() {
        const sql = sqlClient();
        try {
          await sql`delete from public.sources where id = any(${ids})`;
        } finally {
          await sql.end();
        }
        await site.server.shutdown();
      },
    };
  } finally {
    await sql.end();
  }
}

/** Runs a job over `ids` with in-process invocations chained through `handover`. */
async function runChained(
  ids: string[],
  overrides: Partial<Config>,
): Promise<{ result: JobResult; invocations: number }> {
  const db = await serviceDb();
  let invocations = 0;
  const pending: Promise<unknown>[] = [];
  const make = (): JobDeps =>
    stackJobDeps(db, config(overrides), {
      handover: (runId) => {
        // Like the platform: a new invocation starts; this one returns.
        pending.push(
          Promise.resolve().then(() => {
            invocations++;
            return processDailyFetchRun({ ...make(), invocationId: `inv-${invocations}` }, runId, {
              beforeRun: false, // as POST …/runs/{id}/continue
            });
          }),
        );
        return Promise.resolve();
      },
    });
  const started = await startForcedRun(make(), ids);
  invocations++;
  await processDailyFetchRun({ ...make(), invocationId: "inv-1" }, started.run_id);
  while (pending.length > 0) await pending.shift();
  const { data } = await db.from("job_runs").select("*").eq("id", started.run_id).single();
  return { invocations, result: toJobResult(data) };
}

function counts(r: JobResult) {
  const { run_id: _r, started_at: _s, completed_at: _c, ...rest } = r;
  return rest;
}

Deno.test("a 200-source run with a budget of 20 items per invocation equals a single-invocation run", async () => {
  await using world = await siteWithSources(200);
  const { site, ids } = world;
  await runChained(ids, {}); // baseline
  for (let i = 0; i < 200; i += 20) site.versions.set(i, 1); // 10 edits
  const single = await runChained(ids, { JOB_INVOCATION_MAX_ITEMS: 100_000 });
  assert.equal(single.invocations, 1);
  for (let i = 0; i < 200; i += 20) site.versions.set(i, 2); // the same 10 pages again
  const chained = await runChained(ids, { JOB_INVOCATION_MAX_ITEMS: 20, JOB_BATCH_SIZE: 10 });
  assert.ok(chained.invocations >= 10, `only ${chained.invocations} invocations`);
  assert.deepEqual(counts(chained.result), counts(single.result));
  assert.equal(chained.result.status, "succeeded");
  assert.equal(chained.result.sources_processed, 200);
  assert.equal(chained.result.changes_detected, 10);
});

Deno.test("two invocations claiming at once never process the same item", async () => {
  await using world = await siteWithSources(100);
  const { site, ids } = world;
  const db = await serviceDb();
  site.delayMs = 20;
  const deps = () => stackJobDeps(db, config({ JOB_BATCH_SIZE: 5 }));
  const started = await startForcedRun(deps(), ids);
  await Promise.all([
    processDailyFetchRun({ ...deps(), invocationId: "a" }, started.run_id),
    processDailyFetchRun({ ...deps(), invocationId: "b" }, started.run_id),
  ]);
  const { data: items } = await db.from("job_run_sources").select("attempts, claimed_by, status")
    .eq("run_id", started.run_id);
  assert.equal(items!.length, 100);
  assert.ok(items!.every((i) => i.attempts === 1 && i.status === "succeeded"));
  const byInvocation = new Set(items!.map((i) => i.claimed_by));
  assert.deepEqual([...byInvocation].sort(), ["a", "b"], "both invocations worked");
  assert.equal(site.hits.size, 100);
  assert.ok([...site.hits.values()].every((n) => n === 1), "a page was fetched twice");
  const { data: run } = await db.from("job_runs").select("status, sources_processed")
    .eq("id", started.run_id).single();
  assert.deepEqual(run, { status: "succeeded", sources_processed: 100 });
});

Deno.test("a killed invocation's items are claimed again after the lease; nothing lost or sent twice", async () => {
  await using world = await siteWithSources(30);
  const { site, ids } = world;
  const db = await serviceDb();
  const sql = sqlClient();
  let runId: string | null = null;
  const { data: sub } = await db.from("subscriptions").insert({
    channel: "webhook",
    target: `${site.base}/hook`,
    source_id: null,
  }).select("id").single();
  try {
    await runChained(ids, {}); // baseline
    for (let i = 0; i < 30; i += 3) {
      site.versions.set(i, 1); // 10 edits, answered at once: their changes get recorded
      site.fast.add(i);
    }
    site.delayMs = 25_000; // the other pages stay in flight (under FETCH_TIMEOUT_MS): the kill lands mid-run
    // The changes' alerts are sent as soon as each change is recorded (the loop does not
    // wait for the slow pages): hold them, so the kill lands mid-send (under
    // ALERT_TIMEOUT_MS), before any outcome.
    site.heldHooks = [];
    const logger = captureLogger();
    const deps = stackJobDeps(db, config(), { logger });
    const started = await startForcedRun(deps, ids);
    runId = started.run_id;
    const child = spawnInvocation(started.run_id, "doomed", 4000, 30);
    // Wait until the doomed invocation holds items, then kill it like the runtime does.
    await eventually("the doomed invocation to claim items", async () => {
      const [r] = await sql`select count(*)::int as n from public.job_run_sources
        where run_id = ${started.run_id} and claimed_by = 'doomed' and status = 'claimed'`;
      return r!.n > 0 ? true : undefined;
    }, 30_000);
    // Kill once the changes are recorded and their alerts are being sent, before any
    // outcome was written.
    await eventually("the doomed invocation to record the changes", async () => {
      const [r] = await sql`select count(*)::int as n from public.policy_changes
        where source_id = any(${ids})`;
      return r!.n >= 10 ? true : undefined;
    }, 30_000);
    await eventually("the doomed invocation to send an alert", () => {
      return Promise.resolve((site.heldHooks?.length ?? 0) >= 1 ? true : undefined);
    }, 30_000);
    child.kill("SIGKILL");
    await child.status;
    const hooks = site.heldHooks ?? [];
    site.heldHooks = null;
    for (const release of hooks) release();
    site.delayMs = 0;
    const [held] = await sql`select count(*)::int as n from public.job_run_sources
      where run_id = ${started.run_id} and status = 'claimed'`;
    const statuses = await sql`select status, claimed_by, error_message from public.job_run_sources
      where run_id = ${started.run_id} and status <> 'claimed'`;
    assert.equal(held!.n, 30, `the kill left every item claimed: ${JSON.stringify(statuses)}`);
    assert.equal(site.deliveries.length, 0, "nothing was delivered before the kill");
    // Another invocation: nothing to claim until the lease (4 s) expires; then all of it.
    await new Promise((r) => setTimeout(r, 4_200));
    // The dead sender's alerts are 'sending' until their lease (ALERT_LEASE_MS) ends: end it,
    // now that PostgREST has surely finished a claim the dead process sent just before the
    // kill (it still commits). The stack's alerts-deliver cron pass (every 5 min, all
    // subscriptions) may have claimed some too: its requests were held, then refused (503),
    // so those are 'failed' until their backoff ends: end that too.
    await sql`update public.alerts a set next_attempt_at = now() - interval '1 second'
      from public.policy_changes c
      where a.policy_change_id = c.id and c.source_id = any(${ids})
        and a.status in ('sending', 'failed')`;
    const result = await processDailyFetchRun({ ...deps, invocationId: "rescuer" }, started.run_id);
    assert.equal(result.status, "succeeded", JSON.stringify(result.errors));
    assert.equal(result.sources_processed, 30);
    assert.equal(result.changes_detected, 10);
    const [changes] = await sql`select count(*)::int as n from public.policy_changes
      where source_id = any(${ids})`;
    assert.equal(changes!.n, 10, "no change lost, none recorded twice");
    const perChange = new Map<string, number>();
    for (const d of site.deliveries) {
      perChange.set(d.changeId, (perChange.get(d.changeId) ?? 0) + 1);
    }
    const problems = logger.records.filter((r) => r.level !== "info" && r.level !== "debug")
      .map((r) => r.text);
    assert.equal(perChange.size, 10, `every change delivered; logged: ${problems.join(" | ")}`);
    assert.ok([...perChange.values()].every((n) => n === 1), "an alert was sent twice");
    const [again] = await sql`select count(*)::int as n from public.job_runs
      where id = ${started.run_id} and status = 'running'`;
    assert.equal(again!.n, 0);
  } finally {
    // A failed assertion must not leave the run holding the job for the next tests.
    if (runId) {
      await sql`select public.job_fail_run(${runId}::uuid, 'test cleanup: run left running')`;
    }
    if (sub) await db.from("subscriptions").delete().eq("id", sub.id);
    await sql.end();
  }
});
