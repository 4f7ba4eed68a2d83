/**
 * The alert engine on the real outbox: every case runs the engine against the local
 * stack's Postgres through the real store, scoped to the test's own subscriptions and on
 * a clock ahead of real time (tests/integration/alerts/_alert_harness.ts), delivering to
 * real loopback sinks. Faults are injected by wrapping the real store.
 * @module
 */
import assert from "node:assert/strict";
import {
  bindAlertEngine,
  deliverAlerts,
  deliverOperationalAlert,
  handleSourceHealth,
  retryPendingAlerts,
} from "../../../shared/alerts/engine.ts";
import { verifyWebhookSignature } from "../../../shared/alerts/signature.ts";
import type { AlertOutcome } from "../../../shared/alerts/types.ts";
import { assertSignedWith, startAlertSink } from "../../fixtures/alert_sinks.ts";
import { type AlertHarness, alertHarness, type HarnessDeps } from "./_alert_harness.ts";

const SECRET = "whsec_subscriber_secret_0001";

function statuses(outcomes: AlertOutcome[]): string[] {
  return outcomes.map((o) => o.status).sort();
}

/** Asserts that no alert is due any more, even a day later. */
async function assertNothingDueADayLater(deps: HarnessDeps): Promise<void> {
  deps.clock.advance(86_400_000);
  assert.deepEqual(await retryPendingAlerts(deps), []);
}

/** A source, a change of it, and an unrelated source. */
async function world(h: AlertHarness) {
  const source = await h.source();
  const other = await h.source({
    name: `Other rules ${crypto.randomUUID().slice(0, 8)}`,
    url: `https://other.example/rules-${crypto.randomUUID().slice(0, 8)}`,
  });
  const change = await h.change(source.id);
  return { source, other, change };
}

Deno.test("deliverAlerts() reaches every covering subscription once; a second run sends nothing more", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  await using slack = startAlertSink();
  await using email = startAlertSink();
  const { source, other, change } = await world(h);
  const subs = {
    webhook: await h.subscribe({
      source_id: source.id,
      target: `${hooks.url}/hook`,
      secret: SECRET,
    }),
    slack: await h.subscribe({ channel: "slack", target: `${slack.url}/services/T/B/X` }),
    email: await h.subscribe({
      source_id: source.id,
      channel: "email",
      target: "ops@example.test",
    }),
    otherSource: await h.subscribe({ source_id: other.id, target: `${hooks.url}/other` }),
    inactive: await h.subscribe({ active: false, target: `${hooks.url}/inactive` }),
  };
  const deps = h.deps({ EMAIL_API_URL: `${email.url}/emails` });

  const first = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(first), ["sent", "sent", "sent"]);
  assert.deepEqual(
    first.map((o) => o.subscription_id).sort(),
    [subs.webhook.id, subs.slack.id, subs.email.id].sort(),
  );
  assert.deepEqual(hooks.requests.map((r) => r.path), ["/hook"]);
  assert.equal(slack.requests.length, 1);
  assert.deepEqual(email.requests.map((r) => r.path), ["/emails"]);
  const rows = await h.rows();
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.status, "sent");
    assert.equal(row.attempts, 1);
    assert.deepEqual(row.sent_at, deps.clock());
  }

  const second = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(second), ["skipped", "skipped", "skipped"]);
  assert.ok(second.every((o) => o.error === "already sent"));
  assert.deepEqual(await retryPendingAlerts(deps), []);
  assert.equal(hooks.requests.length + slack.requests.length + email.requests.length, 3);
  assert.equal((await h.rows()).length, 3);
});

