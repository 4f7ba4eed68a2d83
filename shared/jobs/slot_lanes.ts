/**
 * One invocation's request slots: job_claim_items gives each claimed item a slot of its
 * host (at most FETCH_PER_HOST_CONCURRENCY slots of a host are in use across all
 * invocations, and up to JOB_HOST_SLOT_DEPTH items of one claimer share a slot). The items
 * of a slot are fetched here one after the other, in claim order, so a host never has more
 * requests in flight than slots in use, and a slot's next item starts the moment the
 * previous fetch ends instead of after a completion and a new claim.
 *
 * A host that asked this invocation to slow down (429/503 with Retry-After: {@link
 * SlotLanes.slow}) is also slowed here, as job_slow_host slows it in the database: its
 * items already claimed run one at a time, the first min(Retry-After, 10 s) after the
 * answer, then min(Retry-After, 1 s) apart. Another invocation learns of it from the
 * database: its claims, and each of its queued items (one that waited in its slot behind
 * another) asks before it starts ({@link SlotLanesOptions.beforeQueued}: job_slot_start),
 * since the host may have been slowed after that item's claim.
 * @module
 */
import { sleep } from "../sleep.ts";
import type { ClaimedItem } from "./store.ts";

/** Runs work in its item's slot lane. */
export interface SlotLanes {
  /** Runs `work` after the work queued before it in the same slot (at once without a slot). */
  run<T>(item: Pick<ClaimedItem, "host" | "slot">, work: () => Promise<T>): Promise<T>;
  /** The host of `url` answered 429/503 with this Retry-After: slow it for the rest of the run. */
  slow(url: string, retryAfterMs: number): void;
  /** Lanes with work queued or running. */
  readonly busy: number;
}

/** Options of {@link slotLanes}. */
export interface SlotLanesOptions {
  /**
   * Asked before a queued item starts (one that waited in its slot for the item before it):
   * resolves to how long to wait first (its host may have been slowed since its claim, by a
   * 429 another invocation got). Not asked for the first item of a slot: its claim is fresh.
   */
  beforeQueued?: (host: string) => Promise<number>;
}

interface _Slowed {
  spacingMs: number;
  nextStart: number;
  tail: Promise<void>;
}

/**
 * Starts an invocation's lanes, none busy.
 * @example
 * const lanes = slotLanes();
 * await Promise.all(items.map((item) => lanes.run(item, () => fetchItem(deps, item))));
 */
export function slotLanes(options: SlotLanesOptions = {}): SlotLanes {
  const { beforeQueued } = options;
  const tails = new Map<string, Promise<void>>();
  const slowed = new Map<string, _Slowed>();
  const gated = <T>(host: string, work: () => Promise<T>): Promise<T> => {
    const gate = slowed.get(host);
    if (gate === undefined) return work();
    const result = gate.tail.then(async () => {
      const wait = gate.nextStart - performance.now();
      if (wait > 0) await sleep(wait);
      gate.nextStart = performance.now() + gate.spacingMs;
      return await work();
    });
    gate.tail = result.then(() => {}, () => {});
    return result;
  };
  return {
    run(item, work) {
      const { host, slot } = item;
      if (slot === null || slot === undefined || host === undefined) return work();
      const key = `${host} ${slot}`;
      const before = tails.get(key);
      const result = (before ?? Promise.resolve()).then(async () => {
        const wait = before !== undefined && beforeQueued ? await beforeQueued(host) : 0;
        if (wait > 0) await sleep(wait);
        return await gated(host, work);
      });
      const tail = result.then(() => {}, () => {}); // a failed item does not stop its lane
      tails.set(key, tail);
      tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    slow(url, retryAfterMs) {
      let host: string;
      try {
        host = new URL(url).host;
      } catch {
        return;
      }
      const wait = Math.min(Math.max(retryAfterMs, 0), 10_000);
      const spacingMs = Math.min(wait, 1_000);
      // The throttled request's own retry (the fetcher's) takes the first start.
      const nextStart = performance.now() + wait + spacingMs;
      const gate = slowed.get(host);
      if (gate === undefined) slowed.set(host, { spacingMs, nextStart, tail: Promise.resolve() });
      else {
        gate.spacingMs = Math.max(gate.spacingMs, spacingMs);
        gate.nextStart = Math.max(gate.nextStart, nextStart);
      }
    },
    get busy() {
      return tails.size;
    },
  };
}
