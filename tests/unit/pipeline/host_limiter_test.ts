import assert from "node:assert/strict";
import { HostLimiter } from "../../../shared/pipeline/host_limiter.ts";
import { recordingSleep } from "./_helpers.ts";

/** Lets queued promise callbacks run. */
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("HostLimiter holds a third request to a host until one of two finishes", async () => {
  const limiter = new HostLimiter({ perHost: 2, politenessDelayMs: 0 });
  const a = await limiter.acquire("gov.example");
  const b = await limiter.acquire("gov.example");
  let third = false;
  const c = limiter.acquire("gov.example").then((release) => {
    third = true;
    return release;
  });
  await tick();
  assert.equal(third, false);
  assert.equal(limiter.active("gov.example"), 2);
  a();
  const releaseC = await c;
  assert.equal(third, true);
  assert.equal(limiter.active("gov.example"), 2);
  b();
  releaseC();
  releaseC(); // releasing twice frees one slot only
  assert.equal(limiter.active("gov.example"), 0);
});

Deno.test("HostLimiter limits each host on its own", async () => {
  const limiter = new HostLimiter({ perHost: 1, politenessDelayMs: 0 });
  const a = await limiter.acquire("one.example");
  const b = await limiter.acquire("two.example"); // not held up by one.example
  assert.equal(limiter.active("one.example"), 1);
  assert.equal(limiter.active("two.example"), 1);
  a();
  b();
});

Deno.test("HostLimiter spaces the starts of requests to one host by the politeness delay", async () => {
  const now = new Date("2026-11-28T02:00:00Z");
  const sleep = recordingSleep();
  const limiter = new HostLimiter({
    perHost: 3,
    politenessDelayMs: 1_000,
    clock: () => now,
    sleep,
  });
  const releases = await Promise.all([
    limiter.acquire("gov.example"),
    limiter.acquire("gov.example"),
    limiter.acquire("gov.example"),
  ]);
  assert.deepEqual(sleep.waits, [1_000, 2_000]);
  (await limiter.acquire("other.example"))();
  assert.deepEqual(sleep.waits, [1_000, 2_000]); // another host waits for nobody
  for (const release of releases) release();
});

Deno.test("HostLimiter drops a queued request whose signal aborts, without losing the slot", async () => {
  const limiter = new HostLimiter({ perHost: 1, politenessDelayMs: 0 });
  const first = await limiter.acquire("gov.example");
  const controller = new AbortController();
  const queued = limiter.acquire("gov.example", controller.signal);
  controller.abort(new Error("deadline"));
  await assert.rejects(queued, /deadline/);
  first();
  const again = await limiter.acquire("gov.example");
  assert.equal(limiter.active("gov.example"), 1);
  again();
});

Deno.test("HostLimiter.tryAcquire grants what acquire would grant at once, and nothing else", async () => {
  let now = 1_000;
  const clock = () => new Date(now);
  const limiter = new HostLimiter({ perHost: 2, politenessDelayMs: 100, clock });
  const a = limiter.tryAcquire("gov.example");
  assert.ok(a);
  assert.equal(limiter.active("gov.example"), 1);
  assert.equal(limiter.tryAcquire("gov.example"), null); // the politeness delay has not passed
  assert.equal(limiter.active("gov.example"), 1);
  now += 100;
  const b = limiter.tryAcquire("gov.example");
  assert.ok(b);
  now += 100;
  assert.equal(limiter.tryAcquire("gov.example"), null); // both slots in use
  let third = false;
  const c = limiter.acquire("gov.example").then((release) => {
    third = true;
    return release;
  });
  await tick();
  assert.equal(third, false);
  a();
  a(); // releasing twice frees one slot only
  const releaseC = await c; // the freed slot went to the waiting acquire
  assert.equal(limiter.active("gov.example"), 2);
  b();
  releaseC();
  assert.equal(limiter.active("gov.example"), 0);
});
