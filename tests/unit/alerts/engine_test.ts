import assert from "node:assert/strict";
import {
  bindAlertEngine,
  deliverAlerts,
  deliverOperationalAlert,
  handleSourceHealth,
  retryPendingAlerts,
} from "../../../shared/alerts/engine.ts";
import { verifyWebhookSignature } from "../../../shared/alerts/signature.ts";
import type { AlertOutcome, AlertStore } from "../../../shared/alerts/types.ts";
import {
  makeChange,
  makeDeps,
  makeSource,
  makeSubscription,
  MemoryAlertStore,
} from "../../fixtures/alert_data.ts";
import { startAlertSink } from "../../fixtures/alert_sinks.ts";

const SECRET = "whsec_subscriber_secret_0001";

function statuses(outcomes: AlertOutcome[]): string[] {
  return outcomes.map((o) => o.status).sort();
}

/** A source, a change of it, and an empty store holding both plus an unrelated source. */
function world() {
  const source = makeSource();
  const other = makeSource({ name: "Other rules", url: "https://other.example/rules" });
  const change = makeChange(source.id);
  const store = new MemoryAlertStore({ sources: [source, other], changes: [change] });
  return { source, other, change, store };
}

Deno.test("deliverAlerts() reaches every covering subscription once; a second run sends nothing more", async () => {
  await using hooks = startAlertSink();
  await using slack = startAlertSink();
  await using email = startAlertSink();
  const { source, other, change, store } = world();
  const subs = {
    webhook: makeSubscription({
      source_id: source.id,
      target: `${hooks.url}/hook`,
      secret: SECRET,
    }),
    slack: makeSubscription({ channel: "slack", target: `${slack.url}/services/T/B/X` }),
    email: makeSubscription({ source_id: source.id, channel: "email", target: "ops@example.test" }),
    otherSource: makeSubscription({ source_id: other.id, target: `${hooks.url}/other` }),
    inactive: makeSubscription({ active: false, target: `${hooks.url}/inactive` }),
  };
  for (const s of Object.values(subs)) store.subscriptions.set(s.id, s);
  const deps = makeDeps(store, { EMAIL_API_URL: `${email.url}/emails` });

  const first = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(first), ["sent", "sent", "sent"]);
  assert.deepEqual(
    first.map((o) => o.subscription_id).sort(),
    [subs.webhook.id, subs.slack.id, subs.email.id].sort(),
  );
  assert.deepEqual(hooks.requests.map((r) => r.path), ["/hook"]);
  assert.equal(slack.requests.length, 1);
  assert.deepEqual(email.requests.map((r) => r.path), ["/emails"]);
  assert.equal(store.alerts.length, 3);
  for (const row of store.alerts) {
    assert.equal(row.status, "sent");
    assert.equal(row.attempts, 1);
    assert.deepEqual(row.sent_at, deps.clock());
  }

  const second = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(second), ["skipped", "skipped", "skipped"]);
  assert.ok(second.every((o) => o.error === "already sent"));
  assert.deepEqual(await retryPendingAlerts(deps), []);
  assert.equal(hooks.requests.length + slack.requests.length + email.requests.length, 3);
  assert.equal(store.alerts.length, 3);
});

Deno.test("deliverAlerts() retries a failing sink on a later call while the others are delivered", async () => {
  await using ok1 = startAlertSink();
  await using ok2 = startAlertSink();
  await using flaky = startAlertSink(500);
  const { change, store } = world();
  for (const sink of [ok1, ok2, flaky]) {
    const s = makeSubscription({ target: `${sink.url}/hook` });
    store.subscriptions.set(s.id, s);
  }
  const deps = makeDeps(store);

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
  await using down = startAlertSink(503);
  const { change, store } = world();
  const sub = makeSubscription({ target: `${down.url}/hook` });
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store, { ALERT_MAX_ATTEMPTS: 3 });

  assert.deepEqual(statuses(await deliverAlerts(change, deps)), ["failed"]);
  const row = store.alerts[0]!;
  assert.equal(row.next_attempt_at.getTime() - deps.clock().getTime(), 60_000);
  deps.clock.advance(60_000);
  assert.deepEqual(statuses(await retryPendingAlerts(deps)), ["failed"]);
  assert.equal(row.next_attempt_at.getTime() - deps.clock().getTime(), 120_000);
  deps.clock.advance(120_000);
  const last = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(last), ["dead"]);
  assert.match(last[0]!.error!, /HTTP 503 .*\(gave up after 3 attempts\)$/);
  assert.equal(row.status, "dead");
  assert.equal(deps.logger.records.filter((r) => r.level === "error").length, 1);

  deps.clock.advance(86_400_000);
  assert.deepEqual(await retryPendingAlerts(deps), []);
  assert.equal(down.requests.length, 3);
});

