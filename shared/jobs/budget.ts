/**
 * What one invocation may spend on a run before it hands the run over to another one. The
 * work loop asks {@link InvocationBudget.spent} before each claim; everything that decides
 * "enough for this invocation" lives here, from what the hosted edge runtime really offers.
 *
 * On hosted, a worker (isolate) stays up for its wall clock (150 s free plan, 400 s paid)
 * and is ended with every request it serves when the CPU time it accumulated over all its
 * requests and background tasks passes 2 s, or its memory 256 MB
 * (supabase.com/docs/guides/functions/limits; docs/guides/troubleshooting/edge-function-cpu-limits;
 * edge-runtime's crates/base/src/worker/supervisor/strategy_per_worker.rs). Inside the
 * function there is no CPU clock there (`process.cpuUsage()` is `{user: 0, system: 0}`).
 * So an invocation stops claiming when
 *
 * - it handled `JOB_INVOCATION_MAX_ITEMS` items;
 * - CPU: where a real reading exists (a non-zero `cpuMs()`: plain Deno, tests) it reached
 *   `JOB_INVOCATION_CPU_MS`; where none does, its estimate would pass
 *   `JOB_INVOCATION_CPU_ESTIMATE_MS` (800: with the safety factor ~530 ms real, so a worker
 *   the runtime retired at its 1 s soft limit with two invocations still running stays under
 *   2 s). The estimate is what the items really cost where the function can measure it:
 *   each finished item is charged its measured compute ({@link InvocationBudget.settle}: the
 *   pipeline's synchronous stages — extract, normalise and fingerprint, detect and diff —
 *   timed with `performance.now()` spans that hold no await, an upper bound of their CPU on
 *   the one thread they run on, even where `process.cpuUsage()` reads 0; `compute_ms` of
 *   PipelineTimings) plus the fetch, JSON and database calls around them, which grow
 *   with the page: `JOB_CPU_OVERHEAD_PER_COMPUTE_MS` per ms of compute plus
 *   `JOB_CPU_OVERHEAD_MS_PER_ITEM` (calibrated from outside the function on real and
 *   synthetic pages: docs/benchmarks.md "Budget calibration", shared/config.ts); each
 *   item still in flight is charged the running mean of those charges, started from a
 *   prior as if `JOB_CPU_PRIOR_ITEMS` items had cost it, so that one cheap page does not
 *   let a claim take a batch of expensive ones: `JOB_CPU_MS_PER_ITEM` in a young worker
 *   or at a run's first invocation in it, the mean charge of what the worker's earlier
 *   invocations of the run finished in a warm one (the first claim of an invocation is
 *   sized by it, and a handover lands in the same worker until it is retired). Every
 *   charge is multiplied by `JOB_CPU_SAFETY_FACTOR` (1.5), and a claim takes no more items
 *   than the mean says fit in what is left, nor more than fit in what the isolate's
 *   invocations together hold in flight (`JOB_WORKER_IN_FLIGHT_CPU_MS`, 800: the runtime
 *   counts CPU per worker, and a handover or a parallel invocation lands in the same worker
 *   until it is retired, which then finishes what it holds);
 * - it ran `JOB_INVOCATION_WALL_MS`, or, in the edge runtime (`EdgeRuntime` defined), the
 *   worker's age (`performance.now()`, from the isolate's start) leaves less than one more
 *   batch (`FETCH_TIMEOUT_MS`) before `JOB_WORKER_WALL_MS`;
 * - in the edge runtime, the isolate's memory (`Deno.memoryUsage()` heap + external: real on
 *   hosted, where only `rss` reads 0) reached `JOB_INVOCATION_MAX_HEAP_MB`;
 * - the runtime sent its shutdown notice, the `beforeunload` event on globalThis
 *   (docs/guides/functions/background-tasks).
 * @module
 */
import { type Config, DEFAULT_CONFIG } from "../config.ts";
import type { Clock } from "../types.ts";
import {
  type BudgetProbes,
  ISOLATE,
  type IsolateLedger,
  isolateLedger,
  runtimeProbes,
} from "./runtime_probes.ts";

/** The limits every caller gives. */
type RequiredBudgetConfig = Pick<
  Config,
  "JOB_INVOCATION_MAX_ITEMS" | "JOB_INVOCATION_WALL_MS" | "JOB_INVOCATION_CPU_MS"
>;

