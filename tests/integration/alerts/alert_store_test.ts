/**
 * The alert engine on the real outbox: the local stack's Postgres through PostgREST with
 * a service-role client, delivering to real loopback sinks. The database is shared with
 * other tests (and the seed's all-sources subscription), so every assertion looks only at
 * this test's own source, subscriptions and alert rows, and nothing here claims alerts
 * that are not its own.
 * @module
 */
import assert from "node:assert/strict";
import {
  deliverAlerts,
  deliverOperationalAlert,
  handleSourceHealth,
} from "../../../shared/alerts/engine.ts";
import { hmacSha256Hex } from "../../../shared/alerts/signature.ts";
import type { AlertDeps, AlertOutcome } from "../../../shared/alerts/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import { createSupabaseAlertStore } from "../../../shared/store/alert_store.ts";
import type { PolicyChange, Subscription } from "../../../shared/types.ts";
import { manualClock, testAlertConfig } from "../../fixtures/alert_data.ts";
import { assertSignedWith, type SinkRequest, startAlertSink } from "../../fixtures/alert_sinks.ts";
import { anonDb, serviceDb, sqlClient } from "../_stack.ts";

const SECRET = "whsec_integration_secret_0001";

type Db = Awaited<ReturnType<typeof serviceDb>>;

/** A fresh source with a recorded change; `await using` removes everything it created. */
async function fixture(db: Db) {
  const tag = crypto.randomUUID().slice(0, 8);
  const { data: source, error } = await db.from("sources")
    .insert({ name: `Alert test ${tag}`, url: `https://alerts-${tag}.example/rules` })
    .select("id, name, url").single();
  if (error) throw new Error(`Cannot insert source: ${error.message}`);
  const { data: change, error: changeError } = await db.from("policy_changes")
    .insert({
      source_id: source.id,
      diff: "--- a\n+++ b\n@@ -1 +1 @@\n-Fee: £100\n+Fee: £120 ✅\n",
      summary: { lines_added: 1, lines_removed: 1, first_changed_lines: ["Fee: £120 ✅"] },
    })
    .select("id, source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary")
    .single();
  if (changeError) throw new Error(`Cannot insert change: ${changeError.message}`);
  const globalSubs: string[] = [];
  return {
    source: source as { id: string; name: string; url: string },
    change: change as PolicyChange,
    async subscribe(sub: Partial<Subscription> & Pick<Subscription, "target">) {
      const { data, error } = await db.from("subscriptions")
        .insert({ source_id: source.id, channel: "webhook", ...sub })
        .select("id, source_id, channel, target, active, operational_alerts").single();
      if (error) throw new Error(`Cannot insert subscription: ${error.message}`);
      if (data.source_id === null) globalSubs.push(data.id);
      return data as Omit<Subscription, "secret">;
    },
    async [Symbol.asyncDispose]() {
      if (globalSubs.length > 0) await db.from("subscriptions").delete().in("id", globalSubs);
      await db.from("sources").delete().eq("id", source.id);
    },
  };
}

function deps(db: Db, config: Partial<AlertDeps["config"]> = {}) {
  return {
    fetch,
    clock: manualClock(new Date()),
    logger: captureLogger(),
    store: createSupabaseAlertStore(db),
    config: testAlertConfig(config),
  };
}

function mine(outcomes: AlertOutcome[], ids: string[]): AlertOutcome[] {
  return outcomes.filter((o) => o.subscription_id !== null && ids.includes(o.subscription_id));
}

async function alertRows(db: Db, column: "policy_change_id" | "source_id", id: string) {
  const { data, error } = await db.from("alerts")
    .select("id, subscription_id, kind, status, attempts, sent_at, error, next_attempt_at")
    .eq(column, id);
  if (error) throw new Error(`Cannot read alerts: ${error.message}`);
  return data;
}

