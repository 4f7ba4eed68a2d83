/**
 * The worker loop: claim → process → complete, pipelined, until nothing is left or the
 * invocation's budget is spent, then hand over. It knows nothing of sources, pipelines or
 * alerts (graphile-worker's loop knows nothing of its tasks either): the job passes in
 * what one round trip to the queue and one item's work are.
 *
 * No waves: items are processed one by one as they are claimed. Each round trip to the
 * queue ({@link WorkLoopTask.exchange}) completes what finished and claims what there is
 * room for, in one request, one at a time. A round trip goes out when there is room for a
 * claim (at least a quarter of a batch, or all the budget has left, or anything when
 * nothing is held; the items that finished count as room: their completion goes first),
 * when the last claim found nothing (or came back short) and an item of ours finished
 * (its completion may free what that claim found taken: the database's per-host slots
 * are released when an item is completed), and otherwise for completions alone: at once
 * for an item others wait for ({@link WorkLoopTask.reportAtOnce}) or when nothing else is
 * being processed, else when a batch has finished or the oldest finished item has waited
 * `completeWithinMs`. Such a round trip claims whatever room there is too (a request slot
 * freed by a completion is taken again at once by its claimer: the database lets it take
 * its own slots' free places). A slow item holds only its own slot, never the rest of the
 * invocation; a finished item waits at most `completeWithinMs` (well inside its lease,
 * which the invocation's heartbeat renews meanwhile), so a killed invocation loses at most
 * that much finished work (the next claimer redoes it, and a change it recorded is not
 * recorded twice: the fetch id). An invocation that holds nothing and finds nothing
 * claimable looks again after `idlePollMs`.
 * @module
 */
import type { InvocationBudget } from "./budget.ts";
import { sleep as realSleep } from "../sleep.ts";

/** Answer of one {@link WorkLoopTask.exchange}. */
export interface Exchanged<Item> {
  /** The claimed items; empty: none is claimable now. */
  items: Item[];
  /**
   * When counted (`count` asked, limit 0, or a claim that found nothing; else null): true
   * when no item is left to claim (every one is done or held by a live lease, ours
   * included), false when some wait for their turn (host limits, politeness delay) or for
   * a claim.
   */
  drained: boolean | null;
}

/** What the loop drives. */
export interface WorkLoopTask<Item, Done> {
  /**
   * One round trip to the queue: records `done` (at most `batchSize`, possibly none), then
   * claims up to `limit` items with a lease. `limit` 0: claims none but says whether the
   * run is drained; null: only records. `count`: say whether it is drained after the claim
   * even when it claimed some (asked by the claim that may spend the budget, so that
   * deciding on a handover takes no round trip of its own).
   */
  exchange(done: Done[], limit: number | null, count: boolean): Promise<Exchanged<Item>>;
  /** Processes one claimed item; never throws for the item's own failure. */
  process(item: Item): Promise<Done>;
  /**
   * True for a claimed item others wait for (its host's request slots are all in use):
   * its completion goes out as soon as it finished. Default: none.
   */
  reportAtOnce?(item: Item): boolean;
  /**
   * Called once the budget is spent while items are left that nobody holds (the items in
   * hand are still being processed): starts another invocation. Resolves true when the
   * loop may stop once its items are completed, false when nobody else will pick the
   * work up: the loop then goes on without limits.
   */
  handOver(): Promise<boolean>;
}

/** Timers of the loop; injectable for tests. */
export interface LoopTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: LoopTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number | undefined),
};

/** Options of {@link runWorkLoop}. */
export interface WorkLoopOptions {
  /** Largest claim and largest completion. */
  batchSize: number;
  /** Items held at once at most (claimed and not completed yet). */
  concurrency: number;
  /** Wait before claiming again when nothing is claimable. */
  pollMs: number;
  /**
   * Wait before claiming again when nothing is claimable and nothing is held (e.g. a
   * handover's new invocation waiting for the request slots its predecessor is finishing
   * with: each poll saved is a slot idle meanwhile). Default `pollMs`.
   */
  idlePollMs?: number;
  /**
   * Longest a finished item waits for its completion (to share a round trip with others);
   * 0: each round trip takes what finished meanwhile (JOB_COMPLETE_WITHIN_MS).
   */
  completeWithinMs?: number;
  budget: InvocationBudget;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  timers?: LoopTimers;
}

/** Why the loop stopped. */
export type WorkLoopEnd = "drained" | "handed_over";

/**
 * Runs the loop. An error of `exchange` or `handOver` (or a `process` that threw) stops
 * claiming; the items in hand are still processed, and completed unless a round trip that
 * carried completions failed, then the first error is thrown: the items not completed
 * stay with their leases and are claimed again when those expire.
 */