Deno.test("deliverAlerts() retries a failing sink on a later call while the others are delivered", async () => {
  await using h = await alertHarness();
  await using ok1 = startAlertSink();
  await using ok2 = startAlertSink();
  await using flaky = startAlertSink(500);
  const { change } = await world(h);
  for (const sink of [ok1, ok2, flaky]) await h.subscribe({ target: `${sink.url}/hook` });
  const deps = h.deps();

  const first = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(first), ["failed", "sent", "sent"]);
  const failed = first.find((o) => o.status === "failed")!;
  assert.match(
    failed.error!,
    /^Cannot deliver alert [\w-]+ by webhook: HTTP 500 from http:\/\/127/,
  );
  assert.equal(failed.http_status, 500);

  assert.deepEqual(await retryPendingAlerts(deps), [], "not due before its backoff");
  deps.clock.advance(59_000);
  assert.deepEqual(await retryPendingAlerts(deps), []);
  assert.equal(flaky.requests.length, 1);

  deps.clock.advance(2_000);
  flaky.respondWith(200);
  const retried = await retryPendingAlerts(deps);
  assert.deepEqual(retried.map((o) => [o.alert_id, o.status, o.attempts]), [
    [failed.alert_id, "sent", 2],
  ]);
  assert.equal(flaky.requests.length, 2);
  assert.equal(ok1.requests.length + ok2.requests.length, 2, "delivered ones are not resent");
  assert.equal(
    flaky.requests[0]!.headers.get("x-alert-id"),
    flaky.requests[1]!.headers.get("x-alert-id"),
    "a retry carries the same idempotency id",
  );
});

Deno.test("retryPendingAlerts() backs off exponentially and reports an alert dead after the last attempt", async () => {
  await using h = await alertHarness();
  await using down = startAlertSink(503);
  const { change } = await world(h);
  await h.subscribe({ target: `${down.url}/hook` });
  const deps = h.deps({ ALERT_MAX_ATTEMPTS: 3 });
  const nextIn = async () =>
    (await h.rows())[0]!.next_attempt_at.getTime() - deps.clock().getTime();

  assert.deepEqual(statuses(await deliverAlerts(change, deps)), ["failed"]);
  assert.equal(await nextIn(), 60_000);
  deps.clock.advance(60_000);
  assert.deepEqual(statuses(await retryPendingAlerts(deps)), ["failed"]);
  assert.equal(await nextIn(), 120_000);
  deps.clock.advance(120_000);
  const last = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(last), ["dead"]);
  assert.match(last[0]!.error!, /HTTP 503 .*\(gave up after 3 attempts\)$/);
  assert.equal((await h.rows())[0]!.status, "dead");
  assert.equal(deps.logger.records.filter((r) => r.level === "error").length, 1);

  await assertNothingDueADayLater(deps);
  assert.equal(down.requests.length, 3);
});

Deno.test("deliverAlerts() gives up at once on a 4xx refusal but retries 429 after its Retry-After", async () => {
  await using h = await alertHarness();
  await using gone = startAlertSink(410);
  await using busy = startAlertSink(() =>
    new Response("busy", { status: 429, headers: { "retry-after": "600" } })
  );
  const { change } = await world(h);
  const refused = await h.subscribe({ target: `${gone.url}/hook` });
  const throttled = await h.subscribe({ target: `${busy.url}/hook` });
  const deps = h.deps();

  const outcomes = await deliverAlerts(change, deps);
  const byTarget = new Map(outcomes.map((o) => [o.subscription_id, o]));
  assert.equal(byTarget.get(refused.id)?.status, "dead");
  assert.equal(byTarget.get(refused.id)?.attempts, 1);
  assert.equal(byTarget.get(throttled.id)?.status, "failed");
  const row = (await h.rows()).find((a) => a.subscription_id === throttled.id)!;
  assert.equal(row.next_attempt_at.getTime() - deps.clock().getTime(), 600_000);
});

Deno.test("signed webhooks verify with the subscription's secret, not another, and cover the timestamp", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { source, change } = await world(h);
  await h.subscribe({ target: `${hooks.url}/hook`, secret: SECRET });
  const deps = h.deps();
  const [outcome] = await deliverAlerts(change, deps);
  assert.equal(outcome?.status, "sent");

  const req = hooks.requests[0]!;
  const now = deps.clock();
  await assertSignedWith(req, SECRET, now);
  const body = JSON.parse(req.body);
  assert.equal(body.timestamp, now.getTime() / 1000);
  const replayed = req.body.replace(
    `"timestamp":${body.timestamp}`,
    `"timestamp":${body.timestamp + 3600}`,
  );
  const headers = new Headers(req.headers);
  headers.set("x-signature-timestamp", String(body.timestamp + 3600));
  assert.equal(
    await verifyWebhookSignature(replayed, headers, SECRET, { now }),
    "signature does not match",
    "a receiver detects a changed timestamp",
  );
  assert.equal(req.headers.get("x-alert-id"), outcome?.alert_id);
  assert.equal(body.event, "policy_change");
  assert.deepEqual(body.source, { id: source.id, name: source.name, url: source.url });
  assert.equal(body.change.id, change.id);
  assert.equal(body.change.diff, change.diff);
});