Deno.test("deliverAlerts() on the real outbox reaches each subscriber once, even from two engines at once", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using hooks = startAlertSink();
  await using slack = startAlertSink();
  await using email = startAlertSink();
  const subs = [
    await f.subscribe({ target: `${hooks.url}/hook`, secret: SECRET }),
    await f.subscribe({
      source_id: null,
      channel: "slack",
      target: `${slack.url}/services/T/B/X`,
    }),
    await f.subscribe({ channel: "email", target: "ops@example.test" }),
  ];
  await f.subscribe({ target: `${hooks.url}/inactive`, active: false });
  const ids = subs.map((s) => s.id);
  const config = { EMAIL_API_URL: `${email.url}/emails` };
  const [a, b] = await Promise.all([
    deliverAlerts(f.change, deps(db, config)),
    deliverAlerts(f.change, deps(db, config)),
  ]);
  const both = mine([...a!, ...b!], ids);
  assert.equal(both.filter((o) => o.status === "sent").length, 3, JSON.stringify(both));
  assert.equal(both.filter((o) => o.status === "skipped").length, 3);
  const forChange = (reqs: SinkRequest[]) =>
    reqs.filter((r) => r.body.includes(f.change.id) || r.body.includes(f.source.name));
  assert.deepEqual(forChange(hooks.requests).map((r) => r.path), ["/hook"]);
  assert.equal(forChange(slack.requests).length, 1);
  assert.equal(forChange(email.requests).length, 1);

  const rows = (await alertRows(db, "policy_change_id", f.change.id))
    .filter((r) => ids.includes(r.subscription_id));
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.status, "sent");
    assert.equal(row.attempts, 1);
    assert.notEqual(row.sent_at, null);
  }

  const again = mine(await deliverAlerts(f.change, deps(db, config)), ids);
  assert.deepEqual(again.map((o) => o.status), ["skipped", "skipped", "skipped"]);
  assert.equal(hooks.requests.length + slack.requests.length + email.requests.length, 3);
});

Deno.test("the outbox's unique key refuses a second row for the same change and subscription", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  const sub = await f.subscribe({ target: "https://receiver.example/hook" });
  const store = createSupabaseAlertStore(db);
  const first = await store.enqueueChangeAlerts(f.change.id, new Date());
  const second = await store.enqueueChangeAlerts(f.change.id, new Date());
  assert.deepEqual(second.map((q) => q.id).sort(), first.map((q) => q.id).sort());
  const { error } = await db.from("alerts")
    .insert({ policy_change_id: f.change.id, subscription_id: sub.id });
  assert.equal(error?.code, "23505", "unique violation");
  await assert.rejects(
    store.enqueueChangeAlerts(crypto.randomUUID(), new Date()),
    /Cannot queue alerts of policy change .*: .*not found/,
  );
});

Deno.test("webhook signatures are computed in the database and the secret is never read", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using hooks = startAlertSink();
  const sub = await f.subscribe({ target: `${hooks.url}/hook`, secret: SECRET });
  const d = deps(db);
  const outcomes = mine(await deliverAlerts(f.change, d), [sub.id]);
  assert.deepEqual(outcomes.map((o) => o.status), ["sent"]);
  const req = hooks.requests[0]!;
  await assertSignedWith(req, SECRET, d.clock());

  const store = createSupabaseAlertStore(db);
  const text = '{"diff":"£ 😀 \\u0000 é"}';
  assert.equal(await store.signBody(sub.id, text), await hmacSha256Hex(SECRET, text));
  const noSecret = await f.subscribe({ target: `${hooks.url}/plain` });
  await assert.rejects(store.signBody(noSecret.id, text), /has no secret/);

  // What the engine reads never carries the secret.
  await store.enqueueChangeAlerts(f.change.id, new Date());
  const queued = await alertRows(db, "policy_change_id", f.change.id);
  const claim = await store.claimAlerts({
    now: new Date(),
    leaseMs: 60_000,
    limit: 10,
    maxAttempts: 3,
    alertIds: queued.filter((r) => r.subscription_id === noSecret.id).map((r) => r.id),
    excludeIds: [],
  });
  assert.equal(claim.claimed.length, 1);
  assert.equal(claim.claimed[0]!.subscription.has_secret, false);
  assert.ok(!JSON.stringify(claim).includes(SECRET));
});

