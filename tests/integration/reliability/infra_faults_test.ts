/**
 * Infrastructure faults during real runs of the job on the local stack: PostgREST killed
 * mid-run, the function workers killed (SIGKILL, as the edge runtime does at its
 * wall-clock limit) mid-run, Postgres restarted between runs, and the webhook receiver
 * down during a run. After each: the run finishes, no change is lost, no alert is
 * delivered twice (counted at the receiver), no run is left `running`, and the stack is
 * whole again (`deno task stack:start` exits 0).
 *
 * Three waits are shortened through the database, as documented in docs/reliability.md:
 * a dead invocation's item leases (JOB_LEASE_MS, 30 s), the lease of the alert it was
 * sending (ALERT_LEASE_MS, 60 s) and a failed alert's backoff (ALERT_BACKOFF_BASE_MS,
 * 60 s) are moved to now instead of being waited for.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { LOG_DIR, PORTS, STATE_DIR } from "../../../supabase/local/ports.ts";
import { type FaultServer, startFaultServer } from "../../fixtures/fault_server.ts";
import { type FaultSink, startFaultSink } from "../../fixtures/fault_sink.ts";
import { sendDelivery } from "../../../shared/alerts/http_delivery.ts";
import {
  adminSqlClient,
  eventually,
  serviceDb,
  sqlClient,
  SUPABASE_URL,
  waitForNoRunningRun,
} from "../_stack.ts";
import {
  denoTask,
  functionWorkerPids,
  getRun,
  IDLE_MS,
  killAndWait,
  postRun,
  processAlive,
  servicePid,
  stackStart,
  startRunAsync,
  waitRun,
} from "./_api.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";

/** Three sources (A changes, B stays, H can be held mid-fetch), A and H watched by the sink. */
interface Fixture extends AsyncDisposable {
  faults: FaultServer;
  sink: FaultSink;
  sql: postgres.Sql;
  tag: string;
  a: string;
  b: string;
  h: string;
  ids: string[];
  /** Page names on the fault server. */
  pages: { a: string; b: string; h: string };
}

async function fixture(): Promise<Fixture> {
  await restoreStack();
  const tag = crypto.randomUUID().slice(0, 8);
  const faults = await startFaultServer();
  const sink = startFaultSink();
  const sql = sqlClient();
  const db = await serviceDb();
  const pages = { a: `a-${tag}`, b: `b-${tag}`, h: `h-${tag}` };
  faults.setPage(pages.a, ["Stay up to 90 days", "Passport valid for 3 months"]);
  faults.setPage(pages.b, ["Be kind", "No spam"]);
  faults.setPage(pages.h, ["Fees are paid online"]);
  const { data, error } = await db.from("sources").insert([
    { name: `infra A ${tag}`, url: faults.pageUrl(pages.a) },
    { name: `infra B ${tag}`, url: faults.pageUrl(pages.b) },
    { name: `infra H ${tag}`, url: faults.pageUrl(pages.h) },
  ]).select("id");
  assert.equal(error, null, error?.message);
  const [a, b, h] = data!.map((r) => r.id as string) as [string, string, string];
  const { error: subError } = await db.from("subscriptions").insert([
    { source_id: a, channel: "webhook", target: `${sink.url}/hook` },
    { source_id: h, channel: "webhook", target: `${sink.url}/hook` },
  ]);
  assert.equal(subError, null, subError?.message);
  const ids = [a, b, h];
  return {
    faults,
    sink,
    sql,
    tag,
    a,
    b,
    h,
    ids,
    pages,
    async [Symbol.asyncDispose]() {
      // A failed assertion may have left a service killed: bring the stack back first, so
      // one failure here does not fail every test after it (as seen in CI once).
      await restoreStack();
      // Never leave a run of ours running (a failed assertion may have left one).
      await sql`update public.job_runs set status = 'failed', completed_at = now(),
          errors = errors || '["left running by a failed reliability test; closed by its cleanup"]'
        where status = 'running' and options->'source_ids' ?| ${ids}::text[]`
        .catch(() => {});
      await db.from("sources").delete().in("id", ids); // cascades to subscriptions and alerts
      await sql.end();
      await sink.close();
      await faults.close();
    },
  };
}

