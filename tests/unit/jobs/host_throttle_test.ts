import assert from "node:assert/strict";
import { recordThrottles } from "../../../shared/jobs/host_throttle.ts";
import type { HostThrottle } from "../../../shared/jobs/deps.ts";

const NOW = new Date("2026-11-28T02:00:00.000Z");

function answering(status: number, retryAfter?: string) {
  return () =>
    Promise.resolve(
      new Response("x", { status, headers: retryAfter ? { "retry-after": retryAfter } : {} }),
    );
}

Deno.test("recordThrottles reports a 429 or 503 with Retry-After (seconds or a date) and passes the answer on", async () => {
  const seen: HostThrottle[] = [];
  const a = recordThrottles(answering(429, "5"), () => NOW);
  a.listen((t) => seen.push(t));
  const res = await a.fetch("https://example.org/terms");
  assert.equal(res.status, 429);
  assert.equal(await res.text(), "x");
  const b = recordThrottles(
    answering(503, new Date(NOW.getTime() + 30_000).toUTCString()),
    () => NOW,
  );
  b.listen((t) => seen.push(t));
  await b.fetch(new Request("https://other.example/"));
  assert.deepEqual(seen, [
    { url: "https://example.org/terms", retryAfterMs: 5000 },
    { url: "https://other.example/", retryAfterMs: 30_000 },
  ]);
});

Deno.test("recordThrottles ignores a 429 without Retry-After and other statuses", async () => {
  const seen: HostThrottle[] = [];
  for (
    const [status, header] of [[429, undefined], [500, "5"], [200, "5"], [503, "soon"]] as const
  ) {
    const r = recordThrottles(answering(status, header), () => NOW);
    r.listen((t) => seen.push(t));
    await (await r.fetch("https://example.org/")).body?.cancel();
  }
  assert.deepEqual(seen, []);
});
