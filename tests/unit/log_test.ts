import assert from "node:assert/strict";
import { captureLogger, logRateGate, redact, redactingLogger } from "../../shared/log.ts";

Deno.test("redact() hides secrets in text and secret-named keys", async (t) => {
  const cases: Array<[string, unknown, unknown]> = [
    ["a bearer token", "Authorization: Bearer abc.def-123", "Authorization: Bearer [REDACTED]"],
    [
      "a JWT anywhere in text",
      "token eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl here",
      "token [REDACTED] here",
    ],
    [
      "a Supabase secret key",
      "key sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz used",
      "key sb_secret_[REDACTED] used",
    ],
    [
      "the query of a URL quoted by Deno's fetch error",
      "error sending request for url (http://127.0.0.1:4/feed?access_token=s3cr3t&x=1): refused",
      "error sending request for url (http://127.0.0.1:4/feed?access_token=[REDACTED]&x=[REDACTED] refused",
    ],
    [
      "credentials and fragment of a URL",
      "GET https://bob:hunter2@example.org/a#k=v done",
      "GET https://[REDACTED]@example.org/a#[REDACTED] done",
    ],
    [
      "a bare query value",
      "https://example.org/feed?0123456789abcdef",
      "https://example.org/feed?[REDACTED]",
    ],
    [
      "a Slack webhook path",
      "POST https://hooks.slack.com/services/T000/B000/XXXXSECRET failed",
      "POST https://hooks.slack.com/services/[REDACTED] failed",
    ],
    ["a URL without query", "from http://127.0.0.1:8/fail", "from http://127.0.0.1:8/fail"],
    [
      "secret-named keys of nested objects",
      { headers: { Authorization: "x", apikey: "y" }, secret: "z", n: 1, token: null },
      {
        headers: { Authorization: "[REDACTED]", apikey: "[REDACTED]" },
        secret: "[REDACTED]",
        n: 1,
        token: null,
      },
    ],
    [
      "an Error's message",
      new Error("fetch http://h/p?token=abc failed"),
      "Error: fetch http://h/p?token=[REDACTED] failed",
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.deepEqual(redact(input), expected));
  }
});

Deno.test("redactingLogger() redacts the message and every property", () => {
  const inner = captureLogger();
  redactingLogger(inner).warn("Retrying {url}: {error}", {
    url: "http://h/p?token=abc",
    error: "Bearer abc.def",
  });
  assert.equal(inner.records[0]?.text, "Retrying http://h/p?token=[REDACTED]: Bearer [REDACTED]");
});

Deno.test("redactingLogger() drops the levels under its lowest before redacting them", () => {
  const inner = captureLogger();
  const logger = redactingLogger(inner, "info");
  logger.debug("Source {sourceId} unchanged", { sourceId: "a" });
  logger.info("Batch done", { token: "t" });
  logger.error("Failed", {});
  assert.deepEqual(inner.records.map((r) => [r.level, r.message]), [
    ["info", "Batch done"],
    ["error", "Failed"],
  ]);
  assert.equal(inner.records[0]?.properties.token, "[REDACTED]");
});

Deno.test("logRateGate() admits the limit per window, counts the rest by level and reports them once", () => {
  let now = 0;
  const gate = logRateGate(3, 10_000, () => now);
  const admitted = ["info", "info", "error", "info", "error", "debug"].map((l) => gate.admit(l));
  assert.deepEqual(admitted, [true, true, true, false, false, false]);
  assert.equal(gate.takeDropped(), null, "reported once the window is over");
  now = 10_000;
  assert.equal(gate.admit("info"), true);
  assert.deepEqual(gate.takeDropped(), { info: 1, error: 1, debug: 1 });
  assert.equal(gate.takeDropped(), null);
});
