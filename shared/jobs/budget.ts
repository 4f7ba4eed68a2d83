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
 *   `JOB_INVOCATION_CPU_MS`; where none does, its estimate — items ×
 *   `JOB_CPU_MS_PER_ITEM` (7.5, measured by the stack from outside the function: the
 *   workers' CPU minus their boots, per source, docs/benchmarks.md "Budget calibration") ×
 *   `JOB_CPU_SAFETY_FACTOR` (1.5) — would pass `JOB_INVOCATION_CPU_ESTIMATE_MS` (800: 71
 *   sources, ~530 ms real, so a worker the runtime retired at its 1 s soft limit with
 *   invocations still running stays under 2 s);
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

/** The limits every caller gives. */
type RequiredBudgetConfig = Pick<
  Config,
  "JOB_INVOCATION_MAX_ITEMS" | "JOB_INVOCATION_WALL_MS" | "JOB_INVOCATION_CPU_MS"
>;

/** The limits that default to shared/config.ts's defaults when not given. */
type OptionalBudgetConfig = Pick<
  Config,
  | "JOB_CPU_MS_PER_ITEM"
  | "JOB_CPU_SAFETY_FACTOR"
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
  handled: number;
  elapsed_ms: number;
  /** Measured CPU where there is a reading, else the estimate (see `cpu_measured`). */
  cpu_ms: number;
  cpu_measured: boolean;
  /** Why the budget is spent, once it is. */
  stop: BudgetStop | null;
}

/** The running budget of one invocation. */
export interface InvocationBudget {
  /** Counts `n` more claimed items. */
  spend(n: number): void;
  /** True when this invocation must stop claiming (never once {@link unbound}). */
  spent(): boolean;
  /** How many items the next claim may take at most (`Infinity` when unbound). */
  itemsLeft(): number;
  /** Lifts every limit: the handover failed, so this invocation finishes the run itself. */
  unbound(): void;
  usage(): BudgetUsage;
}

/** What the budget reads from the runtime besides the clock and CPU; injectable for tests. */
export interface BudgetProbes {
  /** Milliseconds since the isolate (worker) started; 0 outside the edge runtime. */
  workerAgeMs(): number;
  /** Heap + external memory of the isolate in bytes; 0 outside the edge runtime. */
  memoryBytes(): number;
  /** The reason of the runtime's shutdown notice once it arrived, else null. */
  shutdownReason(): string | null;
}

/** The shutdown reason heard on each event target (globalThis in the runtime). */
const heard = new WeakMap<EventTarget, { reason: string | null }>();

/**
 * The runtime's readings, as the edge function sees them. Outside the edge runtime
 * (`EdgeRuntime` undefined: plain Deno, tests) there is no worker wall clock, memory limit or
 * shutdown notice to heed, so those read 0 / null.
 */
export function runtimeProbes(
  options: { target?: EventTarget; inEdgeRuntime?: boolean } = {},
): BudgetProbes {
  const target = options.target ?? globalThis;
  const edge = options.inEdgeRuntime ?? "EdgeRuntime" in globalThis;
  let state = heard.get(target);
  if (state === undefined && edge) {
    // One listener per target: the notice is about the whole worker, every invocation in it.
    const created = { reason: null as string | null };
    state = created;
    heard.set(target, created);
    target.addEventListener("beforeunload", (event) => {
      created.reason = String(
        (event as CustomEvent<{ reason?: unknown }>).detail?.reason ?? "unknown",
      );
    });
  }
  return {
    workerAgeMs: () => (edge ? performance.now() : 0),
    memoryBytes: () => {
      if (!edge) return 0;
      const m = Deno.memoryUsage();
      return m.heapUsed + m.external;
    },
    shutdownReason: () => (edge ? state?.reason ?? null : null),
  };
}

/**
 * Starts the budget of an invocation now.
 * @example
 * const budget = invocationBudget(config, clock, processCpuMs);
 * while (!budget.spent()) { const items = await claim(budget.itemsLeft()); budget.spend(items.length); }
 */
export function invocationBudget(
  config: BudgetConfig,
  clock: Clock,
  cpuMs: () => number = () => 0,
  probes: BudgetProbes = runtimeProbes(),
): InvocationBudget {
  const c = { ...DEFAULT_CONFIG, ...config };
  const perItem = c.JOB_CPU_MS_PER_ITEM * c.JOB_CPU_SAFETY_FACTOR;
  const t0 = clock().getTime();
  const cpu0 = cpuMs();
  let handled = 0;
  let bounded = true;
  let stop: BudgetStop | null = null;
  const realCpu = () => cpuMs() - cpu0;
  const usage = (): BudgetUsage => {
    const real = realCpu();
    return {
      handled,
      elapsed_ms: clock().getTime() - t0,
      cpu_ms: Math.round(real > 0 ? real : handled * perItem),
      cpu_measured: real > 0,
      stop,
    };
  };
  const cpuItemsLeft = (): number =>
    realCpu() > 0 ? Infinity : Math.floor(
      (c.JOB_INVOCATION_CPU_ESTIMATE_MS - handled * perItem) /
        perItem,
    );
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
    },
    spent() {
      if (!bounded) return false;
      stop = why();
      return stop !== null;
    },
    itemsLeft() {
      if (!bounded) return Infinity;
      return Math.max(0, Math.min(c.JOB_INVOCATION_MAX_ITEMS - handled, cpuItemsLeft()));
    },
    unbound() {
      bounded = false;
    },
    usage,
  };
}