Deno.test("the alert RPCs are refused to anon callers", async () => {
  const anon = await anonDb();
  const { error } = await anon.rpc("sign_alert_body", {
    p_subscription_id: "00000000-0000-4000-8000-0000000000a1",
    p_body: "x",
  });
  assert.ok(error, "anon must not sign with a subscription's secret");
  assert.match(error.message, /permission denied/);
  const claim = await anon.rpc("claim_alerts", {
    p_now: new Date().toISOString(),
    p_lease_ms: 1000,
    p_limit: 1,
    p_max_attempts: 1,
    p_alert_ids: [],
    p_exclude_ids: [],
  });
  assert.match(claim.error?.message ?? "", /permission denied/);
});

Deno.test("a failing receiver is retried after its backoff and given up after the last attempt", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using ok = startAlertSink();
  await using down = startAlertSink(503);
  const good = await f.subscribe({ target: `${ok.url}/hook` });
  const bad = await f.subscribe({ target: `${down.url}/hook` });
  const d = deps(db, { ALERT_MAX_ATTEMPTS: 2 });
  const first = mine(await deliverAlerts(f.change, d), [good.id, bad.id]);
  const status = (o: AlertOutcome[], id: string) => o.find((x) => x.subscription_id === id)?.status;
  assert.equal(status(first, good.id), "sent");
  assert.equal(status(first, bad.id), "failed");
  const row = (await alertRows(db, "policy_change_id", f.change.id))
    .find((r) => r.subscription_id === bad.id)!;
  assert.equal(Date.parse(row.next_attempt_at) - d.clock().getTime(), 60_000);
  assert.match(row.error!, /HTTP 503/);

  // Calling again before the backoff sends nothing; after it, the last attempt fails.
  assert.equal(status(mine(await deliverAlerts(f.change, d), [bad.id]), bad.id), "skipped");
  d.clock.advance(60_000);
  const last = mine(await deliverAlerts(f.change, d), [good.id, bad.id]);
  assert.equal(status(last, good.id), "skipped");
  assert.equal(status(last, bad.id), "dead");
  assert.equal(down.requests.length, 2);
  assert.equal(ok.requests.length, 1);
  const dead = (await alertRows(db, "policy_change_id", f.change.id))
    .find((r) => r.subscription_id === bad.id)!;
  assert.equal(dead.status, "dead");
  assert.equal(dead.attempts, 2);
});

Deno.test("an alert given up is reported to the operational subscribers at once, never to its own receiver", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using ops = startAlertSink();
  await using down = startAlertSink(503);
  const bad = await f.subscribe({ target: `${down.url}/hook`, operational_alerts: true });
  const watcher = await f.subscribe({ target: `${ops.url}/ops`, operational_alerts: true });
  const changesOnly = await f.subscribe({ target: `${ops.url}/changes-only` });
  const d = deps(db, { ALERT_MAX_ATTEMPTS: 2 });
  const ids = [bad.id, watcher.id, changesOnly.id];
  const first = mine(await deliverAlerts(f.change, d), ids);
  assert.deepEqual(
    first.map((o) => [o.subscription_id, o.kind, o.status]).sort(),
    [[bad.id, "policy_change", "failed"], [watcher.id, "policy_change", "sent"], [
      changesOnly.id,
      "policy_change",
      "sent",
    ]].sort(),
    "a failure to retry is not reported",
  );
  d.clock.advance(60_000);
  const last = mine(await deliverAlerts(f.change, d), ids);
  const deadAlert = last.find((o) => o.subscription_id === bad.id)!;
  assert.equal(deadAlert.status, "dead");
  assert.deepEqual(
    last.filter((o) => o.kind === "alert_dead").map((o) => [o.subscription_id, o.status]),
    [[watcher.id, "sent"]],
    "the call that gave it up sent the report",
  );
  const reports = ops.requests.filter((r) => r.headers.get("x-alert-event") === "alert_dead");
  assert.deepEqual(reports.map((r) => r.path), ["/ops"]);
  const body = JSON.parse(reports[0]!.body);
  assert.equal(body.event, "alert_dead");
  assert.deepEqual(body.source, { id: f.source.id, name: f.source.name, url: f.source.url });
  assert.equal(body.details.alert_id, deadAlert.alert_id);
  assert.equal(body.details.subscription_id, bad.id);
  assert.equal(body.details.attempts, 2);
  assert.match(body.details.error, /HTTP 503 .*\(gave up after 2 attempts\)$/);
  assert.ok(!("target" in body.details), "no subscription target (a Slack path is a secret)");
  assert.match(body.title, /^Alert given up: /);
  assert.equal(down.requests.length, 2, "nothing is sent to the receiver that is down");

  // Nothing is sent again, and the report is a row of the outbox like any other.
  const again = mine(await deliverAlerts(f.change, d), ids);
  assert.ok(again.every((o) => o.status === "skipped"));
  const rows = (await alertRows(db, "source_id", f.source.id))
    .filter((r) => r.kind === "alert_dead" && ids.includes(r.subscription_id));
  assert.deepEqual(rows.map((r) => [r.subscription_id, r.status]), [[watcher.id, "sent"]]);
});