Deno.test("deliverAlerts() gives up at once on a 4xx refusal but retries 429 after its Retry-After", async () => {
  await using gone = startAlertSink(410);
  await using busy = startAlertSink(() =>
    new Response("busy", { status: 429, headers: { "retry-after": "600" } })
  );
  const { change, store } = world();
  const refused = makeSubscription({ target: `${gone.url}/hook` });
  const throttled = makeSubscription({ target: `${busy.url}/hook` });
  store.subscriptions.set(refused.id, refused);
  store.subscriptions.set(throttled.id, throttled);
  const deps = makeDeps(store);

  const outcomes = await deliverAlerts(change, deps);
  const byTarget = new Map(outcomes.map((o) => [o.subscription_id, o]));
  assert.equal(byTarget.get(refused.id)?.status, "dead");
  assert.equal(byTarget.get(refused.id)?.attempts, 1);
  assert.equal(byTarget.get(throttled.id)?.status, "failed");
  const row = store.alerts.find((a) => a.subscription_id === throttled.id)!;
  assert.equal(row.next_attempt_at.getTime() - deps.clock().getTime(), 600_000);
});

Deno.test("signed webhooks verify with the subscription's secret, not another, and cover the timestamp", async () => {
  await using hooks = startAlertSink();
  const { source, change, store } = world();
  const sub = makeSubscription({ target: `${hooks.url}/hook`, secret: SECRET });
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store);
  const [outcome] = await deliverAlerts(change, deps);
  assert.equal(outcome?.status, "sent");

  const req = hooks.requests[0]!;
  const now = deps.clock();
  assert.equal(await verifyWebhookSignature(req.body, req.headers, SECRET, { now }), null);
  assert.equal(
    await verifyWebhookSignature(req.body, req.headers, "another_secret_0000000", { now }),
    "signature does not match",
  );
  const body = JSON.parse(req.body);
  assert.equal(body.timestamp, now.getTime() / 1000);
  assert.equal(req.headers.get("x-signature-timestamp"), String(body.timestamp));
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
  let inFlight = 0;
  await using hooks = startAlertSink(async () => {
    inFlight++;
    await new Promise((r) => setTimeout(r, 10));
    inFlight--;
    return new Response("ok");
  });
  const { change, store } = world();
  for (let i = 0; i < 3; i++) {
    const s = makeSubscription({ target: `${hooks.url}/hook/${i}` });
    store.subscriptions.set(s.id, s);
  }
  const a = makeDeps(store);
  const b = makeDeps(store);
  const [ra, rb] = await Promise.all([deliverAlerts(change, a), deliverAlerts(change, b)]);
  const all = [...ra!, ...rb!];
  assert.equal(all.filter((o) => o.status === "sent").length, 3);
  assert.equal(all.filter((o) => o.status === "skipped").length, 3);
  assert.deepEqual(hooks.requests.map((r) => r.path).sort(), ["/hook/0", "/hook/1", "/hook/2"]);
  assert.equal(inFlight, 0);
});

