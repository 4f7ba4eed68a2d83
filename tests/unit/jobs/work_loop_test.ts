import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { invocationBudget } from "../../../shared/jobs/budget.ts";
import {
  type LoopTimers,
  runWorkLoop,
  type WorkLoopOptions,
  type WorkLoopTask,
} from "../../../shared/jobs/work_loop.ts";

const NO_PROBES = { workerAgeMs: () => 0, memoryBytes: () => 0, shutdownReason: () => null };

function budget(maxItems = 1_000_000) {
  let cpu = 0;
  return invocationBudget(
    { ...DEFAULT_CONFIG, JOB_INVOCATION_MAX_ITEMS: maxItems, JOB_INVOCATION_CPU_MS: 3_600_000 },
    () => new Date(),
    // A real CPU reading that moves (1 ms a look): no estimate.
    { cpuMs: () => ++cpu, probes: NO_PROBES },
  );
}

/**
 * Options of a loop claiming `batchSize` items at a time and holding as many (unless
 * `overrides` say otherwise), polling every 10 ms, on an unlimited budget.
 */
function loopOptions(batchSize: number, overrides: Partial<WorkLoopOptions> = {}): WorkLoopOptions {
  return { batchSize, concurrency: batchSize, pollMs: 10, budget: budget(), ...overrides };
}

/** One round trip the loop made: what it completed, the claim's limit, what it got. */
interface Trip {
  done: number[];
  limit: number | null;
  claimed: number[];
  at: number;
  count?: boolean;
}

/**
 * A queue of `count` numbers; processing item i takes `ms(i)`. Records the round trips and
 * the most items held at once. `drained`: nothing left to claim (the loop's own items are
 * held by it).
 */
function queue(count: number, ms: (i: number) => number, now: () => number = () => 0) {
  const pending = Array.from({ length: count }, (_, i) => i);
  const log = { trips: [] as Trip[], handOvers: 0, maxHeld: 0, held: 0 };
  const task: WorkLoopTask<number, number> = {
    exchange(done, limit, count) {
      log.held -= done.length;
      const claimed = pending.splice(0, limit ?? 0);
      log.trips.push({ done, limit, claimed, at: now(), ...(count ? { count } : {}) });
      log.held += claimed.length;
      log.maxHeld = Math.max(log.maxHeld, log.held);
      const counted = count || (limit !== null && claimed.length === 0);
      return Promise.resolve({ items: claimed, drained: counted ? pending.length === 0 : null });
    },
    process: (i) => new Promise((r) => setTimeout(() => r(i), ms(i))),
    handOver() {
      log.handOvers++;
      return Promise.resolve(true);
    },
  };
  const completed = () => log.trips.flatMap((t) => t.done);
  const claims = () => log.trips.filter((t) => t.limit !== null && t.limit > 0);
  return { task, log, pending, completed, claims };
}

/** Timers the test moves by hand; the loop's own `await`s run between the steps. */
function manualTimers(): LoopTimers & { advance(ms: number): Promise<void> } {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        await settle();
        const first = [...due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (!first || first[1].at > until) break;
        due.delete(first[0]);
        now = first[1].at;
        first[1].fn();
      }
      now = until;
      await settle();
    },
  };
}

/** Lets every pending promise reaction run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

/** Items whose processing the test ends by hand. */
function handProcessed() {
  const waiting = new Map<number, (i: number) => void>();
  return {
    process: (i: number) => new Promise<number>((r) => waiting.set(i, r)),
    async finish(i: number) {
      const resolve = waiting.get(i);
      assert.ok(resolve, `item ${i} is being processed`);
      waiting.delete(i);
      resolve(i);
      await settle();
    },
  };
}

Deno.test("runWorkLoop() does not wait for a slow item: the others are claimed and completed meanwhile", async () => {
  const { task, log, completed } = queue(40, (i) => (i === 0 ? 400 : 5));
  const end = await runWorkLoop(task, loopOptions(4));
  assert.equal(end, "drained");
  const order = completed();
  assert.equal(order.length, 40);
  assert.equal(order.at(-1), 0, "the slow item is completed last, after the 39 others");
  assert.ok(log.maxHeld <= 4, `held ${log.maxHeld} > concurrency 4`);
  assert.ok(log.trips.every((t) => t.done.length <= 4));
});