Deno.test("concurrent claims never return the same row, and a late result of a lost claim is refused", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  for (let i = 0; i < 12; i++) await f.subscribe({ target: `https://receiver.example/${i}` });
  const store = createSupabaseAlertStore(db);
  const queued = await store.enqueueChangeAlerts(f.change.id, new Date());
  const ids = (await alertRows(db, "policy_change_id", f.change.id)).map((r) => r.id);
  assert.ok(queued.length >= 12);
  const now = new Date();
  const claim = () =>
    store.claimAlerts({
      now,
      leaseMs: 60_000,
      limit: 8,
      maxAttempts: 3,
      alertIds: ids,
      excludeIds: [],
    });
  const results = await Promise.all([claim(), claim(), claim()]);
  const claimed = results.flatMap((r) => r.claimed.map((c) => c.id));
  assert.equal(new Set(claimed).size, claimed.length, "no row claimed twice");
  assert.equal(claimed.length, ids.length, "every row claimed once");

  // The lease expires; another engine claims attempt 2; attempt 1's result is refused.
  const target = results.flatMap((r) => r.claimed)[0]!;
  const later = new Date(now.getTime() + 60_000);
  const reclaimed = await store.claimAlerts({
    now: later,
    leaseMs: 60_000,
    limit: 1,
    maxAttempts: 3,
    alertIds: [target.id],
    excludeIds: [],
  });
  assert.equal(reclaimed.claimed[0]?.attempt, 2);
  const finish = (attempt: number) =>
    store.finishAlert({
      id: target.id,
      attempt,
      status: "sent",
      error: null,
      nextAttemptAt: null,
      now: later,
    });
  assert.deepEqual(await finish(1), { recorded: false, reports: [] });
  assert.deepEqual(await finish(2), { recorded: true, reports: [] });
});