Deno.test("a row left in sending by a crashed engine is sent again once its lease expires", async () => {
  await using hooks = startAlertSink();
  const { change, store } = world();
  const sub = makeSubscription({ target: `${hooks.url}/hook` });
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store);
  // The crashed engine queued and claimed the row, then died before sending.
  const [queued] = await store.enqueueChangeAlerts(change.id, deps.clock());
  const { claimed } = await store.claimAlerts({
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
    await store.finishAlert({
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
  assert.equal(store.alerts[0]!.status, "sent");
});

Deno.test("retryPendingAlerts() reports as dead a row whose sender died on the last attempt", async () => {
  const { change, store } = world();
  const sub = makeSubscription();
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store, { ALERT_MAX_ATTEMPTS: 1 });
  await store.enqueueChangeAlerts(change.id, deps.clock());
  await store.claimAlerts({
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
  assert.equal(store.alerts[0]!.status, "dead");
});

Deno.test("deliverAlerts() sends at most ALERT_CONCURRENCY requests at a time", async () => {
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
  const { change, store } = world();
  for (let i = 0; i < total; i++) {
    const s = makeSubscription({ target: `${hooks.url}/hook/${i}` });
    store.subscriptions.set(s.id, s);
  }
  const deps = makeDeps(store, { ALERT_CONCURRENCY: 2 });
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), Array(total).fill("sent"));
  assert.equal(maxInFlight, 2);
});

Deno.test("the engine reports store failures as outcomes instead of throwing", async (t) => {
  await using hooks = startAlertSink();
  const { change, store } = world();
  const sub = makeSubscription({ target: `${hooks.url}/hook` });
  store.subscriptions.set(sub.id, sub);

  function failing(method: keyof AlertStore): AlertStore {
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === method) return () => Promise.reject(new Error("connection reset"));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  await t.step("queueing", async () => {
    const deps = { ...makeDeps(store), store: failing("enqueueChangeAlerts") };
    const outcomes = await deliverAlerts(change, deps);
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
    const deps = { ...makeDeps(store), store: failing("claimAlerts") };
    const outcomes = await retryPendingAlerts(deps);
    assert.deepEqual(statuses(outcomes), ["failed"]);
    assert.equal(outcomes[0]!.error, "Cannot claim due alerts: connection reset");
  });
  await t.step("recording a result after the receiver accepted", async () => {
    const deps = { ...makeDeps(store), store: failing("finishAlert") };
    const outcomes = await deliverAlerts(change, deps);
    assert.deepEqual(statuses(outcomes), ["sent"], "it was sent: the job counts it");
    assert.match(outcomes[0]!.error!, /^Cannot record the result of alert .*: connection reset$/);
    assert.equal(store.alerts[0]!.status, "sending", "left claimed until its lease expires");
  });
});

Deno.test("deliverAlerts() does not send to a subscription deactivated after its alert was queued", async () => {
  await using hooks = startAlertSink(500);
  const { change, store } = world();
  const sub = makeSubscription({ target: `${hooks.url}/hook` });
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store);
  assert.deepEqual(statuses(await deliverAlerts(change, deps)), ["failed"]);
  sub.active = false;
  deps.clock.advance(3_600_000);
  const outcomes = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(outcomes), ["dead"]);
  assert.match(outcomes[0]!.error!, /subscription is no longer active/);
  assert.equal(hooks.requests.length, 1);
});

Deno.test("retryPendingAlerts() gives up on an alert whose policy change is gone", async () => {
  await using hooks = startAlertSink(500);
  const { change, store } = world();
  const sub = makeSubscription({ target: `${hooks.url}/hook` });
  store.subscriptions.set(sub.id, sub);
  const deps = makeDeps(store);
  await deliverAlerts(change, deps);
  store.changes.delete(change.id);
  deps.clock.advance(3_600_000);
  const outcomes = await retryPendingAlerts(deps);
  assert.deepEqual(statuses(outcomes), ["dead"]);
  assert.match(outcomes[0]!.error!, /no longer exists/);
});

Deno.test("alert errors and logs never contain a Slack webhook's secret path or the email key", async () => {
  await using slack = startAlertSink(500);
  await using email = startAlertSink(500);
  const { change, store } = world();
  const slackSub = makeSubscription({
    channel: "slack",
    target: `${slack.url}/services/T0001/B0001/SeCrEtPaTh`,
  });
  const emailSub = makeSubscription({ channel: "email", target: "ops@example.test" });
  store.subscriptions.set(slackSub.id, slackSub);
  store.subscriptions.set(emailSub.id, emailSub);
  const deps = makeDeps(store, { EMAIL_API_URL: `${email.url}/emails` });
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), ["failed", "failed"]);
  assert.equal(email.requests[0]?.headers.get("authorization"), "Bearer re_test_key_123456");
  const visible = JSON.stringify([outcomes, deps.logger.records, store.alerts]);
  assert.ok(!visible.includes("SeCrEtPaTh"));
  assert.ok(!visible.includes("re_test_key_123456"));
});