export async function runWorkLoop<Item, Done>(
  task: WorkLoopTask<Item, Done>,
  options: WorkLoopOptions,
): Promise<WorkLoopEnd> {
  const { budget, batchSize } = options;
  const concurrency = Math.max(1, options.concurrency);
  const sleep = options.sleep ?? realSleep;
  const timers = options.timers ?? REAL_TIMERS;
  const withinMs = Math.max(0, options.completeWithinMs ?? 0);
  // Claim again once at least this much room is free (fewer, larger claims), or any room
  // when nothing is held.
  const minClaim = Math.max(1, Math.floor(Math.min(batchSize, concurrency) / 4));
  let held = 0;
  let processing = 0;
  /** Finished items not sent yet, oldest first; `atOnce`: others wait for it. */
  const finished: Array<{ done: Done; atOnce: boolean; at: number }> = [];
  let exchanging = false;
  /** The budget is spent and the queue was asked whether anything is left to hand over. */
  let spentAsked = false;
  let handingOver = false;
  /**
   * The last claim found nothing while items were held: claim again with a completion of
   * ours, or after `pollMs` (another invocation's completion may free a host meanwhile).
   */
  let blocked = false;
  let unblock: unknown;
  let flush: unknown;
  let end: WorkLoopEnd | null = null;
  let error = null as { cause: unknown } | null;
  let completeFailed = false;

  let wake = (): void => {};
  const changed = (): void => wake();
  const fail = (cause: unknown): void => {
    error ??= { cause };
  };
  const setBlocked = (value: boolean): void => {
    blocked = value;
    timers.clearTimeout(unblock);
    unblock = value
      ? timers.setTimeout(() => {
        blocked = false;
        changed();
      }, options.pollMs)
      : undefined;
  };

  const startItem = (item: Item): void => {
    processing++;
    const atOnce = task.reportAtOnce?.(item) ?? false;
    task.process(item).then((done) => {
      finished.push({ done, atOnce, at: timers.now() });
    }, fail).finally(() => {
      processing--;
      changed();
    });
  };

  /** The next round trip, if one is due now: what it records and how much it claims. */
  const nextExchange = (): { group: number; limit: number | null; count: boolean } | null => {
    if (exchanging) return null;
    const group = completeFailed ? 0 : Math.min(finished.length, batchSize);
    const heldAfter = held - group;
    const open = end === null && error === null;
    if (open && budget.spent() && !spentAsked) return { group, limit: 0, count: true };
    const itemsLeft = budget.itemsLeft();
    const room = Math.min(concurrency - heldAfter, batchSize, itemsLeft);
    const mayClaim = open && !handingOver && !budget.spent() && (!blocked || group > 0) &&
      room >= 1;
    // A round trip of its own for a claim of a quarter of a batch at least, or of all the
    // budget has left (a budget near its end must not wait until nothing is held).
    if (mayClaim && room >= (heldAfter > 0 ? Math.min(minClaim, itemsLeft) : 1)) {
      return { group, limit: room, count: room >= itemsLeft };
    }
    if (group === 0) return null;
    const due = processing === 0 || finished.length >= batchSize ||
      finished.some((f) => f.atOnce) || timers.now() - finished[0]!.at >= withinMs;
    if (!due) return null;
    // Completions that go out anyway claim what there is room for, in the same request.
    return mayClaim
      ? { group, limit: room, count: room >= itemsLeft }
      : { group, limit: null, count: false };
  };

  /** Wakes the loop when the oldest finished item has waited its longest. */
  const armFlush = (): void => {
    timers.clearTimeout(flush);
    flush = undefined;
    if (exchanging || finished.length === 0 || completeFailed) return;
    const wait = finished[0]!.at + withinMs - timers.now();
    flush = timers.setTimeout(changed, Math.max(0, wait));
  };

  /** Beside the round trips: the items in hand are completed while another invocation starts. */
  const handOver = (): void => {
    handingOver = true;
    task.handOver().then((ok) => {
      if (ok) end = "handed_over";
      else budget.unbound();
    }, fail).finally(() => {
      handingOver = false;
      changed();
    });
  };

  const exchange = async (
    group: Array<{ done: Done }>,
    limit: number | null,
    count: boolean,
  ): Promise<void> => {
    const askedSpent = limit === 0;
    let answer: Exchanged<Item>;
    try {
      answer = await task.exchange(group.map((g) => g.done), limit, count);
    } catch (cause) {
      if (group.length > 0) completeFailed = true;
      throw cause;
    }
    held -= group.length;
    if (group.length > 0) setBlocked(false);
    if (askedSpent) {
      spentAsked = true;
      // Every item left is in hand (here or elsewhere), or the run is over: nothing to hand over.
      if (answer.drained) end = "handed_over";
      else handOver();
      return;
    }
    if (limit === null) return;
    if (answer.items.length > 0) {
      budget.spend(answer.items.length);
      held += answer.items.length;
      // A claim that came back short took all there was: the next one goes with a
      // completion of ours or after pollMs, not at once (it would find nothing).
      setBlocked(answer.items.length < limit);
      for (const item of answer.items) startItem(item);
      if (budget.spent() && answer.drained !== null) {
        // This claim spent the budget and says what is left: decide on the handover now.
        spentAsked = true;
        if (answer.drained) end = "handed_over";
        else handOver();
      }
    } else if (held > 0) {
      // The rest of the run is held (by us or others): stop claiming, finish ours.
      if (answer.drained) end = "drained";
      else setBlocked(true);
    } else if (answer.drained) {
      end = "drained";
    } else {
      await sleep(options.idlePollMs ?? options.pollMs);
    }
  };

  try {
    return await _drive();
  } finally {
    timers.clearTimeout(unblock);
    timers.clearTimeout(flush);
  }

  async function _drive(): Promise<WorkLoopEnd> {
    for (;;) {
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const next = nextExchange();
      if (next) {
        exchanging = true;
        const group = finished.splice(0, next.group);
        exchange(group, next.limit, next.count).catch(fail).finally(() => {
          exchanging = false;
          changed();
        });
      }
      armFlush();
      if (
        !exchanging && !handingOver && processing === 0 &&
        (finished.length === 0 || completeFailed)
      ) {
        // Nothing in flight: every item in hand is completed (or a completion failed).
        if (error !== null) throw error.cause;
        if (end !== null) return end;
        throw new Error(`Cannot go on with the work loop: ${held} items held, none in flight`);
      }
      await woken;
    }
  }
}