Deno.test("a row whose sender died on the last attempt is given up and reported", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  const receiver = await f.subscribe({ target: "https://receiver.example/hook" });
  const ops = await f.subscribe({
    target: "https://ops.example/hook",
    operational_alerts: true,
    active: false,
  });
  const store = createSupabaseAlertStore(db);
  await store.enqueueChangeAlerts(f.change.id, new Date());
  const ids = (await alertRows(db, "policy_change_id", f.change.id))
    .filter((r) => r.subscription_id === receiver.id).map((r) => r.id);
  // Switched on after the change was queued: it only gets the report.
  const { error } = await db.from("subscriptions").update({ active: true }).eq("id", ops.id);
  if (error) throw new Error(error.message);
  const now = new Date();
  const opts = { leaseMs: 1_000, limit: 50, maxAttempts: 1, alertIds: ids, excludeIds: [] };
  assert.equal((await store.claimAlerts({ ...opts, now })).claimed.length, ids.length);
  const after = await store.claimAlerts({ ...opts, now: new Date(now.getTime() + 1_000) });
  assert.equal(after.claimed.length, 0);
  assert.deepEqual(after.abandoned.map((a) => a.id).sort(), [...ids].sort());
  assert.match(after.abandoned[0]!.error, /stopped before recording a result/);
  const rows = (await alertRows(db, "policy_change_id", f.change.id))
    .filter((r) => ids.includes(r.id));
  assert.ok(rows.every((r) => r.status === "dead"));
  const reports = after.reports.filter((r) => r.subscription_id === ops.id);
  assert.deepEqual(reports.map((r) => [r.kind, r.status]), [["alert_dead", "pending"]]);
  const stored = (await alertRows(db, "source_id", f.source.id))
    .filter((r) => r.kind === "alert_dead" && [receiver.id, ops.id].includes(r.subscription_id));
  assert.deepEqual(stored.map((r) => r.subscription_id), [ops.id], "not to the receiver");
});

Deno.test("handleSourceHealth() on the database: one failing alert at the threshold, one recovered alert", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using hooks = startAlertSink();
  const ops = await f.subscribe({ target: `${hooks.url}/ops`, operational_alerts: true });
  await f.subscribe({ target: `${hooks.url}/changes-only` });
  const d = deps(db);
  const sent: number[] = [];
  for (let run = 1; run <= 4; run++) {
    // What the job's bookkeeping writes before it asks for health alerts.
    const { error } = await db.from("sources").update({
      consecutive_failures: run,
      last_error: "HTTP 503",
      last_error_class: "http_5xx",
    }).eq("id", f.source.id);
    if (error) throw new Error(error.message);
    const outcomes = mine(await handleSourceHealth(f.source, false, d), [ops.id]);
    sent.push(outcomes.filter((o) => o.status === "sent").length);
    d.clock.advance(86_400_000);
  }
  assert.deepEqual(sent, [0, 0, 1, 0]);
  const sql = sqlClient();
  try {
    const [flag] = await sql`select failing_alerted from public.sources where id = ${f.source.id}`;
    assert.equal(flag?.failing_alerted, true);
    await sql`update public.sources set consecutive_failures = 0 where id = ${f.source.id}`;
  } finally {
    await sql.end();
  }
  const recovered = mine(await handleSourceHealth(f.source, true, d), [ops.id]);
  assert.deepEqual(recovered.map((o) => [o.kind, o.status]), [["source_recovered", "sent"]]);
  assert.deepEqual(await handleSourceHealth(f.source, true, d), []);
  assert.deepEqual(hooks.requests.map((r) => r.path), ["/ops", "/ops"]);
  assert.deepEqual(
    hooks.bodies().map((b) => (b as { event: string }).event),
    ["source_failing", "source_recovered"],
  );
  const rows = await alertRows(db, "source_id", f.source.id);
  assert.deepEqual(
    rows.filter((r) => r.subscription_id === ops.id).map((r) => r.kind).sort(),
    ["source_failing", "source_recovered"],
  );
});

Deno.test("deliverOperationalAlert() queues a run_missed event once per event key", async () => {
  const db = await serviceDb();
  await using f = await fixture(db);
  await using hooks = startAlertSink();
  const ops = await f.subscribe({ target: `${hooks.url}/ops`, operational_alerts: true });
  const event = {
    kind: "run_missed" as const,
    event_key: `run_missed:test:${crypto.randomUUID()}`,
    source_id: f.source.id,
    payload: { job_name: "daily-fetch" },
  };
  const d = deps(db);
  assert.deepEqual(mine(await deliverOperationalAlert(event, d), [ops.id]).map((o) => o.status), [
    "sent",
  ]);
  assert.deepEqual(mine(await deliverOperationalAlert(event, d), [ops.id]).map((o) => o.status), [
    "skipped",
  ]);
  assert.equal(hooks.requests.length, 1);
});
