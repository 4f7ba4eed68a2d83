import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { invocationBudget } from "../../../shared/jobs/budget.ts";
import {
  type BudgetProbes,
  type IsolateLedger,
  isolateLedger,
  runtimeProbes,
} from "../../../shared/jobs/runtime_probes.ts";

const T0 = new Date("2026-12-01T02:00:00Z").getTime();

function setup(
  over: Partial<BudgetProbes> & { cpu?: number } = {},
  config: Partial<typeof DEFAULT_CONFIG> = {},
  isolate: IsolateLedger = isolateLedger(),
  runId: string | null = null,
) {
  let now = T0;
  let cpu = 0;
  const probes: BudgetProbes = {
    workerAgeMs: () => 0,
    memoryBytes: () => 0,
    shutdownReason: () => null,
    ...over,
  };
  const budget = invocationBudget(
    { ...DEFAULT_CONFIG, JOB_CPU_MS_PER_ITEM: 2.5, JOB_CPU_SAFETY_FACTOR: 2, ...config },
    () => new Date(now),
    { cpuMs: () => cpu, probes, isolate, runId },
  );
  return {
    budget,
    advance: (ms: number) => (now += ms),
    burn: (ms: number) => (cpu += ms),
  };
}

Deno.test("invocationBudget() without a CPU reading stops on the estimate of items × calibrated CPU × safety factor", () => {
  const { budget } = setup({}, { JOB_INVOCATION_CPU_ESTIMATE_MS: 800 });
  // 800 ms / (2.5 ms × 2) = 160 items.
  assert.equal(budget.itemsLeft(), 160);
  budget.spend(100);
  assert.equal(budget.spent(), false);
  assert.equal(budget.itemsLeft(), 60);
  budget.spend(60);
  assert.equal(budget.spent(), true);
  assert.deepEqual(budget.usage(), {
    handled: 160,
    elapsed_ms: 0,
    cpu_ms: 800,
    cpu_measured: false,
    settled: 0,
    compute_ms: 0,
    stop: "cpu_estimate",
  });
});

/** Prior 10 ms an item (as if 4 items had cost it), 2 ms overhead, × 2, against 800 ms. */
const CHARGED = {
  JOB_CPU_MS_PER_ITEM: 10,
  JOB_CPU_OVERHEAD_MS_PER_ITEM: 2,
  JOB_CPU_OVERHEAD_PER_COMPUTE_MS: 0,
  JOB_CPU_PRIOR_ITEMS: 4,
  JOB_CPU_SAFETY_FACTOR: 2,
  JOB_INVOCATION_CPU_ESTIMATE_MS: 800,
};

Deno.test("invocationBudget() charges a finished item its measured compute plus the overhead, and items in flight the running mean", async (t) => {
  await t.step("before any measurement, every item costs the prior", () => {
    const { budget } = setup({}, CHARGED);
    assert.equal(budget.itemsLeft(), 40); // 800 / (10 × 2)
    budget.spend(10);
    assert.equal(budget.usage().cpu_ms, 200);
    assert.equal(budget.itemsLeft(), 30);
  });
  await t.step("expensive pages raise the mean and stop the claims", () => {
    const { budget } = setup({}, CHARGED);
    budget.spend(10);
    for (let i = 0; i < 4; i++) budget.settle(48);
    // Settled: 4 × (48 + 2) = 200; mean (4 × 10 + 200) / 8 = 30; in flight 6 × 30 = 180.
    assert.equal(budget.usage().cpu_ms, 760); // (200 + 180) × 2
    assert.equal(budget.itemsLeft(), 0); // 40 left < one item at 30 × 2
    assert.equal(budget.spent(), true);
    const { handled, settled, compute_ms, stop } = budget.usage();
    assert.deepEqual({ handled, settled, compute_ms, stop }, {
      handled: 10,
      settled: 4,
      compute_ms: 192,
      stop: "cpu_estimate",
    });
  });
  await t.step("cheap pages lower the mean and let the next claim take more", () => {
    const { budget } = setup({}, CHARGED);
    budget.spend(10);
    for (let i = 0; i < 10; i++) budget.settle(0);
    // Settled: 10 × 2 = 20 → 40 with safety; mean (40 + 20) / 14 = 4.29 → 8.57 an item.
    assert.equal(budget.usage().cpu_ms, 40);
    assert.equal(budget.itemsLeft(), 88); // floor(760 / 8.57), against 30 unmeasured
    assert.equal(budget.spent(), false);
  });
  await t.step("one cheap page does not open a claim for a batch priced by it alone", () => {
    const weighted = setup({}, CHARGED);
    weighted.budget.spend(1);
    weighted.budget.settle(0);
    // mean (40 + 2) / 5 = 8.4 → floor((800 − 4) / 16.8)
    assert.equal(weighted.budget.itemsLeft(), 47);
    const unweighted = setup({}, { ...CHARGED, JOB_CPU_PRIOR_ITEMS: 0 });
    unweighted.budget.spend(1);
    unweighted.budget.settle(0);
    assert.equal(unweighted.budget.itemsLeft(), 199); // mean 2 → floor(796 / 4)
  });
  await t.step("a settle without a claim in flight is not counted", () => {
    const { budget } = setup({}, CHARGED);
    budget.spend(1);
    budget.settle(5);
    budget.settle(500);
    assert.equal(budget.usage().settled, 1);
    assert.equal(budget.usage().compute_ms, 5);
    assert.equal(budget.usage().cpu_ms, 14); // (5 + 2) × 2
  });
});