Deno.test("two engines delivering the same change at once send each alert once", async () => {
  await using h = await alertHarness();
  let inFlight = 0;
  await using hooks = startAlertSink(async () => {
    inFlight++;
    await new Promise((r) => setTimeout(r, 10));
    inFlight--;
    return new Response("ok");
  });
  const { change } = await world(h);
  for (let i = 0; i < 3; i++) await h.subscribe({ target: `${hooks.url}/hook/${i}` });
  const [ra, rb] = await Promise.all([
    deliverAlerts(change, h.deps()),
    deliverAlerts(change, h.deps()),
  ]);
  const all = [...ra!, ...rb!];
  assert.equal(all.filter((o) => o.status === "sent").length, 3);
  assert.equal(all.filter((o) => o.status === "skipped").length, 3);
  assert.deepEqual(hooks.requests.map((r) => r.path).sort(), ["/hook/0", "/hook/1", "/hook/2"]);
  assert.equal(inFlight, 0);
});

Deno.test("a row left in sending by a crashed engine is sent again once its lease expires", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { change } = await world(h);
  await h.subscribe({ target: `${hooks.url}/hook` });
  const deps = h.deps();
  // The crashed engine queued and claimed the row, then died before sending.
  const [queued] = await h.store.enqueueChangeAlerts(change.id, deps.clock());
  const { claimed } = await h.store.claimAlerts({
    now: deps.clock(),
    leaseMs: 120_000,
    limit: 10,
    maxAttempts: 3,
    alertIds: null,
    excludeIds: [],
  });
  assert.equal(claimed.length, 1);

  assert.deepEqual(statuses(await deliverAlerts(change, deps)), ["skipped"]);
  assert.deepEqual(await retryPendingAlerts(deps), [], "another engine holds the lease");
  deps.clock.advance(120_000);
  const retried = await retryPendingAlerts(deps);
  assert.deepEqual(retried.map((o) => [o.alert_id, o.status, o.attempts]), [
    [queued!.id, "sent", 2],
  ]);
  assert.equal(hooks.requests.length, 1);
  assert.deepEqual(
    await h.store.finishAlert({
      id: queued!.id,
      attempt: 1,
      status: "failed",
      error: "late",
      nextAttemptAt: deps.clock(),
      now: deps.clock(),
    }),
    { recorded: false, reports: [] },
    "the crashed engine's late result cannot overwrite the newer attempt",
  );
  assert.equal((await h.rows())[0]!.status, "sent");
});

Deno.test("retryPendingAlerts() reports as dead a row whose sender died on the last attempt", async () => {
  await using h = await alertHarness();
  const { change } = await world(h);
  await h.subscribe();
  const deps = h.deps({ ALERT_MAX_ATTEMPTS: 1 });
  await h.store.enqueueChangeAlerts(change.id, deps.clock());
  await h.store.claimAlerts({
    now: deps.clock(),
    leaseMs: 60_000,
    limit: 10,
    maxAttempts: 1,
    alertIds: null,
    excludeIds: [],
  });
  deps.clock.advance(60_000);
  const outcomes = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(outcomes), ["dead"]);
  assert.match(outcomes[0]!.error!, /stopped before recording a result/);
  assert.equal((await h.rows())[0]!.status, "dead");
});

Deno.test("deliverAlerts() sends at most ALERT_CONCURRENCY requests at a time", async () => {
  await using h = await alertHarness();
  let inFlight = 0;
  let maxInFlight = 0;
  let arrived = 0;
  const waiting: (() => void)[] = [];
  const total = 6;
  await using hooks = startAlertSink(async () => {
    inFlight++;
    arrived++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Hold requests until two are in flight (or the rest cannot make two), then release.
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (waiting.length === 2 || arrived === total) waiting.splice(0).forEach((r) => r());
    });
    inFlight--;
    return new Response("ok");
  });
  const { change } = await world(h);
  for (let i = 0; i < total; i++) await h.subscribe({ target: `${hooks.url}/hook/${i}` });
  const deps = h.deps({ ALERT_CONCURRENCY: 2 });
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), Array(total).fill("sent"));
  assert.equal(maxInFlight, 2);
});

