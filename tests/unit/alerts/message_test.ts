import assert from "node:assert/strict";
import { buildAlertMessage, normaliseSummary } from "../../../shared/alerts/message.ts";
import { makeChange } from "../../fixtures/alert_data.ts";
import { claimedAlert } from "../../fixtures/alert_messages.ts";

Deno.test("buildAlertMessage() describes a policy change with its counts and first lines", () => {
  const alert = claimedAlert();
  const change = makeChange(alert.source!.id, {
    summary: { lines_added: 3, lines_removed: 1, first_changed_lines: ["a", "b"] },
  });
  const message = buildAlertMessage(alert, change);
  assert.equal(message.title, "Policy change: UK Skilled Worker visa rules");
  assert.deepEqual(message.lines, [
    "UK Skilled Worker visa rules changed: 3 lines added, 1 removed.",
    `Source: ${alert.source!.url}`,
    `Detected at: ${change.detected_at}`,
    "First changed lines:",
    "  a",
    "  b",
  ]);
  assert.equal(message.change?.diff, change.diff);
  assert.equal(message.details, null);
});

Deno.test("buildAlertMessage() refuses a policy_change alert whose change is gone", () => {
  assert.throws(() => buildAlertMessage(claimedAlert(), null), /no longer exists/);
});

Deno.test("buildAlertMessage() describes failing, recovered and missed-run events", () => {
  const failing = buildAlertMessage(
    claimedAlert({
      kind: "source_failing",
      payload: {
        consecutive_failures: 3,
        last_error: "HTTP 503 from www.gov.example",
        last_error_class: "http_5xx",
        last_success_at: null,
      },
    }),
    null,
  );
  assert.match(failing.title, /^Source failing: /);
  assert.ok(failing.lines.includes("Last error (http_5xx): HTTP 503 from www.gov.example"));
  assert.ok(failing.lines.includes("Last success: never"));
  assert.match(failing.lines[0]!, /has failed 3 consecutive checks\.$/);

  const recovered = buildAlertMessage(
    claimedAlert({ kind: "source_recovered", payload: { recovered_at: "2026-11-29T02:00:00Z" } }),
    null,
  );
  assert.ok(recovered.lines.includes("Recovered at: 2026-11-29T02:00:00Z"));

  const missed = buildAlertMessage(
    claimedAlert({
      kind: "run_missed",
      source: null,
      payload: { job_name: "daily-fetch", noticed_at: "2026-11-29T04:00:00Z", errors: ["no run"] },
    }),
    null,
  );
  assert.equal(missed.title, "Run missed: daily-fetch");
  assert.deepEqual(missed.lines, [
    "The scheduled daily-fetch run did not start.",
    "Noticed at: 2026-11-29T04:00:00Z",
    "no run",
  ]);
});

Deno.test("normaliseSummary() reads the column's default {} and bad values as zeros", () => {
  assert.deepEqual(normaliseSummary({}), {
    lines_added: 0,
    lines_removed: 0,
    first_changed_lines: [],
  });
  assert.deepEqual(normaliseSummary({ lines_added: "2", first_changed_lines: ["x", 3] }), {
    lines_added: 0,
    lines_removed: 0,
    first_changed_lines: ["x"],
  });
});

Deno.test("buildAlertMessage() describes an alert that was given up, with what to do", () => {
  const alertId = "6f1c0000-0000-4000-8000-000000000001";
  const dead = buildAlertMessage(
    claimedAlert({
      kind: "alert_dead",
      payload: {
        alert_id: alertId,
        alert_kind: "policy_change",
        subscription_id: "6f1c0000-0000-4000-8000-000000000002",
        channel: "webhook",
        attempts: 5,
        error: "Cannot deliver alert: HTTP 503 from hooks.example (gave up after 5 attempts)",
      },
    }),
    null,
  );
  assert.equal(dead.title, "Alert given up: UK Skilled Worker visa rules");
  assert.equal(
    dead.lines[0],
    "A policy change alert about UK Skilled Worker visa rules could not be delivered by " +
      "webhook and was given up after 5 attempts.",
  );
  assert.ok(dead.lines.includes(
    "Last error: Cannot deliver alert: HTTP 503 from hooks.example (gave up after 5 attempts)",
  ));
  assert.ok(
    dead.lines.includes(`Alert: ${alertId} (send it again: POST /api/alerts/${alertId}/retry)`),
  );
  assert.equal(dead.details?.alert_id, alertId);

  const sourceless = buildAlertMessage(
    claimedAlert({
      kind: "alert_dead",
      source: null,
      payload: { alert_kind: "run_missed", channel: "slack", attempts: 1 },
    }),
    null,
  );
  assert.equal(sourceless.title, "Alert given up: Run missed");
  assert.equal(
    sourceless.lines[0],
    "A run missed alert could not be delivered by slack and was given up after 1 attempt.",
  );
});