Deno.test("handleSourceHealth() sends one failing alert at the threshold, none after, one on recovery", async () => {
  await using hooks = startAlertSink();
  const { source, other, store } = world();
  const subs = [
    makeSubscription({ operational_alerts: true, target: `${hooks.url}/all` }),
    makeSubscription({
      source_id: source.id,
      operational_alerts: true,
      target: `${hooks.url}/mine`,
    }),
    makeSubscription({ source_id: source.id, target: `${hooks.url}/changes-only` }),
    makeSubscription({
      source_id: other.id,
      operational_alerts: true,
      target: `${hooks.url}/other`,
    }),
  ];
  for (const s of subs) store.subscriptions.set(s.id, s);
  const deps = makeDeps(store, { ALERT_FAILING_THRESHOLD: 3 });
  const row = store.sources.get(source.id)!;

  const sentPerRun: number[] = [];
  for (let run = 1; run <= 5; run++) {
    // The job records the failure before asking for alerts.
    row.consecutive_failures = run;
    row.last_error = "HTTP 503 from www.gov.example";
    row.last_error_class = "http_5xx";
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
  assert.equal(row.failing_alerted, true);

  row.consecutive_failures = 0;
  const recovered = await handleSourceHealth(source, true, deps);
  assert.deepEqual(statuses(recovered), ["sent", "sent"]);
  assert.ok(recovered.every((o) => o.kind === "source_recovered"));
  assert.deepEqual(await handleSourceHealth(source, true, deps), [], "only once");
  assert.equal(row.failing_alerted, false);
  assert.deepEqual(
    hooks.bodies().slice(2).map((b) => (b as { event: string }).event),
    ["source_recovered", "source_recovered"],
  );

  // A new streak alerts again.
  row.consecutive_failures = 3;
  assert.deepEqual(statuses(await handleSourceHealth(source, false, deps)), ["sent", "sent"]);
});

Deno.test("deliverOperationalAlert() sends a run_missed event once per event key to operational subscriptions", async () => {
  await using hooks = startAlertSink();
  const { source, store } = world();
  for (
    const s of [
      makeSubscription({ operational_alerts: true, target: `${hooks.url}/all` }),
      makeSubscription({
        source_id: source.id,
        operational_alerts: true,
        target: `${hooks.url}/one`,
      }),
      makeSubscription({ target: `${hooks.url}/changes-only` }),
    ]
  ) store.subscriptions.set(s.id, s);
  const deps = makeDeps(store);
  const event = {
    kind: "run_missed" as const,
    event_key: "run_missed:daily-fetch:2026-11-28",
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
  const { change, store } = world();
  assert.deepEqual(await deliverAlerts(change, makeDeps(store)), []);
});

Deno.test("retryPendingAlerts() tries each row once per call, in batches, up to its cap", async () => {
  await using down = startAlertSink(500);
  const { change, store } = world();
  for (let i = 0; i < 5; i++) {
    const s = makeSubscription({ target: `${down.url}/hook/${i}` });
    store.subscriptions.set(s.id, s);
  }
  // No backoff: without the exclusion a failed row would be claimed again at once.
  const deps = makeDeps(store, {
    ALERT_BACKOFF_BASE_MS: 0,
    ALERT_MAX_ATTEMPTS: 10,
    ALERT_BATCH_SIZE: 2,
    ALERT_RETRY_MAX_PER_CALL: 4,
  });
  await store.enqueueChangeAlerts(change.id, deps.clock());
  const outcomes = await retryPendingAlerts(deps);
  assert.equal(outcomes.length, 4);
  assert.equal(new Set(outcomes.map((o) => o.alert_id)).size, 4);
  assert.equal(down.requests.length, 4);
  const again = await retryPendingAlerts(deps);
  assert.equal(again.length, 4, "the next call continues with due rows");
  assert.ok(again.some((o) => outcomes.every((p) => p.alert_id !== o.alert_id)));
});

Deno.test("bindAlertEngine() shares one concurrency limit across concurrent deliveries", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  await using hooks = startAlertSink(async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return new Response("ok");
  });
  const { source, store } = world();
  const changes = [makeChange(source.id), makeChange(source.id), makeChange(source.id)];
  for (const c of changes) store.changes.set(c.id, c);
  for (let i = 0; i < 2; i++) {
    const s = makeSubscription({ target: `${hooks.url}/hook/${i}` });
    store.subscriptions.set(s.id, s);
  }
  const engine = bindAlertEngine(makeDeps(store, { ALERT_CONCURRENCY: 1 }));
  const results = await Promise.all(changes.map((c) => engine.deliver(c)));
  assert.deepEqual(statuses(results.flat()), Array(6).fill("sent"));
  assert.equal(maxInFlight, 1, "three calls together still send one at a time");
});

Deno.test("deliverAlerts() does not send a claimed alert whose lease ran out while it waited", async () => {
  const { change, store } = world();
  const deps = makeDeps(store, { ALERT_CONCURRENCY: 1, ALERT_LEASE_MS: 1_000 });
  // Each request takes longer (by the manual clock) than the whole claim's lease.
  await using slow = startAlertSink(() => {
    deps.clock.advance(600_000);
    return new Response("ok");
  });
  for (let i = 0; i < 3; i++) {
    const s = makeSubscription({ target: `${slow.url}/hook/${i}` });
    store.subscriptions.set(s.id, s);
  }
  const outcomes = await deliverAlerts(change, deps);
  assert.deepEqual(statuses(outcomes), ["failed", "failed", "sent"]);
  assert.ok(
    outcomes.filter((o) => o.status === "failed").every((o) => /claim ran out/.test(o.error!)),
  );
  assert.equal(slow.requests.length, 1, "another engine may own those rows by now");
  deps.clock.advance(3_600_000);
  assert.deepEqual(statuses(await retryPendingAlerts(deps)), ["failed", "sent"]);
});