Deno.test("deliverAlerts() sends the rows queued with the change without queueing them again", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { change } = await world(h);
  await h.subscribe({ target: `${hooks.url}/hook`, secret: SECRET });
  const deps = h.deps();
  // What record_snapshot's p_queue_alerts answers: the change's rows, queued with it.
  const queued = await h.store.enqueueChangeAlerts(change.id, deps.clock());
  assert.equal(queued.length, 1);
  // A queueing request would fail: none is made.
  h.store.failNext("enqueueChangeAlerts", new Error("no request expected"));
  const outcomes = await deliverAlerts(change, deps, queued);
  assert.deepEqual(outcomes.map((o) => [o.alert_id, o.status]), [[queued[0]!.id, "sent"]]);
  assert.equal(hooks.requests.length, 1);
  await assertSignedWith(hooks.requests[0]!, SECRET, deps.clock());
  // The failure armed above is still pending: deliverAlerts without rows queues, and fails.
  const unqueued = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(unqueued), ["failed"]);
  await assertNothingDueADayLater(deps);
});

Deno.test("the engine reports store failures as outcomes instead of throwing", async (t) => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { change } = await world(h);
  await h.subscribe({ target: `${hooks.url}/hook` });
  const reset = () => new Error("connection reset");

  await t.step("queueing", async () => {
    h.store.failNext("enqueueChangeAlerts", reset());
    const outcomes = await deliverAlerts(change, h.deps());
    assert.deepEqual(outcomes, [{
      alert_id: null,
      subscription_id: null,
      channel: null,
      kind: "policy_change",
      status: "failed",
      error: `Cannot queue alerts of policy change ${change.id}: connection reset`,
    }]);
  });
  await t.step("claiming due alerts", async () => {
    h.store.failNext("claimAlerts", reset());
    const outcomes = await retryPendingAlerts(h.deps());
    assert.deepEqual(statuses(outcomes), ["failed"]);
    assert.equal(outcomes[0]!.error, "Cannot claim due alerts: connection reset");
  });
  await t.step("recording a result after the receiver accepted", async () => {
    h.store.failNext("finishAlert", reset());
    const outcomes = await deliverAlerts(change, h.deps());
    assert.deepEqual(statuses(outcomes), ["sent"], "it was sent: the job counts it");
    assert.match(outcomes[0]!.error!, /^Cannot record the result of alert .*: connection reset$/);
    assert.equal((await h.rows())[0]!.status, "sending", "left claimed until its lease expires");
  });
});

Deno.test("deliverAlerts() does not send to a subscription deactivated after its alert was queued", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink(500);
  const { change } = await world(h);
  const sub = await h.subscribe({ target: `${hooks.url}/hook` });
  // An operational subscriber: a deactivation is not a failure to report.
  await using ops = startAlertSink();
  await h.subscribe({ target: `${ops.url}/ops`, operational_alerts: true });
  const deps = h.deps();
  assert.deepEqual(
    (await deliverAlerts(change, deps)).filter((o) => o.subscription_id === sub.id).map((o) =>
      o.status
    ),
    ["failed"],
  );
  await h.setActive(sub.id, false);
  deps.clock.advance(3_600_000);
  const outcomes = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(outcomes), ["dead"]);
  assert.match(outcomes[0]!.error!, /subscription is no longer active/);
  assert.equal(hooks.requests.length, 1);
  assert.ok(
    ops.requests.every((r) => r.headers.get("x-alert-event") !== "alert_dead"),
    "not reported",
  );
});

