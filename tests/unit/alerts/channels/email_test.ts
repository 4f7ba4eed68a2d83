import assert from "node:assert/strict";
import { emailChannel, htmlEscape } from "../../../../shared/alerts/channels/email.ts";
import { PermanentDeliveryError } from "../../../../shared/alerts/channels/channel.ts";
import { testAlertConfig } from "../../../fixtures/alert_data.ts";
import { changeMessage } from "../../../fixtures/alert_messages.ts";

function context(overrides = {}) {
  return {
    config: testAlertConfig({ EMAIL_API_URL: "https://api.resend.test/emails", ...overrides }),
    now: new Date("2026-11-28T02:00:07Z"),
    sign: () => Promise.reject(new Error("emails are not signed")),
  };
}

const TARGET = { channel: "email" as const, target: "ops@example.test" };

Deno.test("email channel posts {from, to, subject, text, html} to the email API with a bearer key", async () => {
  const { message, alert, change } = changeMessage();
  const delivery = await emailChannel.render(
    message,
    { ...alert.subscription, ...TARGET },
    context(),
  );
  assert.equal(delivery.url, "https://api.resend.test/emails");
  assert.equal(delivery.headers.authorization, "Bearer re_test_key_123456");
  assert.equal(delivery.headers["idempotency-key"], alert.id);
  const body = JSON.parse(delivery.body);
  assert.deepEqual(Object.keys(body).sort(), ["from", "html", "subject", "text", "to"]);
  assert.equal(body.from, "Policy Monitor <alerts@example.test>");
  assert.deepEqual(body.to, ["ops@example.test"]);
  assert.equal(body.subject, "Policy change: UK Skilled Worker visa rules");
  assert.ok(body.text.includes(`Source: ${alert.source!.url}`));
  assert.ok(body.text.includes(`Diff:\n${change.diff}`));
  assert.match(body.html, /^<!doctype html>/);
  assert.ok(body.html.includes(`<a href="${alert.source!.url}">`));
  assert.ok(body.html.includes("<pre"));
});

Deno.test("email channel leaves out Authorization when no key is configured", async () => {
  const { message, alert } = changeMessage();
  const delivery = await emailChannel.render(
    message,
    { ...alert.subscription, ...TARGET },
    context({ EMAIL_API_KEY: "" }),
  );
  assert.equal(delivery.headers.authorization, undefined);
});

Deno.test("email channel escapes HTML and cuts a 200 KB diff without breaking UTF-8", async () => {
  const line = "+ <script>alert('x')</script> & 😀👨‍👩‍👧 规则\n";
  const diff = line.repeat(Math.ceil(200 * 1024 / new TextEncoder().encode(line).byteLength));
  const { message, alert } = changeMessage({ diff });
  const delivery = await emailChannel.render(
    message,
    { ...alert.subscription, ...TARGET },
    context({ ALERT_EMAIL_MAX_DIFF_CHARS: 10_000 }),
  );
  const body = JSON.parse(delivery.body);
  assert.ok(!body.html.includes("<script>"));
  assert.ok(body.html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;"));
  const textDiff = body.text.slice(
    body.text.indexOf("Diff:\n") + 6,
    body.text.indexOf("\n\nAlert "),
  );
  assert.ok(textDiff.length <= 10_000);
  assert.ok(textDiff.endsWith("规则\n… (truncated)"), "cut at a line break");
  const roundTrip = new TextDecoder("utf-8", { fatal: true }).decode(
    new TextEncoder().encode(delivery.body),
  );
  assert.equal(roundTrip, delivery.body);
});

Deno.test("email channel refuses an invalid address as permanent, a bad API URL as retryable", async () => {
  const { message, alert } = changeMessage();
  await assert.rejects(
    emailChannel.render(
      message,
      { ...alert.subscription, channel: "email", target: "nope" },
      context(),
    ),
    PermanentDeliveryError,
  );
  const configError = await emailChannel.render(
    message,
    { ...alert.subscription, ...TARGET },
    context({ EMAIL_API_URL: "mailto:x@y.z" }),
  ).then(() => null, (e: Error) => e);
  assert.ok(configError instanceof Error);
  assert.ok(!(configError instanceof PermanentDeliveryError));
  assert.match(configError.message, /EMAIL_API_URL must be http\(s\)/);
});

Deno.test("email channel retries 401/403 from the email API (our key), not the recipient", async () => {
  const { message, alert } = changeMessage();
  const delivery = await emailChannel.render(
    message,
    { ...alert.subscription, ...TARGET },
    context(),
  );
  assert.deepEqual(delivery.retryableStatuses, [401, 403]);
});

Deno.test("htmlEscape() escapes the five HTML-significant characters", () => {
  assert.equal(
    htmlEscape(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});