Deno.test("invocationBudget() charges an overhead that grows with the compute (JOB_CPU_OVERHEAD_PER_COMPUTE_MS)", () => {
  const { budget } = setup({}, { ...CHARGED, JOB_CPU_OVERHEAD_PER_COMPUTE_MS: 0.5 });
  budget.spend(2);
  budget.settle(10); // 10 × 1.5 + 2 = 17
  budget.settle(40); // 40 × 1.5 + 2 = 62
  assert.equal(budget.usage().cpu_ms, 158); // (17 + 62) × 2
  assert.equal(budget.usage().compute_ms, 50);
});

Deno.test("invocationBudget() of a later invocation in a warm worker starts from the mean charge of what the worker finished", () => {
  const isolate = isolateLedger();
  const first = setup({}, CHARGED, isolate).budget;
  assert.equal(first.itemsLeft(), 40, "a young worker: the prior, 800 / (10 × 2)");
  first.spend(3);
  for (let i = 0; i < 3; i++) first.settle(2); // 3 × (2 + 2) = 12 ms charged
  // Fewer than JOB_CPU_PRIOR_ITEMS (4) finished: a next invocation still starts from the prior.
  assert.equal(setup({}, CHARGED, isolate).budget.itemsLeft(), 40);
  first.spend(1);
  first.settle(2); // 4 finished, 4 ms each
  const later = setup({}, CHARGED, isolate).budget;
  assert.equal(later.itemsLeft(), 100, "800 / (4 × 2)");
  // Its own items move its mean as before: an expensive page raises it.
  later.spend(1);
  later.settle(48); // (4 × 4 + 50) / 5 = 13.2 → 26.4 an item; 800 − 100 left
  assert.equal(later.itemsLeft(), 26);
  // Another isolate's history is not this one's.
  assert.equal(setup({}, CHARGED).budget.itemsLeft(), 40);
});

Deno.test("invocationBudget() of another run in a warm worker starts from the prior, not from the last run's mean", () => {
  const isolate = isolateLedger();
  const small = setup({}, CHARGED, isolate, "run-a").budget;
  small.spend(10);
  for (let i = 0; i < 10; i++) small.settle(0); // 10 pages of a run of small ones: 2 ms each
  assert.equal(setup({}, CHARGED, isolate, "run-a").budget.itemsLeft(), 200, "800 / (2 × 2)");
  // The next run's first invocation in that worker (session 12: the corpus bench's pages after
  // bench:run's): sized by the prior, as in a young worker, not 200 items at once.
  const other = setup({}, CHARGED, isolate, "run-b").budget;
  assert.equal(other.itemsLeft(), 40, "800 / (10 × 2)");
  other.spend(4);
  for (let i = 0; i < 4; i++) other.settle(28); // 30 ms each: the ledger is run-b's now
  assert.equal(setup({}, CHARGED, isolate, "run-b").budget.itemsLeft(), 13, "800 / (30 × 2)");
  assert.equal(setup({}, CHARGED, isolate, "run-a").budget.itemsLeft(), 40, "run-a's mean is gone");
});

