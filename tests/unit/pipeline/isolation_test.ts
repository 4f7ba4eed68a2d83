/**
 * Isolation inside an invocation: a source's fetch timeout measures I/O, not the time
 * another source's CPU work held the event loop; body bytes are shared through a budget.
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { ByteBudget } from "../../../shared/pipeline/byte_budget.ts";
import { fetchDocument } from "../../../shared/pipeline/fetcher.ts";
import { IoDeadline } from "../../../shared/pipeline/io_deadline.ts";
import { testConfig } from "./_helpers.ts";

/** Holds the event loop, as a CPU-heavy extraction of another source would. */
function holdLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

Deno.test("IoDeadline does not count time the event loop was blocked", async () => {
  let expired = false;
  const deadline = new IoDeadline(200, () => (expired = true));
  try {
    holdLoop(600);
    await tick(); // the deadline's timer runs now, 400 ms late
    await tick(30);
    assert.equal(expired, false, `used ${deadline.usedMs()} ms of I/O time`);
    for (let i = 0; i < 500 && !expired; i++) await tick(20);
    assert.equal(expired, true);
  } finally {
    deadline.clear();
  }
});

Deno.test("IoDeadline does not count time spent queueing", async () => {
  let expired = false;
  const deadline = new IoDeadline(100, () => (expired = true));
  try {
    await deadline.excluding(() => tick(300));
    assert.equal(expired, false);
    assert.ok(deadline.usedMs() < 100, `used ${deadline.usedMs()} ms`);
  } finally {
    deadline.clear();
  }
});

Deno.test("a fetch does not time out while another source's work holds the event loop", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("<p>Fee 719 GBP</p>", { headers: { "content-type": "text/html" } }),
  );
  try {
    const fetching = fetchDocument({ url: `http://127.0.0.1:${server.addr.port}/` }, {
      fetch,
      config: testConfig({ FETCH_TIMEOUT_MS: 300, FETCH_RETRIES: 0 }),
      logger: captureLogger(),
      clock: () => new Date(),
    });
    holdLoop(1_200); // four times the timeout, before the fetch's I/O could be handled
    const outcome = await fetching;
    assert.equal(outcome.status, 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test("ByteBudget makes readers wait past the budget and lets the oldest holder finish", async () => {
  const budget = new ByteBudget(100);
  const a = budget.lease();
  const b = budget.lease();
  await a.take(80);
  let bGranted = false;
  const bTake = b.take(50).then(() => (bGranted = true));
  await tick();
  assert.equal(bGranted, false);
  // a is the oldest holder: it may pass the budget (no deadlock), by at most its own body.
  await a.take(40);
  assert.equal(budget.used(), 120);
  a.release();
  await bTake;
  assert.equal(budget.used(), 50);
  b.release();
  assert.equal(budget.used(), 0);
});

Deno.test("ByteBudget.tryTake grants what take would grant at once, and never jumps a waiter", async () => {
  const budget = new ByteBudget(100);
  const a = budget.lease();
  const b = budget.lease();
  assert.equal(a.tryTake(80), true);
  assert.equal(b.tryTake(50), false); // over the budget and b holds nothing: it would wait
  assert.equal(budget.used(), 80);
  let bGranted = false;
  const bTake = b.take(50).then(() => (bGranted = true));
  await tick();
  assert.equal(bGranted, false);
  assert.equal(budget.lease().tryTake(1), false); // b waits first
  assert.equal(a.tryTake(40), false); // a waiter is queued: only take lets the oldest pass
  a.release();
  await bTake;
  assert.equal(budget.used(), 50);
  assert.equal(b.tryTake(50), true);
  assert.equal(b.held(), 100);
  b.release();
  assert.equal(budget.used(), 0);
});

Deno.test("ByteBudget gives a waiting reader's place up when its fetch is aborted", async () => {
  const budget = new ByteBudget(10);
  const a = budget.lease();
  await a.take(10);
  const controller = new AbortController();
  const waiting = budget.lease().take(5, controller.signal);
  controller.abort(new Error("deadline"));
  await assert.rejects(waiting, /deadline/);
  a.release();
  assert.equal(budget.used(), 0);
});

Deno.test("ByteBudget: many readers sharing a small budget all finish (no deadlock)", async () => {
  const budget = new ByteBudget(1_000);
  let peak = 0;
  const reader = async () => {
    const lease = budget.lease();
    for (let i = 0; i < 20; i++) {
      await lease.take(100);
      peak = Math.max(peak, budget.used());
      await tick();
    }
    lease.release();
  };
  await Promise.all(Array.from({ length: 16 }, reader));
  assert.equal(budget.used(), 0);
  // the budget plus at most one reader's body (2,000 bytes)
  assert.ok(peak <= 1_000 + 2_000, `peak ${peak}`);
});