Deno.test("retryPendingAlerts() gives up on an alert whose policy change is gone", async (t) => {
  await using h = await alertHarness();
  await using hooks = startAlertSink(500);
  const { source } = await world(h);
  await h.subscribe({ target: `${hooks.url}/hook` });
  const deps = h.deps();

  await t.step("deleted while the alert was in flight: given up, nothing sent", async () => {
    const change = await h.change(source.id);
    await deliverAlerts(change, deps);
    deps.clock.advance(3_600_000);
    // The change is deleted between the claim and the engine's read of it.
    h.store.beforeNext("getPolicyChanges", () => h.deleteChange(change.id));
    const outcomes = await retryPendingAlerts(deps);
    assert.deepEqual(statuses(outcomes), ["dead"]);
    assert.match(outcomes[0]!.error!, /no longer exists/);
    assert.equal(hooks.requests.length, 1, "only the first attempt was sent");
  });
  await t.step("deleted before a retry: its alerts went with it", async () => {
    const change = await h.change(source.id);
    await deliverAlerts(change, deps);
    await h.deleteChange(change.id);
    deps.clock.advance(3_600_000);
    assert.deepEqual(await retryPendingAlerts(deps), []);
    assert.deepEqual(await h.rows(), [], "on delete cascade");
    assert.equal(hooks.requests.length, 2);
  });
});

Deno.test("alert errors and logs never contain a Slack webhook's secret path or the email key", async () => {
  await using h = await alertHarness();
  await using slack = startAlertSink(500);
  await using email = startAlertSink(500);
  const { change } = await world(h);
  await h.subscribe({
    channel: "slack",
    target: `${slack.url}/services/T0001/B0001/SeCrEtPaTh`,
  });
  await h.subscribe({ channel: "email", target: "ops@example.test" });
  const deps = h.deps({ EMAIL_API_URL: `${email.url}/emails` });
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), ["failed", "failed"]);
  assert.equal(email.requests[0]?.headers.get("authorization"), "Bearer re_test_key_123456");
  const visible = JSON.stringify([outcomes, deps.logger.records, await h.rows()]);
  assert.ok(!visible.includes("SeCrEtPaTh"));
  assert.ok(!visible.includes("re_test_key_123456"));
});

Deno.test("handleSourceHealth() sends one failing alert at the threshold, none after, one on recovery", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { source, other } = await world(h);
  await h.subscribe({ operational_alerts: true, target: `${hooks.url}/all` });
  await h.subscribe({
    source_id: source.id,
    operational_alerts: true,
    target: `${hooks.url}/mine`,
  });
  await h.subscribe({ source_id: source.id, target: `${hooks.url}/changes-only` });
  await h.subscribe({
    source_id: other.id,
    operational_alerts: true,
    target: `${hooks.url}/other`,
  });
  const deps = h.deps({ ALERT_FAILING_THRESHOLD: 3 });

  const sentPerRun: number[] = [];
  for (let run = 1; run <= 5; run++) {
    // The job records the failure before asking for alerts.
    await h.setSource(source.id, {
      consecutive_failures: run,
      last_error: "HTTP 503 from www.gov.example",
      last_error_class: "http_5xx",
    });
    const outcomes = await handleSourceHealth(source, false, deps);
    sentPerRun.push(outcomes.filter((o) => o.status === "sent").length);
    deps.clock.advance(86_400_000);
  }
  assert.deepEqual(sentPerRun, [0, 0, 2, 0, 0]);
  assert.deepEqual(hooks.requests.map((r) => r.path).sort(), ["/all", "/mine"]);
  const failing = hooks.bodies()[0] as { event: string; details: Record<string, unknown> };
  assert.equal(failing.event, "source_failing");
  assert.equal(failing.details.consecutive_failures, 3);
  assert.equal(failing.details.last_error_class, "http_5xx");
  assert.equal(await h.failingAlerted(source.id), true);

  await h.setSource(source.id, { consecutive_failures: 0 });
  const recovered = await handleSourceHealth(source, true, deps);
  assert.deepEqual(statuses(recovered), ["sent", "sent"]);
  assert.ok(recovered.every((o) => o.kind === "source_recovered"));
  assert.deepEqual(await handleSourceHealth(source, true, deps), [], "only once");
  assert.equal(await h.failingAlerted(source.id), false);
  assert.deepEqual(
    hooks.bodies().slice(2).map((b) => (b as { event: string }).event),
    ["source_recovered", "source_recovered"],
  );

  // A new streak alerts again.
  await h.setSource(source.id, { consecutive_failures: 3 });
  assert.deepEqual(statuses(await handleSourceHealth(source, false, deps)), ["sent", "sent"]);
});

