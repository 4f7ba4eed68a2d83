import assert from "node:assert/strict";
import { parseRetryAfter, retryDelayMs } from "../../../shared/alerts/backoff.ts";

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

Deno.test("parseRetryAfter() reads seconds and HTTP dates and ignores garbage", () => {
  const now = new Date("2026-11-28T02:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 02:01:00 GMT", now), 60_000);
  assert.equal(parseRetryAfter("Sat, 28 Nov 2026 01:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});