Deno.test("runWorkLoop() completes what finished and claims the next items in the same round trip", async () => {
  const { task, log, completed } = queue(40, () => 5);
  const end = await runWorkLoop(task, loopOptions(4));
  assert.equal(end, "drained");
  assert.deepEqual(completed().sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  const both = log.trips.filter((t) => t.done.length > 0 && (t.limit ?? 0) > 0);
  assert.ok(
    both.length >= 9,
    `at least 9 of ${log.trips.length} round trips complete and claim: ${both.length}`,
  );
  assert.ok(log.trips.length <= 41, `one round trip per item at most: ${log.trips.length}`);
});

Deno.test("runWorkLoop() hands over once the budget is spent, and returns after the items in hand are completed", async () => {
  const { task, log, pending, completed, claims } = queue(100, () => 20);
  const end = await runWorkLoop(task, loopOptions(10, { budget: budget(25) }));
  assert.equal(end, "handed_over");
  assert.equal(log.handOvers, 1);
  assert.equal(claims().reduce((a, t) => a + t.claimed.length, 0), 25, "claims stop at the budget");
  assert.equal(
    claims().at(-1)?.count,
    true,
    "the claim that spent the budget counted what is left",
  );
  assert.equal(log.trips.filter((t) => t.limit === 0).length, 0, "no round trip of its own");
  assert.equal(completed().length, 25, "what was claimed is completed");
  assert.equal(pending.length, 75);
});

Deno.test("runWorkLoop() does not hand over when the queue says nothing is left to claim", async () => {
  const { task, log, completed } = queue(10, () => 5);
  const end = await runWorkLoop(task, loopOptions(10, { budget: budget(10) }));
  assert.equal(end, "handed_over");
  assert.equal(log.handOvers, 0, "every item left is in hand");
  assert.equal(completed().length, 10);
});

Deno.test("runWorkLoop() goes on without limits when the handover fails", async () => {
  const { task, log, completed } = queue(30, () => 1);
  task.handOver = () => {
    log.handOvers++;
    return Promise.resolve(false);
  };
  const end = await runWorkLoop(task, loopOptions(5, { budget: budget(10) }));
  assert.equal(end, "drained");
  assert.equal(log.handOvers, 1);
  assert.equal(completed().length, 30);
});

Deno.test("runWorkLoop() polls while items wait for their turn, until the queue says drained", async () => {
  // Holding nothing, it waits idlePollMs between claims (pollMs without one).
  for (const [idlePollMs, wait] of [[undefined, 25], [5, 5]] as const) {
    let answers = 0;
    let counted = 0;
    const items = [1, 2, 3];
    const task: WorkLoopTask<number, number> = {
      // Nothing claimable for the first three claims (say, their host is at its limit).
      exchange(_done, limit) {
        const claimed = ++answers > 3 ? items.splice(0, limit ?? 0) : [];
        if (limit !== null && claimed.length === 0) counted++;
        return Promise.resolve({ items: claimed, drained: items.length === 0 });
      },
      process: (i) => Promise.resolve(i),
      handOver: () => Promise.resolve(true),
    };
    const slept: number[] = [];
    const end = await runWorkLoop(
      task,
      loopOptions(10, {
        pollMs: 25,
        idlePollMs,
        sleep: (ms) => {
          slept.push(ms);
          return Promise.resolve();
        },
      }),
    );
    assert.equal(end, "drained");
    assert.deepEqual(slept, [wait, wait, wait]);
    assert.equal(counted, 4, "three polls, then the empty claim at the end");
  }
});

Deno.test("runWorkLoop() completes the items in hand when a claim fails, then throws the claim's error", async () => {
  const { task, completed } = queue(20, () => 10);
  let trips = 0;
  const exchange = task.exchange;
  task.exchange = (done, limit, count) =>
    ++trips === 2
      ? Promise.reject(new Error("Cannot claim items: timeout"))
      : exchange(done, limit, count);
  await assert.rejects(
    runWorkLoop(task, loopOptions(4, { concurrency: 8 })),
    /Cannot claim items: timeout/,
  );
  assert.equal(completed().length, 4, "the first claim's items are completed");
});

Deno.test("runWorkLoop() stops at a failed completion and throws its error", async () => {
  const { task } = queue(20, () => 1);
  const exchange = task.exchange;
  task.exchange = (done, limit, count) =>
    done.length > 0
      ? Promise.reject(new Error("Cannot complete items: 503"))
      : exchange(done, limit, count);
  await assert.rejects(
    runWorkLoop(task, loopOptions(4, { concurrency: 8 })),
    /Cannot complete items: 503/,
  );
});

Deno.test("runWorkLoop() claims again after pollMs when a claim found nothing while its own items are slow", async () => {
  // Claim 1: the slow item; claim 2: nothing (its host is taken elsewhere); claim 3: another
  // invocation freed a host meanwhile. The slow item must not hold claim 3 back.
  const answers: number[][] = [[0], [], [1]];
  const completed: number[] = [];
  const task: WorkLoopTask<number, number> = {
    exchange(done, limit) {
      completed.push(...done);
      const items = limit ? answers.shift() ?? [] : [];
      return Promise.resolve({ items, drained: answers.length === 0 && limit !== null });
    },
    process: (i) => new Promise((r) => setTimeout(() => r(i), i === 0 ? 500 : 1)),
    handOver: () => Promise.resolve(true),
  };
  const end = await runWorkLoop(task, loopOptions(4, { pollMs: 20 }));
  assert.equal(end, "drained");
  assert.deepEqual(completed, [1, 0]);
});

Deno.test("runWorkLoop() lets a finished item wait for others at most completeWithinMs when there is no room to claim", async () => {
  const timers = manualTimers();
  const { task, log } = queue(3, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  const loop = runWorkLoop(
    task,
    loopOptions(64, { budget: budget(3), completeWithinMs: 1000, timers }),
  );
  await settle();
  // The claim took all three (the budget's limit) and counted what is left: nothing, so
  // no handover and no other look.
  assert.deepEqual(log.trips.map((t) => [t.done, t.limit, t.count]), [[[], 3, true]]);
  assert.equal(log.handOvers, 0);
  await hand.finish(0);
  await timers.advance(300);
  await hand.finish(1);
  await timers.advance(600);
  assert.equal(log.trips.length, 1, "900 ms after the first finished: still gathering");
  await timers.advance(100);
  assert.deepEqual(log.trips[1], { done: [0, 1], limit: null, claimed: [], at: 1000 });
  await hand.finish(2);
  assert.deepEqual(log.trips[2], { done: [2], limit: null, claimed: [], at: 1000 });
  assert.equal(await loop, "handed_over");
  assert.equal(log.trips.length, 3, "nothing else was sent: the last one went when none was left");
});

Deno.test("runWorkLoop() sends an item others wait for at once, with what finished before it", async () => {
  const timers = manualTimers();
  const { task, log } = queue(3, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  task.reportAtOnce = (i) => i === 1;
  const loop = runWorkLoop(
    task,
    loopOptions(64, { budget: budget(3), completeWithinMs: 5000, timers }),
  );
  await settle();
  await hand.finish(0);
  await timers.advance(10);
  assert.equal(log.trips.length, 1, "item 0 waits");
  await hand.finish(1);
  assert.deepEqual(log.trips.slice(1).map((t) => t.done), [[0, 1]]);
  await hand.finish(2);
  assert.equal(await loop, "handed_over");
});

Deno.test("runWorkLoop() stops claiming when the rest of the run is held, and gathers its last completions", async () => {
  const timers = manualTimers();
  const { task, log } = queue(4, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  const loop = runWorkLoop(
    task,
    loopOptions(4, { concurrency: 8, completeWithinMs: 1000, timers }),
  );
  await settle();
  // All four claimed, then a claim for the room left finds nothing and hears that the
  // rest is held: no more claims, no polls.
  assert.deepEqual(log.trips.map((t) => [t.done, t.limit, t.claimed]), [
    [[], 4, [0, 1, 2, 3]],
    [[], 4, []],
  ]);
  await hand.finish(0);
  await hand.finish(1);
  await timers.advance(2000);
  assert.deepEqual(log.trips.slice(2).map((t) => [t.done, t.limit]), [[[0, 1], null]]);
  await hand.finish(2);
  await hand.finish(3);
  assert.equal(await loop, "drained");
  assert.deepEqual(log.trips.slice(3).map((t) => [t.done, t.limit]), [[[2, 3], null]]);
});

Deno.test("runWorkLoop() sends what finished when a full batch is waiting, before completeWithinMs", async () => {
  const timers = manualTimers();
  const { task, log } = queue(4, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  const loop = runWorkLoop(
    task,
    loopOptions(2, { concurrency: 4, budget: budget(4), completeWithinMs: 60_000, timers }),
  );
  await settle();
  assert.deepEqual(log.trips.map((t) => t.claimed.length), [2, 2], "two claims");
  await hand.finish(3);
  await hand.finish(1);
  assert.deepEqual(log.trips.slice(2).map((t) => t.done), [[3, 1]], "a batch of 2 goes at once");
  await hand.finish(0);
  await hand.finish(2);
  assert.equal(await loop, "handed_over");
  assert.deepEqual(log.trips.slice(3).map((t) => t.done), [[0, 2]]);
});

Deno.test("runWorkLoop() claims with a completion that goes out anyway, for the room there is", async () => {
  const timers = manualTimers();
  const { task, log } = queue(20, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  task.reportAtOnce = () => true; // a host whose slots are all in use: each completion at once
  const loop = runWorkLoop(task, loopOptions(8, { completeWithinMs: 1000, timers }));
  await settle();
  assert.deepEqual(log.trips.map((t) => [t.done, t.limit, t.claimed.length]), [[[], 8, 8]]);
  await hand.finish(0);
  // Room for one (less than a quarter of the batch): claimed with the completion.
  assert.deepEqual(log.trips.slice(1).map((t) => [t.done, t.limit, t.claimed]), [[[0], 1, [8]]]);
  for (let i = 1; i < 20; i++) await hand.finish(i);
  assert.equal(await loop, "drained");
});

Deno.test("runWorkLoop() claims what the budget has left while it holds items, and not again at once after a short claim", async () => {
  const timers = manualTimers();
  const { task, log } = queue(40, () => 0, timers.now);
  const hand = handProcessed();
  task.process = hand.process;
  // The queue gives at most 4 items a claim (one host's slots).
  const exchange = task.exchange;
  const limits: Array<number | null> = []; // what the loop asked for
  task.exchange = (done, limit, count) => {
    limits.push(limit);
    return exchange(done, limit === null ? null : Math.min(limit, 4), count);
  };
  const loop = runWorkLoop(
    task,
    loopOptions(64, { budget: budget(10), completeWithinMs: 1000, pollMs: 100, timers }),
  );
  await settle();
  assert.deepEqual([limits, log.trips.map((t) => t.claimed.length)], [[10], [4]]);
  await timers.advance(50);
  assert.equal(log.trips.length, 1, "a short claim took all there was: no claim of its own");
  await hand.finish(0);
  // 6 left in the budget (less than a quarter of a batch of 64), 3 items held: claimed now,
  // not once all of them are done.
  assert.deepEqual(limits[1], 6);
  assert.deepEqual(log.trips[1], {
    done: [0],
    limit: 4,
    claimed: [4, 5, 6, 7],
    at: 50,
    count: true,
  });
  for (const i of [1, 2, 3, 4, 5, 6, 7]) await hand.finish(i);
  await timers.advance(1000);
  assert.ok(log.trips.some((t) => t.claimed.includes(9)), "the budget's last two were claimed");
  for (const i of [8, 9]) await hand.finish(i);
  assert.equal(await loop, "handed_over");
});