Deno.test("deliverOperationalAlert() sends a run_missed event once per event key to operational subscriptions", async () => {
  await using h = await alertHarness();
  await using hooks = startAlertSink();
  const { source } = await world(h);
  await h.subscribe({ operational_alerts: true, target: `${hooks.url}/all` });
  await h.subscribe({
    source_id: source.id,
    operational_alerts: true,
    target: `${hooks.url}/one`,
  });
  await h.subscribe({ target: `${hooks.url}/changes-only` });
  const deps = h.deps();
  const event = {
    kind: "run_missed" as const,
    event_key: `run_missed:daily-fetch:2026-11-28:${crypto.randomUUID()}`,
    source_id: null,
    payload: { job_name: "daily-fetch", expected_at: "2026-11-28T02:00:00Z" },
  };
  assert.deepEqual(statuses(await deliverOperationalAlert(event, deps)), ["sent", "sent"]);
  assert.deepEqual(statuses(await deliverOperationalAlert(event, deps)), ["skipped", "skipped"]);
  assert.deepEqual(hooks.requests.map((r) => r.path).sort(), ["/all", "/one"]);
  const body = hooks.bodies()[0] as { event: string; source: unknown; text: string };
  assert.equal(body.event, "run_missed");
  assert.equal(body.source, null);
  assert.match(body.text, /did not start by 2026-11-28T02:00:00Z/);

  const bad = await deliverOperationalAlert({ ...event, event_key: "" }, deps);
  assert.deepEqual(statuses(bad), ["failed"]);
});

Deno.test("deliverAlerts() returns nothing for a change nobody subscribed to", async () => {
  await using h = await alertHarness();
  const { change } = await world(h);
  assert.deepEqual(await deliverAlerts(change, h.deps()), []);
});

Deno.test("retryPendingAlerts() tries each row once per call, in batches, up to its cap", async () => {
  await using h = await alertHarness();
  await using down = startAlertSink(500);
  const { change } = await world(h);
  for (let i = 0; i < 5; i++) await h.subscribe({ target: `${down.url}/hook/${i}` });
  // No backoff: without the exclusion a failed row would be claimed again at once.
  const deps = h.deps({
    ALERT_BACKOFF_BASE_MS: 0,
    ALERT_MAX_ATTEMPTS: 10,
    ALERT_BATCH_SIZE: 2,
    ALERT_RETRY_MAX_PER_CALL: 4,
  });
  await h.store.enqueueChangeAlerts(change.id, deps.clock());
  const outcomes = await retryPendingAlerts(deps);
  assert.equal(outcomes.length, 4);
  assert.equal(new Set(outcomes.map((o) => o.alert_id)).size, 4);
  assert.equal(down.requests.length, 4);
  const again = await retryPendingAlerts(deps);
  assert.equal(again.length, 4, "the next call continues with due rows");
  assert.ok(again.some((o) => outcomes.every((p) => p.alert_id !== o.alert_id)));
});

Deno.test("bindAlertEngine() shares one concurrency limit across concurrent deliveries", async () => {
  await using h = await alertHarness();
  let inFlight = 0;
  let maxInFlight = 0;
  await using hooks = startAlertSink(async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return new Response("ok");
  });
  const { source } = await world(h);
  const changes = [
    await h.change(source.id),
    await h.change(source.id),
    await h.change(source.id),
  ];
  for (let i = 0; i < 2; i++) await h.subscribe({ target: `${hooks.url}/hook/${i}` });
  const engine = bindAlertEngine(h.deps({ ALERT_CONCURRENCY: 1 }));
  const results = await Promise.all(changes.map((c) => engine.deliver(c)));
  assert.deepEqual(statuses(results.flat()), Array(6).fill("sent"));
  assert.equal(maxInFlight, 1, "three calls together still send one at a time");
});

Deno.test("deliverAlerts() does not send a claimed alert whose lease ran out while it waited", async () => {
  await using h = await alertHarness();
  const { change } = await world(h);
  const deps = h.deps({ ALERT_CONCURRENCY: 1, ALERT_LEASE_MS: 1_000 });
  // Each request takes longer (by the manual clock) than the whole claim's lease.
  await using slow = startAlertSink(() => {
    deps.clock.advance(600_000);
    return new Response("ok");
  });
  for (let i = 0; i < 3; i++) await h.subscribe({ target: `${slow.url}/hook/${i}` });
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), ["failed", "failed", "sent"]);
  assert.ok(
    outcomes.filter((o) => o.status === "failed").every((o) => /claim ran out/.test(o.error!)),
  );
  assert.equal(slow.requests.length, 1, "another engine may own those rows by now");
  deps.clock.advance(3_600_000);
  assert.deepEqual(statuses(await retryPendingAlerts(deps)), ["failed", "sent"]);
});

