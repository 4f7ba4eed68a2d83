/**
 * Alerts on their own clock, end to end on the local stack: the `alerts-deliver` pg_cron
 * command (run now instead of waiting for its minute) posts through pg_net to the deployed
 * function, which runs under the edge-runtime profile (Deno 2.1.4 with hosted limits), and
 * the function's pass over the outbox gives up an alert on its last attempt and reports it
 * to the operational subscribers in the same pass.
 *
 * The pass claims every due row of the stack's outbox, so the assertions look only at this
 * test's subscriptions and sinks.
 * @module
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { startAlertSink } from "../../fixtures/alert_sinks.ts";
import { eventually, sqlClient } from "../_stack.ts";

/** Runs the alerts-deliver cron command now; resolves to pg_net's stored response. */
async function deliverPass(sql: postgres.Sql): Promise<{ status: number; body: string }> {
  const [cron] = await sql`select command from cron.job where jobname = 'alerts-deliver'`;
  assert.ok(cron, "the alerts-deliver cron job exists");
  await sql.unsafe(cron.command);
  const [dispatch] = await sql`select request_id from private.cron_dispatches
    where job_name = 'alerts-deliver' order by id desc limit 1`;
  assert.ok(dispatch?.request_id, "the command queued a pg_net request");
  return await eventually("the alerts-deliver response", async () => {
    const [r] = await sql`select status_code, content from net._http_response
      where id = ${dispatch!.request_id}`;
    return r?.status_code
      ? { status: r.status_code as number, body: String(r.content) }
      : undefined;
  }, 60_000);
}

Deno.test("the alerts-deliver cron pass gives up an alert on its last attempt and reports it to the operational subscribers", async () => {
  const sql = sqlClient();
  await using down = startAlertSink(503);
  await using ops = startAlertSink();
  const tag = crypto.randomUUID().slice(0, 8);
  const [source] = await sql<{ id: string; name: string; url: string }[]>`
    insert into public.sources (name, url) values (${`Cron alerts ${tag}`},
      ${`https://cron-alerts-${tag}.example/rules`}) returning id, name, url`;
  try {
    const [change] = await sql<{ id: string }[]>`
      insert into public.policy_changes (source_id, diff)
      values (${source!.id}, ${"-Fee: £100\n+Fee: £120"}) returning id`;
    const [bad, watcher, quiet] = await sql<{ id: string }[]>`
      insert into public.subscriptions (source_id, channel, target, operational_alerts)
      values (${source!.id}, 'webhook', ${`${down.url}/hook`}, true),
             (${source!.id}, 'webhook', ${`${ops.url}/ops`}, true),
             (${source!.id}, 'webhook', ${`${ops.url}/changes-only`}, false)
      returning id`;
    // The alert to the receiver that is down has used all but its last attempt and its
    // backoff is over; the other two were delivered.
    const last = DEFAULT_CONFIG.ALERT_MAX_ATTEMPTS - 1;
    const [alert] = await sql<{ id: string }[]>`
      insert into public.alerts (policy_change_id, subscription_id, source_id, status,
        attempts, next_attempt_at, error)
      values (${change!.id}, ${bad!.id}, ${source!.id}, 'failed', ${last},
        now() - interval '1 second', 'HTTP 503 from the receiver')
      returning id`;
    await sql`insert into public.alerts (policy_change_id, subscription_id, source_id, status,
        attempts, sent_at)
      select ${change!.id}, s, ${source!.id}, 'sent', 1, now()
      from unnest(${[watcher!.id, quiet!.id]}::uuid[]) s`;

    const pass = await deliverPass(sql);
    assert.equal(pass.status, 200, pass.body);
    const counts = JSON.parse(pass.body) as { attempted: number; sent: number; dead: number };
    assert.ok(counts.dead >= 1 && counts.sent >= 1, pass.body);

    assert.equal(down.requests.length, 1, "the last attempt was made");
    const [row] = await sql`select status, attempts, error from public.alerts
      where id = ${alert!.id}`;
    assert.equal(row?.status, "dead");
    assert.equal(row?.attempts, DEFAULT_CONFIG.ALERT_MAX_ATTEMPTS);
    assert.match(
      row?.error,
      new RegExp(`\\(gave up after ${DEFAULT_CONFIG.ALERT_MAX_ATTEMPTS} attempts\\)$`),
    );

    assert.deepEqual(ops.requests.map((r) => r.path), ["/ops"], "one report, to the watcher");
    const report = ops.requests[0]!;
    assert.equal(report.headers.get("x-alert-event"), "alert_dead");
    const body = JSON.parse(report.body);
    assert.equal(body.details.alert_id, alert!.id);
    assert.equal(body.details.subscription_id, bad!.id);
    assert.equal(body.source.id, source!.id);
    assert.ok(
      body.text.includes(`POST /api/alerts/${alert!.id}/retry`),
      "it says how to send it again",
    );
    const reports = await sql`select subscription_id, status from public.alerts
      where kind = 'alert_dead' and source_id = ${source!.id}
        and subscription_id = any(${[bad!.id, watcher!.id, quiet!.id]}::uuid[])`;
    assert.deepEqual(reports.map((r) => ({ ...r })), [
      { subscription_id: watcher!.id, status: "sent" },
    ]);

    // The next pass sends nothing more to either.
    const again = await deliverPass(sql);
    assert.equal(again.status, 200, again.body);
    assert.equal(down.requests.length, 1);
    assert.equal(ops.requests.length, 1);
  } finally {
    await sql`delete from public.sources where id = ${source!.id}`; // cascades
    await sql.end();
  }
});