/** The limits that default to shared/config.ts's defaults when not given. */
type OptionalBudgetConfig = Pick<
  Config,
  | "JOB_CPU_MS_PER_ITEM"
  | "JOB_CPU_OVERHEAD_MS_PER_ITEM"
  | "JOB_CPU_OVERHEAD_PER_COMPUTE_MS"
  | "JOB_CPU_PRIOR_ITEMS"
  | "JOB_CPU_SAFETY_FACTOR"
  | "JOB_WORKER_IN_FLIGHT_CPU_MS"
  | "JOB_INVOCATION_CPU_ESTIMATE_MS"
  | "JOB_WORKER_WALL_MS"
  | "JOB_INVOCATION_MAX_HEAP_MB"
  | "FETCH_TIMEOUT_MS"
>;

/** The budget's slice of the config. */
export type BudgetConfig = RequiredBudgetConfig & Partial<OptionalBudgetConfig>;

/** Why an invocation stopped claiming. */
export type BudgetStop =
  | "items"
  | "wall"
  | "worker_wall"
  | "cpu"
  | "cpu_estimate"
  | "memory"
  | "shutdown";

/** What the invocation used so far. */
export interface BudgetUsage {
  /** Items claimed (finished or in flight). */
  handled: number;
  elapsed_ms: number;
  /** Measured CPU where there is a reading, else the estimate (see `cpu_measured`). */
  cpu_ms: number;
  cpu_measured: boolean;
  /** Items finished ({@link InvocationBudget.settle}d). */
  settled: number;
  /** Their measured compute spans, summed (what the estimate charges beyond its overheads). */
  compute_ms: number;
  /** Why the budget is spent, once it is. */
  stop: BudgetStop | null;
}

/** The running budget of one invocation. */
export interface InvocationBudget {
  /** Counts `n` more claimed items (in flight until {@link settle}d). */
  spend(n: number): void;
  /**
   * One claimed item is finished; `computeMs` is its measured synchronous compute (the
   * pipeline's `timings.compute_ms`). Without a CPU reading, the estimate charges it that
   * plus the per-item overhead instead of the running mean.
   */
  settle(computeMs: number): void;
  /** True when this invocation must stop claiming (never once {@link unbound}). */
  spent(): boolean;
  /** How many items the next claim may take at most (`Infinity` when unbound). */
  itemsLeft(): number;
  /** Lifts every limit: the handover failed, so this invocation finishes the run itself. */
  unbound(): void;
  usage(): BudgetUsage;
}

/** What {@link invocationBudget} reads besides its config and clock (the seams tests set). */
export interface InvocationBudgetOptions {
  /**
   * The isolate's CPU milliseconds, when the runtime gives a reading (hosted gives none:
   * `() => 0`, the default, and the budget charges its estimate instead).
   */
  cpuMs?: () => number;
  /** The worker's age, memory and shutdown notice (default: the runtime's). */
  probes?: BudgetProbes;
  /**
   * What this isolate's invocations hold and finished (default: the module's ledger in the
   * edge runtime, a fresh one elsewhere).
   */
  isolate?: IsolateLedger;
  /** The run this invocation works on: a warm worker's prior is only this run's mean. */
  runId?: string | null;
}

/**
 * Starts the budget of an invocation now.
 * @example
 * const budget = invocationBudget(config, clock, { runId });
 * while (!budget.spent()) {
 *   const items = await claim(budget.itemsLeft());
 *   budget.spend(items.length);
 *   for (const item of items) budget.settle((await pipeline(item)).timings.compute_ms);
 * }
 */
