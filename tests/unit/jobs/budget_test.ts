import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { type BudgetProbes, invocationBudget, runtimeProbes } from "../../../shared/jobs/budget.ts";

const T0 = new Date("2026-12-01T02:00:00Z").getTime();

function setup(
  over: Partial<BudgetProbes> & { cpu?: number } = {},
  config: Partial<typeof DEFAULT_CONFIG> = {},
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
    () => cpu,
    probes,
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
    stop: "cpu_estimate",
  });
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
