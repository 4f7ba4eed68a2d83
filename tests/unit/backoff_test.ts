import assert from "node:assert/strict";
import { backoffDelayMs, parseRetryAfter, retryDelayMs } from "../../shared/backoff.ts";

// Fetch retries (jittered)

Deno.test("backoffDelayMs() doubles per retry, keeps half of it fixed and jitters the other half", () => {
  const options = (r: number) => ({ baseMs: 500, maxMs: 10_000, random: () => r });
  assert.equal(backoffDelayMs(0, options(0)), 250);
  assert.equal(backoffDelayMs(0, options(0.999999)), 500);
  assert.equal(backoffDelayMs(1, options(0)), 500);
  assert.equal(backoffDelayMs(2, options(0.5)), 1500);
  assert.equal(backoffDelayMs(3, options(0)), 2000);
});

Deno.test("backoffDelayMs() never exceeds the maximum wait", () => {
  for (let retry = 0; retry < 40; retry++) {
    assert.ok(backoffDelayMs(retry, { baseMs: 500, maxMs: 3_000, random: () => 0.999 }) <= 3_000);
  }
});

Deno.test("parseRetryAfter() reads delta seconds and HTTP dates, and ignores the unreadable", () => {
  const now = new Date("2026-11-28T02:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3_000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 02:00:10 GMT", now), 10_000);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 01:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});

// Alert retries (no jitter, Retry-After as a floor)

const OPTIONS = { baseMs: 60_000, maxMs: 3_600_000 };

Deno.test("retryDelayMs() doubles from the base and stops at the cap", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 100].map((n) => retryDelayMs(n, OPTIONS)),
    [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000],
  );
});

Deno.test("retryDelayMs() waits at least what Retry-After asked, within the cap", () => {
  assert.equal(retryDelayMs(1, OPTIONS, 300_000), 300_000);
  assert.equal(retryDelayMs(3, OPTIONS, 1_000), 240_000);
  assert.equal(retryDelayMs(1, OPTIONS, 86_400_000), 3_600_000);
});

Deno.test("parseRetryAfter() reads whole minutes and answers null without a header", () => {
  const now = new Date("2026-11-28T02:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 02:01:00 GMT", now), 60_000);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 01:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});