export function invocationBudget(
  config: BudgetConfig,
  clock: Clock,
  options: InvocationBudgetOptions = {},
): InvocationBudget {
  const {
    cpuMs = () => 0,
    probes = runtimeProbes(),
    isolate = ("EdgeRuntime" in globalThis) ? ISOLATE : isolateLedger(),
    runId = null,
  } = options;
  const c = { ...DEFAULT_CONFIG, ...config };
  const safety = c.JOB_CPU_SAFETY_FACTOR;
  const t0 = clock().getTime();
  const cpu0 = cpuMs();
  let handled = 0;
  let settled = 0;
  /** Σ measured compute spans of the settled items. */
  let computeMs = 0;
  let bounded = true;
  let stop: BudgetStop | null = null;
  const realCpu = () => cpuMs() - cpu0;
  /**
   * What the settled items cost: their compute, the overhead that grows with it (the bytes
   * fetched, decoded and sent with a larger page), and one fixed overhead each.
   */
  const settledMs = () =>
    computeMs * (1 + c.JOB_CPU_OVERHEAD_PER_COMPUTE_MS) +
    settled * c.JOB_CPU_OVERHEAD_MS_PER_ITEM;
  /**
   * The prior: the mean charge of what the isolate's invocations of this run finished
   * before this one started, once they finished JOB_CPU_PRIOR_ITEMS items; else
   * JOB_CPU_MS_PER_ITEM. Fixed at the start: this invocation's own items are counted by its
   * running mean. Only this run's: a worker that measured a run of small pages (3–5 ms each)
   * gave that mean to the next run's first invocation, whose first claims then took ~100
   * real pages at once (the corpus bench right after bench:run, session 12: one worker
   * ended at 2,020 ms of CPU, killed).
   */
  const warm = isolate.settled.run === runId && isolate.settled.items >= c.JOB_CPU_PRIOR_ITEMS &&
    isolate.settled.items > 0;
  const priorMs = warm ? isolate.settled.ms / isolate.settled.items : c.JOB_CPU_MS_PER_ITEM;
  /** The running mean cost of an item, from the prior until measurements outweigh it. */
  const meanMs = () =>
    (c.JOB_CPU_PRIOR_ITEMS * priorMs + settledMs()) / (c.JOB_CPU_PRIOR_ITEMS + settled);
  /** The estimate of the items in flight: the mean each, × safety. */
  const inFlightMs = () => (handled - settled) * meanMs() * safety;
  /** The estimate: settled items as measured, items in flight at the mean; × safety. */
  const estimateMs = () => settledMs() * safety + inFlightMs();
  /** Counts this budget's items in flight in the isolate's ledger while it has some. */
  const register = () => {
    if (handled > settled) isolate.holders.add(inFlightMs);
    else isolate.holders.delete(inFlightMs);
  };
  const usage = (): BudgetUsage => {
    const real = realCpu();
    return {
      handled,
      elapsed_ms: clock().getTime() - t0,
      cpu_ms: Math.round(real > 0 ? real : estimateMs()),
      cpu_measured: real > 0,
      settled,
      compute_ms: Math.round(computeMs),
      stop,
    };
  };
  const cpuItemsLeft = (): number =>
    realCpu() > 0
      ? Infinity
      : Math.floor((c.JOB_INVOCATION_CPU_ESTIMATE_MS - estimateMs()) / (meanMs() * safety));
  /**
   * Room in the isolate: what every invocation in it holds in flight stays within
   * `JOB_WORKER_IN_FLIGHT_CPU_MS`; one item at least when this one holds none (it must be
   * able to go on, and it is not spent: handing over would only land in the same worker).
   */
  const isolateItemsLeft = (): number => {
    if (realCpu() > 0) return Infinity;
    let held = 0;
    for (const estimate of isolate.holders) held += estimate();
    const room = Math.floor((c.JOB_WORKER_IN_FLIGHT_CPU_MS - held) / (meanMs() * safety));
    return handled > settled ? room : Math.max(1, room);
  };
  const why = (): BudgetStop | null => {
    const real = realCpu();
    if (probes.shutdownReason() !== null) return "shutdown";
    if (handled >= c.JOB_INVOCATION_MAX_ITEMS) return "items";
    if (clock().getTime() - t0 >= c.JOB_INVOCATION_WALL_MS) return "wall";
    const age = probes.workerAgeMs();
    if (age > 0 && age + c.FETCH_TIMEOUT_MS >= c.JOB_WORKER_WALL_MS) return "worker_wall";
    if (probes.memoryBytes() >= c.JOB_INVOCATION_MAX_HEAP_MB * 1_048_576) return "memory";
    if (real > 0 ? real >= c.JOB_INVOCATION_CPU_MS : cpuItemsLeft() < 1) {
      return real > 0 ? "cpu" : "cpu_estimate";
    }
    return null;
  };
  return {
    spend(n) {
      handled += n;
      register();
    },
    settle(ms) {
      // More settles than claims would be a caller's bug: never a negative number in flight.
      if (settled >= handled) return;
      settled++;
      computeMs += Math.max(0, ms);
      if (isolate.settled.run !== runId) isolate.settled = { run: runId, items: 0, ms: 0 };
      isolate.settled.items++;
      isolate.settled.ms += Math.max(0, ms) * (1 + c.JOB_CPU_OVERHEAD_PER_COMPUTE_MS) +
        c.JOB_CPU_OVERHEAD_MS_PER_ITEM;
      register();
    },
    spent() {
      if (!bounded) return false;
      stop = why();
      return stop !== null;
    },
    itemsLeft() {
      if (!bounded) return Infinity;
      return Math.max(
        0,
        Math.min(c.JOB_INVOCATION_MAX_ITEMS - handled, cpuItemsLeft(), isolateItemsLeft()),
      );
    },
    unbound() {
      bounded = false;
    },
    usage,
  };
}
