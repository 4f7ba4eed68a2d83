/**
 * The worker loop: claim a batch → process it → complete it, until nothing is left or the
 * invocation's budget is spent, then hand over. It knows nothing of sources, pipelines or
 * alerts (graphile-worker's loop knows nothing of its tasks either): the job passes in
 * what a claim, a batch and a completion are.
 * @module
 */
import type { InvocationBudget } from "./budget.ts";

/** What the loop drives. */
export interface WorkLoopTask<Item, Done> {
  /** Claims up to `limit` items (with a lease); an empty batch ends the loop. */
  claim(limit: number): Promise<Item[]>;
  /** Processes one claimed batch; never throws for one item's failure. */
  process(items: Item[]): Promise<Done>;
  /** Records the batch's outcomes. */
  complete(done: Done): Promise<void>;
  /**
   * Called once the budget is spent with work possibly left. Resolves true when the loop
   * may stop (another invocation took over, or nothing is left to hand over), false when
   * nobody else will pick the work up: the loop then goes on without limits.
   */
  handOver(): Promise<boolean>;
}

/** Options of {@link runWorkLoop}. */
export interface WorkLoopOptions {
  /** Largest batch per claim. */
  batchSize: number;
  budget: InvocationBudget;
}

/** Why the loop stopped. */
export type WorkLoopEnd = "drained" | "handed_over";

/**
 * Runs the loop. Errors of `claim`, `process` and `complete` propagate: the claimed items
 * then stay with their leases and are claimed again when those expire.
 */
export async function runWorkLoop<Item, Done>(
  task: WorkLoopTask<Item, Done>,
  options: WorkLoopOptions,
): Promise<WorkLoopEnd> {
  const { budget } = options;
  for (;;) {
    if (budget.spent()) {
      if (await task.handOver()) return "handed_over";
      budget.unbound();
      continue;
    }
    const items = await task.claim(Math.min(options.batchSize, budget.itemsLeft()));
    if (items.length === 0) return "drained";
    budget.spend(items.length);
    await task.complete(await task.process(items));
  }
}