/** Runs `stack:start` when a service of the stack (or Postgres) is not running. */
async function restoreStack(): Promise<void> {
  const dead: string[] = [];
  for await (const entry of Deno.readDir(`${STATE_DIR}/pids`)) {
    const service = entry.name.replace(/\.pid$/, "");
    if (!processAlive(await servicePid(service).catch(() => 0))) dead.push(service);
  }
  const pg = await new Deno.Command(`${PG_BIN}/pg_isready`, {
    args: ["-h", "127.0.0.1", "-p", String(PORTS.postgres)],
    stdout: "null",
    stderr: "null",
  }).output();
  if (dead.length === 0 && pg.code === 0) return;
  console.log(`restoring the stack (not running: ${[...dead, ...(pg.code ? ["postgres"] : [])]})`);
  const restarted = await stackStart();
  assert.equal(restarted.code, 0, restarted.output);
}

/** A run over the fixture's sources, started async once the job is idle; waits for its end. */
async function runToEnd(fx: Fixture) {
  const runId = await startRunAsync(fx.sql, { source_ids: fx.ids, force: true });
  return await waitRun(runId, 60_000);
}

/** The lines of the function workers' logs that mention a run. */
async function workerLog(runId: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const entry of Deno.readDir(LOG_DIR)) {
    if (!/^functions(-\d+)?\.log$/.test(entry.name)) continue;
    const text = await Deno.readTextFile(`${LOG_DIR}/${entry.name}`);
    lines.push(...text.split("\n").filter((l) => l.includes(runId)));
  }
  return lines;
}

/**
 * Keeps a dead invocation's leases running for 10 minutes: the stack's restart here can take
 * longer than JOB_LEASE_MS (30 s: live invocations renew their leases), and what these tests
 * check is what happens before and after the leases end, which {@link expireLeases} decides.
 */
async function holdLeases(sql: postgres.Sql, runId: string): Promise<void> {
  await sql`update public.job_run_sources set lease_until = now() + interval '10 minutes'
    where run_id = ${runId} and status = 'claimed'`;
}

/** Ends every lease of a run's claimed items, as if JOB_LEASE_MS had passed. */
async function expireLeases(sql: postgres.Sql, runId: string): Promise<number> {
  const rows = await sql`update public.job_run_sources set lease_until = now() - interval '1 second'
    where run_id = ${runId} and status = 'claimed' returning source_id`;
  // The alert the dead invocation was sending stays 'sending' until its lease ends: end it.
  await sql`update public.alerts a set next_attempt_at = now() - interval '1 second'
    from public.policy_changes c
    where a.policy_change_id = c.id and a.status = 'sending'
      and c.source_id in (select source_id from public.job_run_sources where run_id = ${runId})`;
  return rows.length;
}

/** Runs the daily-fetch cron job's command now; resolves to the HTTP status pg_net stored. */
async function cronResponse(sql: postgres.Sql): Promise<number> {
  const [job] = await sql`select command from cron.job where jobname = 'daily-fetch'`;
  assert.ok(job, "the daily-fetch cron job exists");
  const [clock] = await sql<{ since: Date }[]>`select now() as since`;
  await sql.unsafe(job.command);
  const [dispatch] = await sql`select request_id from private.cron_dispatches
    where job_name = 'daily-fetch' and dispatched_at >= ${clock!.since}
    order by dispatched_at desc limit 1`;
  assert.ok(dispatch, "the command queued a request");
  return await eventually("pg_net to store the cron request's response", async () => {
    const [r] = await sql`select status_code from net._http_response
      where id = ${dispatch.request_id}`;
    return r ? r.status_code as number : undefined;
  }, 30_000);
}

/** Policy changes of a source. */
async function changesOf(sql: postgres.Sql, sourceId: string): Promise<string[]> {
  const rows = await sql`select id from public.policy_changes where source_id = ${sourceId}`;
  return rows.map((r) => r.id as string);
}

/** No run of the job is running, and every service of the stack is up. */
async function assertSettled(fx: Fixture): Promise<void> {
  const running = await fx.sql`select id from public.job_runs
    where status = 'running' and options->'source_ids' ?| ${fx.ids}::text[]`;
  assert.equal(running.length, 0, `runs of ours left running: ${running.map((r) => r.id)}`);
  const { code, output } = await stackStart();
  assert.equal(code, 0, output);
}

/** Baseline run, then A's page changes and H is held at its next fetch. */
async function baselineThenChange(fx: Fixture) {
  const baseline = await runToEnd(fx);
  assert.equal(baseline.status, "succeeded", JSON.stringify(baseline.errors));
  fx.faults.setPage(fx.pages.a, ["Stay up to 60 days", "Passport valid for 3 months"]);
  return fx.faults.hold(fx.pages.h);
}

