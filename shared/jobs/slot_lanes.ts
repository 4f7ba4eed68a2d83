/**
 * One invocation's request slots: job_claim_items gives each claimed item a slot of its
 * host (at most FETCH_PER_HOST_CONCURRENCY slots of a host are in use across all
 * invocations, and up to JOB_HOST_SLOT_DEPTH items of one claimer share a slot). The
 * requests of a slot's items run here one after the other, in claim order (each request
 * exchange of an item, a fetch with its retries and redirects, is one piece of work: see
 * processSourceItem), so a host never has more requests in flight than slots in use, and
 * a slot's next item starts the moment the previous fetch ends: not after that item's
 * extraction and snapshot write, nor after a completion and a new claim.
 *
 * A host that asked this invocation to slow down (429/503 with Retry-After: {@link
 * SlotLanes.slow}) is also slowed here, as job_slow_host slows it in the database: its
 * items already claimed run one at a time, the first min(Retry-After, 10 s) after the
 * answer, then min(Retry-After, 1 s) apart. Another invocation learns of it from the
 * database: its claims, and each of its queued items (one that waited in its slot behind
 * another) asks before it starts ({@link SlotLanesOptions.beforeQueued}: job_slot_start),
 * since the host may have been slowed after that item's claim. Unless, since that claim,
 * this invocation has held every one of the host's slots ({@link SlotLanesOptions.perHost}
 * of them; {@link SlotLanes.hold}): then no other invocation had a request in flight to
 * the host meanwhile (a request is made only by an item that holds its slot), so none
 * heard a 429 the database could tell of, and one it recorded before the claim would
 * have kept the claim from taking the item (claims skip a host until its next start). The
 * one-host runs of a large site are such hosts: one invocation holds all their slots
 * between two handovers, and its items would otherwise each wait for a round trip. Once a
 * claim gives it every slot, the items it held before (claimed while another invocation
 * still held slots there) start without asking too: an exchange that heard a 429 ends only
 * once the database knows of it, so the other invocation's slot was freed after that, and
 * the claim that took it found the host unslowed (a slowed host gives one slot).
 *
 * An invocation that claims no more (its budget is spent) frees a slot others wait for at
 * its item's last request ({@link SlotLanesOptions.freeSlot}: job_slot_release), not at the
 * item's completion, when nothing of its own follows in that slot.
 * @module
 */
import { sleep } from "../sleep.ts";
import type { ClaimedItem } from "./store.ts";

/** An item as the lanes see it (tests pass host and slot only). */
export type LaneItem = Pick<ClaimedItem, "host" | "slot"> & Partial<ClaimedItem>;

/** Runs work in its item's slot lane. */
export interface SlotLanes {
  /**
   * Runs `work` after the work queued before it in the same slot (at once without a slot).
   * `last`: the item's last request to its host (then its slot may be freed at once:
   * {@link SlotLanesOptions.freeSlot}; a later request of the item throws).
   */
  run<T>(item: LaneItem, work: () => Promise<T>, last?: boolean): Promise<T>;
  /**
   * The host of `url` answered 429/503 with this Retry-After: slow it for the rest of the
   * run. `reported` settles once the database knows (job_slow_host): from then on each
   * start of the host here is scheduled there too ({@link SlotLanesOptions.beforeQueued}).
   */
  slow(url: string, retryAfterMs: number, reported?: Promise<unknown>): void;
  /**
   * One claim's items (all of its answer, before any is released): they hold their host's
   * slots from the claim until {@link release}d.
   */
  hold(items: ReadonlyArray<LaneItem>): void;
  /** The item is finished (its completion goes out next): its slot is not held by it any more. */
  release(item: LaneItem): void;
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
  /**
   * The slots of a host (FETCH_PER_HOST_CONCURRENCY): a queued item whose invocation held
   * this many slots of its host from its claim on (none released) starts without asking.
   * Default: every queued item asks.
   */
  perHost?: number;
  /**
   * Frees a held item's slot in the database now (job_slot_release), after its `last`
   * request, when `closing()` says this invocation claims nothing more and nothing is
   * queued behind it in its slot: the slot passes to another invocation without waiting for
   * the item's extraction, snapshot write and completion. Asked only for items `mayFree`
   * accepts (default none).
   */
  freeSlot?: (item: LaneItem) => void;
  closing?: () => boolean;
  mayFree?: (item: LaneItem) => boolean;
}

/** The slots of one host this invocation holds (claimed items not released). */
interface _Holding {
  /** Items held per slot. */
  slots: Map<number, number>;
  /** The items held. */
  items: Set<object>;
  /** Id of the current span during which every slot was held, none released; null: not now. */
  full: number | null;
}

interface _Slowed {
  spacingMs: number;
  nextStart: number;
  tail: Promise<void>;
  /** The database knows of the slow-down(s) (their reports settled). */
  reported: Promise<unknown>;
}

/**
 * Starts an invocation's lanes, none busy.
 * @example
 * const lanes = slotLanes();
 * await Promise.all(items.map((item) => lanes.run(item, () => fetchItem(deps, item))));
 */
