/**
 * What one invocation may spend on a run before it hands the run over to another one:
 * items, wall-clock time and CPU time (hosted edge functions stop at 2 s CPU and
 * 150/400 s wall clock). The work loop asks {@link InvocationBudget.spent} before each
 * claim; everything that decides "enough for this invocation" lives here.
 * @module
 */
import type { Config } from "../config.ts";
import type { Clock } from "../types.ts";

/** The budget's slice of the config. */
export type BudgetConfig = Pick<
  Config,
  "JOB_INVOCATION_MAX_ITEMS" | "JOB_INVOCATION_WALL_MS" | "JOB_INVOCATION_CPU_MS"
>;

/** What the invocation used so far. */
export interface BudgetUsage {
  handled: number;
  elapsed_ms: number;
  cpu_ms: number;
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
): InvocationBudget {
  const t0 = clock().getTime();
  const cpu0 = cpuMs();
  let handled = 0;
  let bounded = true;
  const usage = (): BudgetUsage => ({
    handled,
    elapsed_ms: clock().getTime() - t0,
    cpu_ms: Math.round(cpuMs() - cpu0),
  });
  return {
    spend(n) {
      handled += n;
    },
    spent() {
      if (!bounded) return false;
      const u = usage();
      return u.handled >= config.JOB_INVOCATION_MAX_ITEMS ||
        u.elapsed_ms >= config.JOB_INVOCATION_WALL_MS ||
        u.cpu_ms >= config.JOB_INVOCATION_CPU_MS;
    },
    itemsLeft() {
      return bounded ? Math.max(0, config.JOB_INVOCATION_MAX_ITEMS - handled) : Infinity;
    },
    unbound() {
      bounded = false;
    },
    usage,
  };
}