/**
 * Starts the run whose invocation will die: async POST, then waits until H's fetch is in
 * flight, A's change is recorded (snapshot + policy change) and A's alert is being sent
 * (the sink holds it: the job announces a change as soon as it is recorded, without
 * waiting for the other sources). The invocation then holds A and H; B may be completed.
 * The test kills what it kills, then calls `gate.release()` and `fx.sink.release()`.
 */
async function runUntilChangeRecorded(fx: Fixture, gate: { arrived: Promise<void> }) {
  fx.sink.hold();
  const runId = await startRunAsync(fx.sql, { source_ids: fx.ids, force: true });
  await gate.arrived;
  const [change] = await eventually("A's change to be recorded", async () => {
    const ids = await changesOf(fx.sql, fx.a);
    return ids.length > 0 ? ids : undefined;
  });
  await eventually("A's alert to be in flight", () => {
    return Promise.resolve(fx.sink.held > 0 ? true : undefined);
  });
  assert.equal(fx.sink.deliveriesOf(change!).length, 0, "A's change is not delivered yet");
  return { runId, changeId: change! };
}

/**
 * Waits up to `ms` for the run to end, then asserts it ended with A's change delivered
 * exactly once, and nothing else changed.
 */
async function assertDeliveredOnce(fx: Fixture, runId: string, changeId: string, ms: number) {
  await waitRun(runId, ms);
  const run = await getRun(runId);
  assert.ok(run, "the run exists");
  assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
  assert.equal(run.sources_processed, 3);
  assert.equal(run.changes_detected, 1);
  assert.deepEqual(await changesOf(fx.sql, fx.a), [changeId], "one change, none lost or doubled");
  assert.deepEqual(await changesOf(fx.sql, fx.h), [], "H did not change");
  const deliveries = fx.sink.deliveriesOf(changeId);
  assert.equal(deliveries.length, 1, "A's change reached the sink exactly once");
  const alerts = await fx.sql`select a.id, a.status from public.alerts a
    join public.subscriptions s on s.id = a.subscription_id
    where a.policy_change_id = ${changeId} and s.source_id = ${fx.a}`;
  assert.equal(alerts.length, 1, "one outbox row for the subscription");
  assert.equal(alerts[0]!.status, "sent");
  assert.equal(deliveries[0]!.alertId, alerts[0]!.id);
}

Deno.test("PostgREST killed mid-run and restarted: the run is finished by the next POST, no change lost", async () => {
  await using fx = await fixture();
  const gate = await baselineThenChange(fx);
  const { runId, changeId } = await runUntilChangeRecorded(fx, gate);

  const postgrest = await servicePid("postgrest");
  await killAndWait(postgrest);
  gate.release();
  fx.sink.release();
  // The invocation meets the dead API when it writes its items, and stops. Its log line is
  // how the test knows; where it did not come within a minute (the line can be dropped by
  // the log rate cap, or the invocation still waits on a write: seen once in CI), the
  // function workers are killed so the invocation is certainly gone before PostgREST is
  // back. What is asserted after — nothing lost or doubled once the run resumes — is the same.
  const killedAt = performance.now();
  const gaveUp = await eventually("the invocation to give up", async () => {
    const lines = await workerLog(runId);
    return lines.some((l) => l.includes("invocation stopped on run")) ? true : undefined;
  }, 60_000).catch(() => false);
  console.log(
    `give-up line ${gaveUp ? "after" : "missing after"} ${
      Math.round(performance.now() - killedAt)
    } ms`,
  );
  if (!gaveUp) {
    // What the workers said about the run, and any kill by the runtime's limits: the why.
    const limits = await Deno.readTextFile(`${LOG_DIR}/limits.log`).catch(() => "(none)");
    console.log(
      `the invocation's give-up line did not come within 60 s: killing the workers\n` +
        `run lines:\n${(await workerLog(runId)).slice(-10).join("\n")}\nlimits.log:\n${limits}`,
    );
    for (const pid of (await functionWorkerPids()).values()) await killAndWait(pid);
  }
  await holdLeases(fx.sql, runId);
  const restarted = await stackStart();
  assert.equal(restarted.code, 0, restarted.output);
  assert.notEqual(await servicePid("postgrest"), postgrest, "stack:start restarted PostgREST");

  const stalled = await getRun(runId);
  assert.equal(stalled?.status, "running", "the run waits for its items' leases");
  assert.ok(await expireLeases(fx.sql, runId) >= 2, "the dead invocation held A and H");
  // What a user does: POST again. The run in progress answers 409 and is resumed.
  const again = await postRun({ source_ids: fx.ids, force: true });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(again.body.error.code, "run_in_progress");
  await assertDeliveredOnce(fx, runId, changeId, 60_000);
  await assertSettled(fx);
});