/**
 * Pages measured from outside the function (docs/benchmarks.md "Budget calibration": the
 * workers' main-thread CPU per source under the edge profile, the worst run of each kind)
 * against their compute spans where spans read true CPU.
 */
const MEASURED = [
  { pages: "corpus (real pages, changes every round)", computeMs: 12.4, worstCpuMs: 31.3 },
  { pages: "synthetic 40 KB, young workers", computeMs: 2.8, worstCpuMs: 4.4 },
  { pages: "synthetic 40 KB, warm", computeMs: 1.7, worstCpuMs: 4.4 },
];

Deno.test("invocationBudget()'s defaults stop before a worker can pass the hosted 2 s of CPU on the measured pages", async (t) => {
  for (const m of MEASURED) {
    await t.step(m.pages, () => {
      const isolate = isolateLedger();
      const make = () =>
        invocationBudget(DEFAULT_CONFIG, () => new Date(T0), {
          probes: { workerAgeMs: () => 0, memoryBytes: () => 0, shutdownReason: () => null },
          isolate,
        });
      // Each page is charged at least what it cost.
      const one = make();
      one.spend(1);
      one.settle(m.computeMs);
      assert.ok(one.usage().cpu_ms >= m.worstCpuMs, `${one.usage().cpu_ms} ms charged`);
      // Two invocations in one worker, each after k such pages, claim all they may: what the
      // worker holds in flight must fit in the second between the runtime's soft limit (1 s:
      // the worker is retired, and finishes what it holds) and its end (2 s).
      for (let k = 0; k < 40; k += 3) {
        const pair = [make(), make()];
        for (const budget of pair) {
          budget.spend(k);
          for (let i = 0; i < k; i++) budget.settle(m.computeMs);
        }
        let inFlight = 0;
        for (let round = 0; round < 4; round++) {
          for (const budget of pair) {
            const n = budget.spent() ? 0 : budget.itemsLeft();
            budget.spend(n);
            inFlight += n;
          }
        }
        assert.ok(inFlight * m.worstCpuMs < 1_000, `${inFlight} pages in flight after ${k}`);
      }
      // One invocation alone spends at most what fits before the soft limit, boot aside.
      const alone = make();
      let claimed = 0;
      while (!alone.spent() && claimed < 10_000) {
        const n = alone.itemsLeft();
        if (n === 0) break;
        alone.spend(n);
        claimed += n;
        for (let i = 0; i < n; i++) alone.settle(m.computeMs);
      }
      assert.ok(claimed * m.worstCpuMs < 1_000, `${claimed} pages in one invocation`);
    });
  }
});

Deno.test("invocationBudget() keeps what all invocations of one isolate hold in flight within JOB_WORKER_IN_FLIGHT_CPU_MS", () => {
  const isolate = isolateLedger();
  const config = { ...CHARGED, JOB_WORKER_IN_FLIGHT_CPU_MS: 800 };
  const a = setup({}, config, isolate).budget;
  const b = setup({}, config, isolate).budget;
  a.spend(30); // 30 × 10 × 2 = 600 in flight
  assert.equal(a.itemsLeft(), 10, "its own budget: 200 left");
  assert.equal(b.itemsLeft(), 10, "the isolate's: 200 left");
  a.spend(10); // the isolate is full
  assert.equal(a.itemsLeft(), 0);
  assert.equal(b.itemsLeft(), 1, "one item still, for an invocation that holds none");
  assert.equal(b.spent(), false, "a full isolate is no reason to hand over");
  b.spend(1);
  assert.equal(b.itemsLeft(), 0);
  for (let i = 0; i < 40; i++) a.settle(0); // all of a's items done: 40 × 2 ms each
  assert.equal(a.spent(), false);
  assert.equal(a.usage().cpu_ms, 160);
  // b's mean is still the prior's (10): 780 / 20 → 39 (its own budget allows 39 as well).
  assert.equal(b.itemsLeft(), 39);
  const other = setup({}, config).budget; // another isolate is not held back
  assert.equal(other.itemsLeft(), 40);
});

