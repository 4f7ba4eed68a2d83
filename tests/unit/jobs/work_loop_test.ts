import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { invocationBudget } from "../../../shared/jobs/budget.ts";
import {
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
    () => ++cpu, // a real CPU reading that moves (1 ms a look): no estimate
    NO_PROBES,
  );
}

/**
 * Options of a loop claiming `batchSize` items at a time and holding as many (unless
 * `overrides` say otherwise), polling every 10 ms, on an unlimited budget.
 */
function loopOptions(batchSize: number, overrides: Partial<WorkLoopOptions> = {}): WorkLoopOptions {
  return { batchSize, concurrency: batchSize, pollMs: 10, budget: budget(), ...overrides };
}

/**
 * A queue of `items` numbers; processing item i takes `ms(i)`. Records the claims, the
 * completions and the most items held at once.
 */
function queue(count: number, ms: (i: number) => number) {
  const pending = Array.from({ length: count }, (_, i) => i);
  const log = {
    claims: [] as number[],
    completions: [] as number[][],
    handOvers: 0,
    maxHeld: 0,
    held: 0,
  };
  const task: WorkLoopTask<number, number> = {
    claim(limit) {
      const items = pending.splice(0, limit);
      log.claims.push(items.length);
      log.held += items.length;
      log.maxHeld = Math.max(log.maxHeld, log.held);
      return Promise.resolve(items);
    },
    drained: () => Promise.resolve(pending.length === 0),
    process: (i) => new Promise((r) => setTimeout(() => r(i), ms(i))),
    complete(done) {
      log.completions.push(done);
      log.held -= done.length;
      return Promise.resolve();
    },
    handOver() {
      log.handOvers++;
      return Promise.resolve(true);
    },
  };
  return { task, log, pending };
}

Deno.test("runWorkLoop() does not wait for a slow item: the others are claimed and completed meanwhile", async () => {
  const { task, log } = queue(40, (i) => (i === 0 ? 400 : 5));
  const end = await runWorkLoop(task, loopOptions(4));
  assert.equal(end, "drained");
  const order = log.completions.flat();
  assert.equal(order.length, 40);
  assert.equal(order.at(-1), 0, "the slow item is completed last, after the 39 others");
  assert.ok(log.maxHeld <= 4, `held ${log.maxHeld} > concurrency 4`);
  assert.ok(log.completions.every((c) => c.length <= 4));
});

Deno.test("runWorkLoop() hands over once the budget is spent, and returns after the items in hand are completed", async () => {
  const { task, log, pending } = queue(100, () => 20);
  const end = await runWorkLoop(task, loopOptions(10, { budget: budget(25) }));
  assert.equal(end, "handed_over");
  assert.equal(log.handOvers, 1);
  assert.equal(log.claims.reduce((a, b) => a + b, 0), 25, "claims stop at the budget");
  assert.equal(log.completions.flat().length, 25, "what was claimed is completed");
  assert.equal(pending.length, 75);
});

Deno.test("runWorkLoop() goes on without limits when the handover fails", async () => {
  const { task, log } = queue(30, () => 1);
  task.handOver = () => {
    log.handOvers++;
    return Promise.resolve(false);
  };
  const end = await runWorkLoop(task, loopOptions(5, { budget: budget(10) }));
  assert.equal(end, "drained");
  assert.equal(log.handOvers, 1);
  assert.equal(log.completions.flat().length, 30);
});

Deno.test("runWorkLoop() polls while items wait for their turn, until the queue says drained", async () => {
  let releasedAt = 0;
  let drainedCalls = 0;
  const items = [1, 2, 3];
  const task: WorkLoopTask<number, number> = {
    // Nothing claimable for the first three claims (say, their host is at its limit).
    claim: (limit) => Promise.resolve(++releasedAt > 3 ? items.splice(0, limit) : []),
    drained() {
      drainedCalls++;
      return Promise.resolve(items.length === 0);
    },
    process: (i) => Promise.resolve(i),
    complete: () => Promise.resolve(),
    handOver: () => Promise.resolve(true),
  };
  const slept: number[] = [];
  const end = await runWorkLoop(
    task,
    loopOptions(10, {
      pollMs: 25,
      sleep: (ms) => {
        slept.push(ms);
        return Promise.resolve();
      },
    }),
  );
  assert.equal(end, "drained");
  assert.deepEqual(slept, [25, 25, 25]);
  assert.equal(drainedCalls, 4, "three polls, then the empty claim at the end");
});

Deno.test("runWorkLoop() completes the items in hand when a claim fails, then throws the claim's error", async () => {
  const { task, log } = queue(20, () => 10);
  let claims = 0;
  const claim = task.claim;
  task.claim = (limit) =>
    ++claims === 2 ? Promise.reject(new Error("Cannot claim items: timeout")) : claim(limit);
  await assert.rejects(
    runWorkLoop(task, loopOptions(4, { concurrency: 8 })),
    /Cannot claim items: timeout/,
  );
  assert.equal(log.completions.flat().length, 4, "the first claim's items are completed");
});

Deno.test("runWorkLoop() stops at a failed completion and throws its error", async () => {
  const { task } = queue(20, () => 1);
  task.complete = () => Promise.reject(new Error("Cannot complete items: 503"));
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
    claim: () => Promise.resolve(answers.shift() ?? []),
    drained: () => Promise.resolve(answers.length === 0),
    process: (i) => new Promise((r) => setTimeout(() => r(i), i === 0 ? 500 : 1)),
    complete(done) {
      completed.push(...done);
      return Promise.resolve();
    },
    handOver: () => Promise.resolve(true),
  };
  const end = await runWorkLoop(task, loopOptions(4, { pollMs: 20 }));
  assert.equal(end, "drained");
  assert.deepEqual(completed, [1, 0]);
});