Deno.test("function workers killed (SIGKILL) mid-run: the next cron call resumes the run after its lease, no change lost or alert doubled", async () => {
  await using fx = await fixture();
  const gate = await baselineThenChange(fx);
  const { runId, changeId } = await runUntilChangeRecorded(fx, gate);

  const workers = await functionWorkerPids();
  for (const pid of workers.values()) await killAndWait(pid);
  await holdLeases(fx.sql, runId);
  gate.release();
  fx.sink.release();
  const restarted = await stackStart();
  assert.equal(restarted.code, 0, restarted.output);
  for (const [service, pid] of workers) {
    const now = await servicePid(service);
    assert.notEqual(now, pid, `${service} was restarted`);
    assert.ok(processAlive(now), `${service} is up`);
  }

  // Before the lease ends nothing may take the items: a POST gets 409 and resumes nothing.
  const early = await postRun({ source_ids: fx.ids, force: true });
  assert.equal(early.status, 409, JSON.stringify(early.body));
  assert.equal((await getRun(runId))?.status, "running");
  assert.equal(fx.sink.deliveriesOf(changeId).length, 0);

  assert.ok(await expireLeases(fx.sql, runId) >= 2, "the dead invocation held A and H");
  // The next call on a schedule is the nightly cron command: refused (409, stored by
  // pg_net), and the stalled run is resumed.
  assert.equal(await cronResponse(fx.sql), 409);
  await assertDeliveredOnce(fx, runId, changeId, 60_000);
  // The next night works as usual.
  await waitForNoRunningRun(IDLE_MS, fx.sql);
  const next = await runToEnd(fx);
  assert.equal(next.status, "succeeded", JSON.stringify(next.errors));
  assert.equal(next.changes_detected, 0);
  assert.equal(fx.sink.deliveriesOf(changeId).length, 1, "no alert sent twice");
  await assertSettled(fx);
});

Deno.test({
  // Regression test of a fixed bug (shared/jobs/service.ts resumeIfStalled, supabase/migrations/*_schedule.sql): a run
  // whose invocation died is only resumed when someone POSTs after its leases expired. The
  // only caller on a schedule is pg_cron, once a night: the run stays `running` until the
  // next night, whose POST gets 409 (it resumes yesterday's run; that night's run never
  // starts). Nothing (an hourly watchdog, the run's deadline) picks a stalled run up
  // earlier. Expected: once the leases expired the run is finished without a user's call.
  name:
    "function workers killed mid-run: the run is finished without another call once its leases expire",
  async fn() {
    await using fx = await fixture();
    const gate = await baselineThenChange(fx);
    const { runId, changeId } = await runUntilChangeRecorded(fx, gate);
    for (const pid of (await functionWorkerPids()).values()) await killAndWait(pid);
    gate.release();
    fx.sink.release();
    assert.equal((await stackStart()).code, 0);
    await expireLeases(fx.sql, runId);
    // pg_cron's daily-fetch-resume job (every minute, for runs older than 30 s whose last
    // lease ended over 10 s ago): age the run and its leases and run the job's command now
    // instead of waiting for its schedule.
    await fx.sql`update public.job_runs set started_at = started_at - interval '3 minutes'
      where id = ${runId}`;
    await fx.sql`update public.job_run_sources set lease_until = lease_until - interval '1 minute'
      where run_id = ${runId} and status = 'claimed'`;
    const [resume] = await fx
      .sql`select command from cron.job where jobname = 'daily-fetch-resume'`;
    await fx.sql.unsafe(resume!.command);
    await assertDeliveredOnce(fx, runId, changeId, 30_000);
    await assertSettled(fx);
  },
});