Deno.test("invocationBudget() with a real CPU reading ignores the charges", () => {
  const { budget, burn } = setup({}, { ...CHARGED, JOB_INVOCATION_CPU_MS: 1_500 });
  burn(100);
  budget.spend(10);
  for (let i = 0; i < 10; i++) budget.settle(1_000); // 10 s of spans: the reading rules
  assert.equal(budget.spent(), false);
  assert.equal(budget.itemsLeft(), DEFAULT_CONFIG.JOB_INVOCATION_MAX_ITEMS - 10); // items only
  assert.equal(budget.usage().cpu_ms, 100);
  assert.equal(budget.usage().cpu_measured, true);
  assert.equal(budget.usage().compute_ms, 10_000);
});

Deno.test("invocationBudget() uses a real CPU reading where there is one, against JOB_INVOCATION_CPU_MS", () => {
  const { budget, burn } = setup({}, {
    JOB_INVOCATION_CPU_MS: 1_500,
    JOB_INVOCATION_MAX_ITEMS: 5_000,
  });
  burn(10);
  budget.spend(1_000); // far past the estimate: the reading rules
  assert.equal(budget.spent(), false);
  assert.equal(budget.itemsLeft(), 4_000);
  burn(1_500);
  assert.equal(budget.spent(), true);
  assert.equal(budget.usage().stop, "cpu");
  assert.equal(budget.usage().cpu_measured, true);
});

Deno.test("invocationBudget() keeps the next batch inside the worker's wall clock", () => {
  const young = setup({ workerAgeMs: () => 100_000 }, { JOB_WORKER_WALL_MS: 150_000 });
  assert.equal(young.budget.spent(), false); // 100 s + a 30 s fetch timeout < 150 s
  const old = setup({ workerAgeMs: () => 121_000 }, { JOB_WORKER_WALL_MS: 150_000 });
  assert.equal(old.budget.spent(), true);
  assert.equal(old.budget.usage().stop, "worker_wall");
});

Deno.test("invocationBudget() stops on items, its own wall time, memory and the shutdown notice", async (t) => {
  await t.step("items", () => {
    const { budget } = setup({}, { JOB_INVOCATION_MAX_ITEMS: 10 });
    assert.equal(budget.itemsLeft(), 10);
    budget.spend(10);
    assert.equal(budget.spent(), true);
    assert.equal(budget.usage().stop, "items");
  });
  await t.step("wall", () => {
    const { budget, advance } = setup({}, { JOB_INVOCATION_WALL_MS: 60_000 });
    advance(60_000);
    assert.equal(budget.spent(), true);
    assert.equal(budget.usage().stop, "wall");
  });
  await t.step("memory", () => {
    const { budget } = setup({ memoryBytes: () => 128 * 1_048_576 }, {
      JOB_INVOCATION_MAX_HEAP_MB: 128,
    });
    assert.equal(budget.spent(), true);
    assert.equal(budget.usage().stop, "memory");
  });
  await t.step("shutdown notice", () => {
    const { budget } = setup({ shutdownReason: () => "wall_clock" });
    assert.equal(budget.spent(), true);
    assert.equal(budget.usage().stop, "shutdown");
  });
  await t.step("unbound lifts every limit", () => {
    const { budget } = setup({ shutdownReason: () => "cpu" });
    budget.unbound();
    assert.equal(budget.spent(), false);
    assert.equal(budget.itemsLeft(), Infinity);
  });
});

Deno.test("runtimeProbes() hears the runtime's beforeunload notice in the edge runtime only", () => {
  const edge = new EventTarget();
  const probes = runtimeProbes({ target: edge, inEdgeRuntime: true });
  assert.equal(probes.shutdownReason(), null);
  edge.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: "cpu" } }));
  assert.equal(probes.shutdownReason(), "cpu");
  assert.equal(runtimeProbes({ target: edge, inEdgeRuntime: true }).shutdownReason(), "cpu");

  const plain = new EventTarget();
  const outside = runtimeProbes({ target: plain, inEdgeRuntime: false });
  plain.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: "cpu" } }));
  assert.equal(outside.shutdownReason(), null);
  assert.equal(outside.workerAgeMs(), 0);
  assert.equal(outside.memoryBytes(), 0);
});