Deno.test("an alert given up by retryPendingAlerts() is reported to the operational subscribers in the same call", async () => {
  await using h = await alertHarness();
  await using down = startAlertSink(503);
  await using ops = startAlertSink();
  const { source, change } = await world(h);
  const bad = await h.subscribe({
    source_id: source.id,
    target: `${down.url}/hook`,
    operational_alerts: true,
  });
  const watcher = await h.subscribe({ operational_alerts: true, target: `${ops.url}/ops` });
  await h.subscribe({ target: `${ops.url}/changes-only` });
  const deps = h.deps({ ALERT_MAX_ATTEMPTS: 2 });

  const first = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(first), ["failed", "sent", "sent"]);
  assert.equal(
    ops.requests.filter((r) => r.headers.get("x-alert-event") === "alert_dead").length,
    0,
  );
  deps.clock.advance(60_000);
  const pass = await retryPendingAlerts(deps);
  const dead = pass.find((o) => o.subscription_id === bad.id);
  assert.equal(dead?.status, "dead");
  assert.deepEqual(
    pass.filter((o) => o.kind === "alert_dead").map((o) => [o.subscription_id, o.status]),
    [[watcher.id, "sent"]],
    "one report, to the other operational subscriber, sent in the same call",
  );
  const report = ops.requests.find((r) => r.headers.get("x-alert-event") === "alert_dead")!;
  assert.equal(report.path, "/ops");
  const body = JSON.parse(report.body);
  assert.equal(body.details.alert_id, dead!.alert_id);
  assert.equal(body.details.attempts, 2);
  assert.match(body.title, /^Alert given up: /);
  assert.equal(down.requests.length, 2, "the receiver that is down gets no report");
  assert.ok(
    deps.logger.records.some((r) => r.level === "warn" && /alert_dead reports queued/.test(r.text)),
  );
  // Nothing more on the next calls.
  await assertNothingDueADayLater(deps);
  assert.equal(ops.requests.length, 3);
});

Deno.test("a report that cannot be delivered is retried like any alert and, given up, not reported again", async () => {
  await using h = await alertHarness();
  await using down = startAlertSink(503);
  const { change } = await world(h);
  await h.subscribe({ target: `${down.url}/a`, operational_alerts: true });
  await h.subscribe({ target: `${down.url}/b`, operational_alerts: true });
  const deps = h.deps({ ALERT_MAX_ATTEMPTS: 1 });
  // Both policy-change alerts die at once; each is reported to the other, which is down too.
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(
    outcomes.map((o) => [o.kind, o.status]).sort(),
    [["alert_dead", "dead"], ["alert_dead", "dead"], ["policy_change", "dead"], [
      "policy_change",
      "dead",
    ]],
  );
  const rows = await h.rows();
  assert.equal(rows.length, 4, "no report of a report");
  assert.equal(down.requests.length, 4);
  await assertNothingDueADayLater(deps);
});

Deno.test("retryPendingAlerts() claims no new batch once it ran ALERT_PASS_WALL_MS; the next call goes on", async () => {
  await using h = await alertHarness();
  const { change } = await world(h);
  const deps = h.deps({
    ALERT_CONCURRENCY: 1,
    ALERT_BATCH_SIZE: 2,
    ALERT_PASS_WALL_MS: 50_000,
    ALERT_TIMEOUT_MS: 5_000,
  });
  // Each request takes 30 s by the engine's clock: one batch of two is 60 s.
  await using slow = startAlertSink(() => {
    deps.clock.advance(30_000);
    return new Response("ok");
  });
  for (let i = 0; i < 5; i++) await h.subscribe({ target: `${slow.url}/hook/${i}` });
  await h.store.enqueueChangeAlerts(change.id, deps.clock());
  const first = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(first), ["sent", "sent"], "one batch, then the time is up");
  const second = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(second), ["sent", "sent"]);
  const third = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(third), ["sent"]);
  assert.equal(slow.requests.length, 5);
  assert.ok((await h.rows()).every((r) => r.status === "sent"));
});
