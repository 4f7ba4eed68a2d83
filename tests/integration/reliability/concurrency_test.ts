/**
 * Concurrency: ten POSTs and the nightly cron command fired at the same moment start
 * exactly one run; every other start is refused with 409 (the cron's refusal is the
 * response pg_net stored in net._http_response).
 */
import assert from "node:assert/strict";
import { startFaultServer } from "../../fixtures/fault_server.ts";
import { eventually, serviceDb, sqlClient, waitForNoRunningRun } from "../_stack.ts";
import { IDLE_MS, postRun, waitRun } from "./_api.ts";

Deno.test("ten simultaneous POSTs plus the cron command start exactly one run; the others get 409", async () => {
  await using faults = await startFaultServer();
  faults.setPage("visa", ["Stay up to 90 days"]);
  faults.setPage("terms", ["Be kind"]);
  const tag = crypto.randomUUID().slice(0, 8);
  const db = await serviceDb();
  const sql = sqlClient();
  const { data, error } = await db.from("sources").insert([
    { name: `concurrency visa ${tag}`, url: faults.pageUrl("visa") },
    { name: `concurrency terms ${tag}`, url: faults.pageUrl("terms") },
  ]).select("id");
  assert.equal(error, null, error?.message);
  const ids = data!.map((r) => r.id as string);
  try {
    await waitForNoRunningRun(IDLE_MS, sql);
    const [job] = await sql`select command from cron.job where jobname = 'daily-fetch'`;
    assert.ok(job, "the daily-fetch cron job exists");
    const [clock] = await sql<{ since: Date }[]>`select now() as since`;
    const since = clock!.since;
    // The winner's run stays in progress until every start has been answered: a two-source
    // run can end before the last of eleven starts arrives on a loaded machine, and a start
    // after the end rightly begins a second run.
    const gate = faults.hold("visa");

    const [answers, dispatch] = await Promise.all([
      Promise.all(
        Array.from(
          { length: 10 },
          () => postRun({ source_ids: ids, force: true }, { async: true }),
        ),
      ),
      sql.unsafe(job.command).then(async () => {
        const [row] = await sql`select request_id from private.cron_dispatches
          where job_name = 'daily-fetch' and dispatched_at >= ${since}
          order by dispatched_at desc limit 1`;
        return row!.request_id as number;
      }),
    ]);
    const cron = await eventually("pg_net to store the cron request's response", async () => {
      const [r] = await sql`select status_code, content::text as content, error_msg
        from net._http_response where id = ${dispatch}`;
      return r;
    }, 30_000);
    gate.release();

    const runs = await sql`select id, trigger, status from public.job_runs
      where job_name = 'daily-fetch' and started_at >= ${since}`;
    assert.equal(runs.length, 1, `exactly one run started: ${JSON.stringify(runs)}`);
    const winner = runs[0]!;
    const statuses = [...answers.map((a) => a.status), cron.status_code as number];
    assert.equal(statuses.filter((s) => s === 202).length, 1, `one 202: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 10, `ten 409s: ${statuses}`);
    for (const a of answers.filter((a) => a.status === 409)) {
      assert.equal(a.body.error.code, "run_in_progress");
      assert.equal(
        a.body.error.message,
        `Cannot start daily-fetch: run ${winner.id} is in progress`,
      );
    }
    if (cron.status_code === 409) {
      assert.equal(JSON.parse(cron.content).error.code, "run_in_progress");
      assert.equal(winner.trigger, "manual");
    } else {
      assert.equal(winner.trigger, "cron", "the cron request won the race");
    }
    console.log(`winner: ${winner.trigger} run; answers ${statuses.join(" ")} (last: cron)`);
    const done = await waitRun(winner.id as string, 90_000);
    assert.notEqual(done.status, "running");
    if (winner.trigger === "manual") assert.equal(done.status, "succeeded");
  } finally {
    await waitForNoRunningRun(IDLE_MS, sql).catch(() => {});
    await db.from("sources").delete().in("id", ids);
    await sql.end();
  }
});
