/**
 * The worker loop: claim → process → complete, pipelined, until nothing is left or the
 * invocation's budget is spent, then hand over. It knows nothing of sources, pipelines or
 * alerts (graphile-worker's loop knows nothing of its tasks either): the job passes in
 * what a claim, one item's work and a completion are.
 *
 * No waves: items are processed one by one as they are claimed, each finished item is
 * completed as soon as the previous completion returned (everything finished meanwhile goes
 * in the next one, so completions batch themselves under load), and a claim goes out as
 * soon as there is room and a completion may have freed what the last claim found taken
 * (the database's per-host slots are released when an item is completed). A slow item
 * holds only its own slot, never the rest of the invocation.
 * @module
 */
import type { InvocationBudget } from "./budget.ts";
import { sleep as realSleep } from "../sleep.ts";

/** What the loop drives. */
export interface WorkLoopTask<Item, Done> {
  /** Claims up to `limit` items (with a lease); an empty answer: none is claimable now. */
  claim(limit: number): Promise<Item[]>;
  /**
   * Asked when a claim found nothing and this invocation holds no item: true when no item
   * is left to claim (every one is done or held by a live lease), false when some wait
   * for their turn (host limits, politeness delay): the loop then polls.
   */
  drained(): Promise<boolean>;
  /** Processes one claimed item; never throws for the item's own failure. */
  process(item: Item): Promise<Done>;
  /** Records processed items (at most `batchSize` at once). */
  complete(done: Done[]): Promise<void>;
  /**
   * Called once the budget is spent with work possibly left (the items in hand are still
   * being processed). Resolves true when the loop may stop once they are completed
   * (another invocation took over, or nothing is left to hand over), false when nobody
   * else will pick the work up: the loop then goes on without limits.
   */
  handOver(): Promise<boolean>;
}

/** Options of {@link runWorkLoop}. */
export interface WorkLoopOptions {
  /** Largest claim and largest completion. */
  batchSize: number;
  /** Items held at once at most (claimed and not completed yet). */
  concurrency: number;
  /** Wait before claiming again when nothing is claimable and nothing is held. */
  pollMs: number;
  budget: InvocationBudget;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Why the loop stopped. */
export type WorkLoopEnd = "drained" | "handed_over";

/**
 * Runs the loop. An error of `claim`, `complete`, `handOver` or `drained` (or a `process`
 * that threw) stops claiming; the items in hand are still processed, and completed unless
 * a completion failed, then the first error is thrown: the items not completed stay with
 * their leases and are claimed again when those expire.
 */
export async function runWorkLoop<Item, Done>(
  task: WorkLoopTask<Item, Done>,
  options: WorkLoopOptions,
): Promise<WorkLoopEnd> {
  const { budget, batchSize } = options;
  const concurrency = Math.max(1, options.concurrency);
  const sleep = options.sleep ?? realSleep;
  // Claim again once at least this much room is free (fewer, larger claims), or any room
  // when nothing is held.
  const minClaim = Math.max(1, Math.floor(Math.min(batchSize, concurrency) / 4));
  let held = 0;
  let processing = 0;
  const finished: Done[] = [];
  let claiming = false;
  let completing = false;
  /**
   * The last claim found nothing while items were held: claim again after a completion of
   * ours, or after `pollMs` (another invocation's completion may free a host meanwhile).
   */
  let blocked = false;
  let unblock: ReturnType<typeof setTimeout> | undefined;
  const setBlocked = (value: boolean): void => {
    blocked = value;
    clearTimeout(unblock);
    unblock = value
      ? setTimeout(() => {
        blocked = false;
        changed();
      }, options.pollMs)
      : undefined;
  };
  let end: WorkLoopEnd | null = null;
  let error = null as { cause: unknown } | null;
  let completeFailed = false;

  let wake = (): void => {};
  const changed = (): void => wake();
  const fail = (cause: unknown): void => {
    error ??= { cause };
  };

  const startItem = (item: Item): void => {
    processing++;
    task.process(item).then((done) => {
      finished.push(done);
    }, fail).finally(() => {
      processing--;
      changed();
    });
  };

  const complete = (): void => {
    if (completing || completeFailed || finished.length === 0) return;
    completing = true;
    const group = finished.splice(0, batchSize);
    task.complete(group).then(() => {
      held -= group.length;
      setBlocked(false);
    }, (cause) => {
      completeFailed = true;
      fail(cause);
    }).finally(() => {
      completing = false;
      changed();
    });
  };

  /** One claim (or handover, or poll) at a time. */
  const claim = async (): Promise<void> => {
    if (budget.spent()) {
      if (await task.handOver()) end = "handed_over";
      else budget.unbound();
      return;
    }
    const room = Math.min(concurrency - held, batchSize, budget.itemsLeft());
    const items = await task.claim(room);
    if (items.length > 0) {
      budget.spend(items.length);
      held += items.length;
      setBlocked(false);
      for (const item of items) startItem(item);
    } else if (held > 0) {
      setBlocked(true);
    } else if (await task.drained()) {
      end = "drained";
    } else {
      await sleep(options.pollMs);
    }
  };

  const mayClaim = (): boolean => {
    if (claiming || end !== null || error !== null || blocked) return false;
    if (budget.spent()) return true; // to hand over
    const room = Math.min(concurrency - held, batchSize, budget.itemsLeft());
    return room >= (held > 0 ? minClaim : 1);
  };

  try {
    return await _drive();
  } finally {
    clearTimeout(unblock);
  }

  async function _drive(): Promise<WorkLoopEnd> {
    for (;;) {
      const woken = new Promise<void>((resolve) => (wake = resolve));
      complete();
      if (mayClaim()) {
        claiming = true;
        claim().catch(fail).finally(() => {
          claiming = false;
          changed();
        });
      }
      if (!claiming && !completing && processing === 0) {
        // Nothing in flight: every item in hand is completed (or a completion failed).
        if (error !== null) throw error.cause;
        if (end !== null) return end;
        throw new Error(`Cannot go on with the work loop: ${held} items held, none in flight`);
      }
      await woken;
    }
  }
}
