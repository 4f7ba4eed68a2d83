import assert from "node:assert/strict";
import { hmacSha256Hex, verifyWebhookSignature } from "../../../shared/alerts/signature.ts";

const SECRET = "whsec_test_0123456789abcdef";

async function signedRequest(body: string, secret = SECRET, timestamp?: number) {
  const ts = timestamp ?? JSON.parse(body).timestamp;
  return new Headers({
    "X-Signature-256": `sha256=${await hmacSha256Hex(secret, body)}`,
    "X-Signature-Timestamp": String(ts),
  });
}

Deno.test("hmacSha256Hex() matches the well-known HMAC-SHA256 test vector", async () => {
  assert.equal(
    await hmacSha256Hex("key", "The quick brown fox jumps over the lazy dog"),
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
  );
});

Deno.test("hmacSha256Hex() signs the UTF-8 bytes of non-ASCII bodies", async () => {
  const a = await hmacSha256Hex(SECRET, '{"diff":"£ 😀"}');
  const b = await hmacSha256Hex(SECRET, '{"diff":"£ 😀 "}');
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, b);
});

Deno.test("verifyWebhookSignature() accepts a fresh body signed with the secret", async () => {
  const now = new Date("2026-11-28T02:00:00Z");
  const body = JSON.stringify({ event: "policy_change", timestamp: now.getTime() / 1000 });
  assert.equal(
    await verifyWebhookSignature(body, await signedRequest(body), SECRET, { now }),
    null,
  );
});

Deno.test("verifyWebhookSignature() refuses other secrets, edits, replays and mismatched headers", async (t) => {
  const now = new Date("2026-11-28T02:00:00Z");
  const ts = now.getTime() / 1000;
  const body = JSON.stringify({ event: "policy_change", timestamp: ts });
  await t.step("another secret", async () => {
    const headers = await signedRequest(body, "another-secret-0123456789");
    assert.equal(
      await verifyWebhookSignature(body, headers, SECRET, { now }),
      "signature does not match",
    );
  });
  await t.step("an edited body", async () => {
    const headers = await signedRequest(body);
    const edited = body.replace("policy_change", "policy_chang3");
    assert.equal(
      await verifyWebhookSignature(edited, headers, SECRET, { now }),
      "signature does not match",
    );
  });
  await t.step("a timestamp header that differs from the signed one", async () => {
    const headers = await signedRequest(body);
    headers.set("X-Signature-Timestamp", String(ts + 60));
    assert.equal(
      await verifyWebhookSignature(body, headers, SECRET, { now }),
      "timestamp header does not match the signed body",
    );
  });
  await t.step("an old body replayed", async () => {
    const headers = await signedRequest(body);
    const later = new Date(now.getTime() + 301_000);
    assert.equal(
      await verifyWebhookSignature(body, headers, SECRET, { now: later }),
      "timestamp is outside the tolerance",
    );
  });
  await t.step("no signature", async () => {
    assert.equal(
      await verifyWebhookSignature(body, new Headers(), SECRET, { now }),
      "missing or malformed signature header",
    );
  });
});