Deno.test("Postgres restarted between runs: the next run works and alerts once", async () => {
  await using fx = await fixture();
  const baseline = await runToEnd(fx);
  assert.equal(baseline.status, "succeeded", JSON.stringify(baseline.errors));

  // data_directory is readable by superusers only (postgres is not one, as on hosted).
  const admin = adminSqlClient();
  const [dir] = await admin`show data_directory`.finally(() => admin.end());
  const dataDir = dir!.data_directory as string;
  const pgCtl = [
    `${PG_BIN}/pg_ctl`,
    "-D",
    dataDir,
    "-l",
    `${LOG_DIR}/postgres.log`,
    "-m",
    "fast",
    "-w",
    "-t",
    "60",
    "restart",
  ];
  const [cmd, ...args] = Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", ...pgCtl] : pgCtl;
  const restart = await new Deno.Command(cmd!, { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(restart.success, new TextDecoder().decode(restart.stderr));

  // PostgREST reconnects by itself; the function's health check tells when the API is back.
  await eventually("the API to reach the database again", async () => {
    const res = await fetch(`${SUPABASE_URL}/functions/v1/api/health`).catch(() => null);
    await res?.body?.cancel();
    return res?.status === 200 ? true : undefined;
  }, 60_000);
  fx.faults.setPage(fx.pages.a, ["Stay up to 30 days", "Passport valid for 3 months"]);
  const run = await runToEnd(fx);
  assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
  assert.equal(run.changes_detected, 1);
  const [changeId] = await changesOf(fx.sql, fx.a);
  assert.ok(changeId);
  assert.equal(fx.sink.deliveriesOf(changeId).length, 1);
  const [job] = await fx.sql`select active from cron.job where jobname = 'daily-fetch'`;
  assert.equal(job?.active, true, "the nightly schedule survived the restart");
  await assertSettled(fx);
});

Deno.test("webhook receiver down during a run: the change is recorded, the alert fails (not the source), and the alerts-deliver cron job delivers it once", async () => {
  await using fx = await fixture();
  const baseline = await runToEnd(fx);
  assert.equal(baseline.status, "succeeded", JSON.stringify(baseline.errors));
  fx.faults.setPage(fx.pages.a, ["Stay up to 45 days", "Passport valid for 3 months"]);
  await fx.sink.down();

  const failed = await runToEnd(fx);
  assert.equal(failed.changes_detected, 1, "the change is recorded though nobody could be told");
  const [changeId] = await changesOf(fx.sql, fx.a);
  assert.ok(changeId);
  assert.equal(failed.status, "succeeded", JSON.stringify(failed.errors));
  const source = failed.sources.find((s) => s.source_id === fx.a);
  assert.equal(source?.status, "succeeded", "an alert failure is not the source's failure");
  assert.equal(source?.error_class, null);
  const [alert] = await fx.sql`select a.id, a.status, a.attempts, a.error,
      a.next_attempt_at > now() as later
    from public.alerts a join public.subscriptions s on s.id = a.subscription_id
    where a.policy_change_id = ${changeId} and s.source_id = ${fx.a}`;
  assert.equal(alert?.status, "failed");
  assert.equal(alert?.attempts, 1);
  assert.equal(alert?.later, true, "retried after ALERT_BACKOFF_BASE_MS, not at once");
  assert.ok(
    alert?.error?.startsWith(`Cannot deliver alert ${alert.id} by webhook: ${fx.sink.url}: `),
    alert?.error,
  );

  // The cron path before the backoff is over: nothing is sent.
  const [cron] = await fx
    .sql`select schedule, command from cron.job where jobname = 'alerts-deliver'`;
  assert.equal(cron?.schedule, "*/5 * * * *", "the outbox has its own clock: every 5 minutes");
  fx.sink.up();
  const early = await deliverPass(fx, cron!.command);
  assert.equal(early.status, 200);
  assert.equal(fx.sink.deliveriesOf(changeId).length, 0, "not before its backoff");

  // The backoff (60 s by default) is over: the cron command delivers it, no run needed.
  await fx.sql`update public.alerts set next_attempt_at = now() where id = ${alert!.id}`;
  const pass = await deliverPass(fx, cron!.command);
  assert.equal(pass.status, 200, pass.body);
  const deliveries = fx.sink.deliveriesOf(changeId);
  assert.equal(deliveries.length, 1, "delivered exactly once");
  assert.equal(deliveries[0]!.alertId, alert!.id);
  const [after] = await fx.sql`select status, attempts from public.alerts where id = ${alert!.id}`;
  assert.deepEqual({ ...after }, { status: "sent", attempts: 2 });
  // The next run has nothing left to retry.
  const next = await runToEnd(fx);
  assert.equal(next.status, "succeeded", JSON.stringify(next.errors));
  assert.equal(fx.sink.deliveriesOf(changeId).length, 1, "still once");
  assert.deepEqual(await changesOf(fx.sql, fx.a), [changeId], "no change lost or doubled");
  await assertSettled(fx);
});

/** Runs the alerts-deliver cron command now; resolves to pg_net's stored response. */
async function deliverPass(
  fx: { sql: postgres.Sql },
  command: string,
): Promise<{ status: number; body: string }> {
  await fx.sql.unsafe(command);
  const [dispatch] = await fx.sql`select request_id from private.cron_dispatches
    where job_name = 'alerts-deliver' order by id desc limit 1`;
  assert.ok(dispatch?.request_id, "the command queued a pg_net request");
  return await eventually("the alerts-deliver response", async () => {
    const [r] = await fx.sql`select status_code, content from net._http_response
      where id = ${dispatch!.request_id}`;
    return r?.status_code
      ? { status: r.status_code as number, body: String(r.content) }
      : undefined;
  }, 60_000);
}

Deno.test({
  // Regression test of a fixed bug (shared/alerts/http_delivery.ts _describe()): a delivery whose fetch throws keeps only the
  // outer error's message, and Deno's is always "fetch failed" (the reason is in its
  // cause chain): alerts.error reads "Cannot deliver alert … by webhook: http://host:
  // fetch failed" whether the receiver refused the connection, its name did not resolve
  // or its certificate was bad. Expected: the reason, as the pipeline's
  // classifyFetchError() reads it from the causes.
  name: "an alert whose receiver is down says why: connection refused",
  async fn() {
    const sink = startFaultSink();
    await sink.down(); // nothing listens on its port now
    const result = await sendDelivery(
      { url: `${sink.url}/hook`, headers: { "content-type": "application/json" }, body: "{}" },
      {
        fetch: (input, init) => fetch(input, init),
        timeoutMs: 5_000,
        now: new Date(),
        policy: { allowLoopback: true, allowPrivateNetworks: false },
      },
    );
    assert.equal(result.ok, false);
    assert.match(result.error ?? "", /refused/i);
  },
});

Deno.test({
  // Regression test of a fixed bug (shared/jobs/service.ts resumeIfStalled; supabase/migrations/*_jobs.sql
  // job_start_run): a run whose invocation died and whose sources were then deleted (their
  // work items go with them) has no open item left, so resumeIfStalled finds nothing to
  // resume and nothing finalises it: every start is refused with 409 until deadline_at
  // (JOB_RUN_DEADLINE_MS, 2 h). Seen twice while this suite was written, left behind by a
  // failed test's cleanup. Expected: a running run without open items is finalised.
  name: "a run whose sources were deleted after its invocation died does not block the job",
  async fn() {
    await using fx = await fixture();
    const gate = await baselineThenChange(fx);
    const { runId } = await runUntilChangeRecorded(fx, gate);
    for (const pid of (await functionWorkerPids()).values()) await killAndWait(pid);
    gate.release();
    fx.sink.release();
    assert.equal((await stackStart()).code, 0);
    const db = await serviceDb();
    await db.from("sources").delete().in("id", fx.ids);
    // The next start finalises the dead run (it has no item left) and runs.
    const answer = await postRun({ source_ids: fx.ids, force: true });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.notEqual(answer.body.run_id, runId);
    await waitRun(runId, 10_000);
  },
});

Deno.test({
  // Regression test of a fixed bug (supabase/local/stack.ts codeHash(): it hashes processEnv(), which holds PATH, HOME
  // and DENO_DIR, not only the tuning variables): `deno task` puts its own directories on
  // PATH, so `deno task stack:start` and `deno run -A supabase/local/stack.ts start` (what
  // tools/test.ts and tests/integration/stack/stack_test.ts use) compute different hashes and
  // each restarts every function worker ("code changed") after the other, killing the runs
  // in flight. Expected: stack:start is idempotent whichever way it is called.
  name: "deno task stack:start after stack.ts start restarts nothing",
  async fn() {
    assert.equal((await stackStart()).code, 0);
    const { code, output } = await denoTask("stack:start");
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /code changed/, output);
    const again = await stackStart();
    assert.doesNotMatch(again.output, /code changed/, again.output);
  },
});
