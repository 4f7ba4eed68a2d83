import assert from "node:assert/strict";
import { webhookChannel } from "../../../../shared/alerts/channels/webhook.ts";
import { buildAlertMessage } from "../../../../shared/alerts/message.ts";
import { hmacSha256Hex } from "../../../../shared/alerts/signature.ts";
import { testAlertConfig } from "../../../fixtures/alert_data.ts";
import { changeMessage, claimedAlert } from "../../../fixtures/alert_messages.ts";
import { PermanentDeliveryError } from "../../../../shared/alerts/channels/channel.ts";

const NOW = new Date("2026-11-28T02:00:07.250Z");
const SECRET = "whsec_0123456789abcdef";

function context(signed: string[] = [], config = testAlertConfig()) {
  return {
    config,
    now: NOW,
    sign: async (body: string) => {
      signed.push(body);
      return await hmacSha256Hex(SECRET, body);
    },
  };
}

Deno.test("webhook channel posts the contract JSON with event, source and change", async () => {
  const { message, change, alert } = changeMessage();
  const delivery = await webhookChannel.render(message, alert.subscription, context());
  assert.equal(delivery.url, "https://hooks.example.test/receiver");
  const body = JSON.parse(delivery.body);
  assert.equal(body.event, "policy_change");
  assert.equal(body.alert_id, alert.id);
  assert.equal(body.timestamp, 1795831207);
  assert.deepEqual(body.source, alert.source);
  assert.deepEqual(body.change, {
    id: change.id,
    detected_at: change.detected_at,
    diff: change.diff,
    diff_truncated: false,
    summary: change.summary,
  });
  assert.equal(delivery.headers["content-type"], "application/json");
  assert.equal(delivery.headers["x-alert-id"], alert.id);
  assert.equal(delivery.headers["idempotency-key"], alert.id);
  assert.equal(delivery.headers["x-signature-timestamp"], "1795831207");
});

Deno.test("webhook channel signs the raw body, timestamp included, only when there is a secret", async () => {
  const { message, alert } = changeMessage();
  const unsigned = await webhookChannel.render(message, alert.subscription, context());
  assert.equal(unsigned.headers["x-signature-256"], undefined);

  const signed: string[] = [];
  const delivery = await webhookChannel.render(
    message,
    { ...alert.subscription, has_secret: true },
    context(signed),
  );
  assert.deepEqual(signed, [delivery.body], "the exact body sent is what was signed");
  assert.equal(
    delivery.headers["x-signature-256"],
    `sha256=${await hmacSha256Hex(SECRET, delivery.body)}`,
  );
  assert.equal(
    String(JSON.parse(delivery.body).timestamp),
    delivery.headers["x-signature-timestamp"],
  );
});

Deno.test("webhook channel caps a huge diff in UTF-8 bytes and says so", async () => {
  const diff = "+ règle 😀\n".repeat(200_000);
  const { message, alert } = changeMessage({ diff });
  const config = testAlertConfig({ ALERT_WEBHOOK_MAX_DIFF_BYTES: 100_000 });
  const delivery = await webhookChannel.render(message, alert.subscription, context([], config));
  const body = JSON.parse(delivery.body);
  assert.equal(body.change.diff_truncated, true);
  assert.ok(new TextEncoder().encode(body.change.diff).byteLength <= 100_000);
  assert.ok(body.change.diff.startsWith("+ règle 😀\n"));
});

Deno.test("webhook channel sends operational events with details instead of a change", async () => {
  const alert = claimedAlert({
    kind: "source_failing",
    event_key: "source_failing:x:1",
    payload: { consecutive_failures: 3, last_error: "HTTP 503", last_error_class: "http_5xx" },
  });
  const message = buildAlertMessage(alert, null);
  const body = JSON.parse(
    (await webhookChannel.render(message, alert.subscription, context())).body,
  );
  assert.equal(body.event, "source_failing");
  assert.equal(body.details.consecutive_failures, 3);
  assert.equal(body.change, undefined);
  assert.match(body.text, /failed 3 consecutive checks/);
});

Deno.test("webhook channel refuses a target that is not an http(s) URL as permanent", async () => {
  const { message, alert } = changeMessage();
  await assert.rejects(
    webhookChannel.render(message, { ...alert.subscription, target: "ftp://x.test/" }, context()),
    PermanentDeliveryError,
  );
});