export function slotLanes(options: SlotLanesOptions = {}): SlotLanes {
  const { beforeQueued, freeSlot, closing, mayFree } = options;
  /** Items whose slot was freed in the database: they make no request any more. */
  const freed = new WeakSet<object>();
  /** The last work queued in each lane (a number of `queued`): nothing follows it there. */
  const lastQueued = new Map<string, number>();
  let queued = 0;
  const perHost = options.perHost ?? Infinity;
  const tails = new Map<string, Promise<void>>();
  const slowed = new Map<string, _Slowed>();
  const holdings = new Map<string, _Holding>();
  /** The full span each held item was claimed in (null: its host was not all ours). */
  const claimedIn = new WeakMap<object, number | null>();
  let spans = 0;
  /** Whether `item` may start without asking: all its host's slots ours since its claim. */
  const unbroken = (item: LaneItem, host: string): boolean => {
    const span = claimedIn.get(item);
    return span !== undefined && span !== null && holdings.get(host)?.full === span &&
      !slowed.has(host);
  };
  const gated = <T>(host: string, work: () => Promise<T>): Promise<T> => {
    const gate = slowed.get(host);
    if (gate === undefined) return work();
    const result = gate.tail.then(async () => {
      const wait = gate.nextStart - performance.now();
      if (wait > 0) await sleep(wait);
      // Every start of a slowed host is scheduled in the database too, once it knows of
      // the slow-down: another invocation's later claim of the host then waits a delay
      // after it (the database's next start would otherwise lag behind this one's).
      await gate.reported;
      const more = beforeQueued ? await beforeQueued(host) : 0;
      if (more > 0) await sleep(more);
      gate.nextStart = performance.now() + gate.spacingMs;
      return await work();
    });
    gate.tail = result.then(() => {}, () => {});
    return result;
  };
  const release = (item: LaneItem): void => {
    const { host, slot } = item;
    const holding = host === undefined ? undefined : holdings.get(host);
    if (!claimedIn.delete(item) || holding === undefined || slot === null || slot === undefined) {
      return;
    }
    holding.items.delete(item);
    const left = (holding.slots.get(slot) ?? 0) - 1;
    if (left > 0) holding.slots.set(slot, left);
    else holding.slots.delete(slot);
    if (holding.slots.size < perHost) holding.full = null;
    if (holding.slots.size === 0) holdings.delete(host!);
  };
  return {
    run(item, work, last = false) {
      const { host, slot } = item;
      if (freed.has(item)) {
        return Promise.reject(
          new Error(`Cannot make another request of an item whose request slot was freed`),
        );
      }
      if (slot === null || slot === undefined || host === undefined) return work();
      const key = `${host} ${slot}`;
      const before = tails.get(key);
      const place = ++queued;
      lastQueued.set(key, place);
      const result = (before ?? Promise.resolve()).then(async () => {
        // A host slowed here: its gate asks for every start (below).
        const ask = before !== undefined && beforeQueued !== undefined &&
          !slowed.has(host) && !unbroken(item, host);
        const wait = ask ? await beforeQueued(host) : 0;
        if (wait > 0) await sleep(wait);
        try {
          return await gated(host, work);
        } finally {
          // A slow-down heard in this exchange (or before) is in the database before the
          // slot's next start here and before the item's completion frees the slot there:
          // an invocation that then holds all of the host's slots may rely on it.
          await slowed.get(host)?.reported;
          if (
            last && freeSlot !== undefined && closing?.() === true &&
            lastQueued.get(key) === place &&
            claimedIn.has(item) && (mayFree?.(item) ?? false)
          ) {
            // Nothing of ours follows in this slot: it is not ours from here on (here as in
            // the database), so the host is not all ours any more either.
            freed.add(item);
            release(item);
            freeSlot(item);
          }
        }
      });
      const tail = result.then(() => {}, () => {}); // a failed item does not stop its lane
      tails.set(key, tail);
      tail.then(() => {
        if (tails.get(key) !== tail) return;
        tails.delete(key);
        lastQueued.delete(key);
      });
      return result;
    },
    slow(url, retryAfterMs, reported = Promise.resolve()) {
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
      const settled = reported.then(() => {}, () => {});
      const gate = slowed.get(host);
      if (gate === undefined) {
        slowed.set(host, { spacingMs, nextStart, tail: Promise.resolve(), reported: settled });
      } else {
        gate.spacingMs = Math.max(gate.spacingMs, spacingMs);
        gate.nextStart = Math.max(gate.nextStart, nextStart);
        gate.reported = Promise.all([gate.reported, settled]);
      }
    },
    hold(items) {
      const touched = new Set<_Holding>();
      for (const { host, slot } of items) {
        if (host === undefined || slot === null || slot === undefined) continue;
        let holding = holdings.get(host);
        if (holding === undefined) {
          holdings.set(host, holding = { slots: new Map(), items: new Set(), full: null });
        }
        holding.slots.set(slot, (holding.slots.get(slot) ?? 0) + 1);
        touched.add(holding);
      }
      for (const item of items) {
        if (item.host === undefined || item.slot === null || item.slot === undefined) continue;
        const holding = holdings.get(item.host)!;
        holding.items.add(item);
        claimedIn.set(item, holding.full);
      }
      for (const holding of touched) {
        if (holding.full !== null || holding.slots.size < perHost) continue;
        // Every slot of the host is ours from now on: the claim that gave us the last one
        // found the host unslowed, and every other invocation had released its slots,
        // each after the database knew of any slow-down it heard (see run()). So no other
        // invocation can hear a 429 until we release one: the items we held before (claimed
        // while others held slots too) start without asking from now on as well.
        holding.full = ++spans;
        for (const item of holding.items) claimedIn.set(item, holding.full);
      }
    },
    release,
    get busy() {
      return tails.size;
    },
  };
}
