/**
 * The daily-fetch job's side of the work loop: one claimed source at a time
 * ({@link processSourceItem}: fetch it, finish it; its outcome and bookkeeping are written
 * with others in the loop's next round trip, shared/jobs/source_exchange.ts). A source
 * whose failing/recovered alert may be due has its bookkeeping written first, on its own:
 * that alert reads it.
 * @module
 */
import { errorMessage } from "../errors.ts";
import { failureBookkeeping } from "../pipeline/bookkeeping.ts";
import { sleep } from "../sleep.ts";
import type { SourceBookkeeping } from "../pipeline/types.ts";
import type { JobDeps } from "./deps.ts";
import {
  fetchFailure,
  fetchItem,
  finishItem,
  mayTransition,
  type SourceOutcome,
} from "./source_task.ts";
import type { ClaimedItem, HostLimits } from "./store.ts";
import { type SlotLanes, slotLanes } from "./slot_lanes.ts";
import { DEFAULT_CONFIG } from "../config.ts";

/** A processed item: its outcome and the bookkeeping still to write with it. */
export interface ItemDone {
  outcome: SourceOutcome;
  bookkeeping: SourceBookkeeping | null;
  /** The pipeline's measured synchronous compute (`timings.compute_ms`), charged to the budget. */
  computeMs: number;
}

/** The per-host limits of the job's claims (shared by all invocations of a run). */
export function hostLimits(config: JobDeps["config"]): HostLimits {
  return {
    perHost: config.FETCH_PER_HOST_CONCURRENCY,
    delayMs: config.FETCH_POLITENESS_DELAY_MS,
    slotDepth: config.JOB_HOST_SLOT_DEPTH ?? DEFAULT_CONFIG.JOB_HOST_SLOT_DEPTH,
  };
}

/**
 * The request slots of one invocation on run `runId` (shared/jobs/slot_lanes.ts), whose
 * queued items ask the database before they start (job_slot_start): a host slowed by a 429
 * that another invocation got holds them too (not asked while this invocation holds all
 * the host's slots: SlotLanes.hold). A failed ask is logged and the item starts (its slot
 * still bounds the host; only a slow-down of that moment is missed).
 */
export function runSlotLanes(
  deps: JobDeps,
  runId: string,
  closing: () => boolean = () => false,
): SlotLanes {
  const { store, logger } = deps;
  const slotStart = store.slotStart?.bind(store);
  const slotRelease = store.slotRelease?.bind(store);
  if (slotStart === undefined) return slotLanes();
  return slotLanes({
    perHost: deps.config.FETCH_PER_HOST_CONCURRENCY,
    // A slot others wait for (its host's slots all in use) passes on at its last request
    // once this invocation claims no more (its budget is spent).
    closing,
    mayFree: (item) => item.report_at_once === true && item.source !== undefined,
    freeSlot: slotRelease &&
      ((item) => {
        slotRelease(runId, item.source!.id, item.attempt ?? 0).catch((error) => {
          // Its completion frees it a moment later.
          logger.error("Cannot free the request slot of source {source_id}: {error}", {
            run_id: runId,
            source_id: item.source!.id,
            error: errorMessage(error),
          });
        });
      }),
    beforeQueued: async (host) => {
      try {
        return await slotStart(runId, host);
      } catch (error) {
        logger.error("Cannot ask whether host {host} of run {run_id} was slowed: {error}", {
          run_id: runId,
          host,
          error: errorMessage(error),
        });
        return 0;
      }
    },
  });
}

/**
 * Processes one claimed item; never throws for the source's failure. Its requests to its
 * host run in the host's request slot of the item (`lanes`: one per invocation), each
 * after what is queued before it there, the first one after its start_in_ms from now: the
 * slot's next item fetches while this one extracts and records. A `browser` source holds
 * its slot for its whole check (the page's own requests are the browser's).
 */
export async function processSourceItem(
  deps: JobDeps,
  item: ClaimedItem,
  lanes: SlotLanes = slotLanes(),
): Promise<ItemDone> {
  // An item's start_in_ms is its host's politeness delay across invocations (the claim
  // spaced the starts of each host), counted from its claim, i.e. now.
  const startAt = performance.now() + (item.start_in_ms ?? 0);
  // The item's only request exchange: a browser check's (the whole check), or a first
  // snapshot's fetch (a change is confirmed by a second fetch only against a previous text).
  const single = item.source.render === "browser" || item.source.last_hash === null;
  const inSlot = <T>(work: () => Promise<T>): Promise<T> =>
    lanes.run(item, async () => {
      const wait = startAt - performance.now();
      if (wait > 0) await sleep(wait);
      return await work();
    }, single);
  const fetched = item.source.render === "browser"
    ? await inSlot(() => fetchItem(deps, item))
    : await fetchItem(deps, item, inSlot);
  // A pipeline that threw still counts as a failed check of its source.
  let patch: SourceBookkeeping | null = null;
  if (fetched.result) {
    if (!fetched.result.bookkeeping_written) patch = fetched.result.bookkeeping;
  } else {
    const failure = fetchFailure(fetched);
    if (failure) patch = failureBookkeeping(item.source, deps.clock(), "internal", failure.detail);
  }
  let healthDue = mayTransition(deps, fetched);
  if (healthDue && patch !== null) {
    try {
      await deps.writeBookkeeping([patch]);
      patch = null;
    } catch (error) {
      // No health alert on bookkeeping that is not there; the patch goes with the outcome.
      healthDue = false;
      deps.logger.error("Cannot write the bookkeeping of source {source_id}: {error}", {
        source_id: item.source.id,
        error: errorMessage(error),
      });
    }
  }
  return {
    outcome: await finishItem(deps, fetched, healthDue),
    bookkeeping: patch,
    computeMs: fetched.result?.timings.compute_ms ?? 0,
  };
}

/** Summary lines of an invocation's outcomes: one per `every` sources, and one at the end. */
export interface BatchLog {
  add(outcomes: SourceOutcome[]): void;
  flush(): void;
}

/**
 * One line per `every` sources at info (warn with failures); per-source lines are at debug
 * (hosted keeps 100 log events per 10 s, and completions can be of one source each).
 */
export function batchLog(deps: JobDeps, every: number): BatchLog {
  let outcomes: SourceOutcome[] = [];
  const flush = (): void => {
    if (outcomes.length === 0) return;
    _logBatch(deps, outcomes);
    outcomes = [];
  };
  return {
    add(more) {
      outcomes.push(...more);
      if (outcomes.length >= every) flush();
    },
    flush,
  };
}

function _logBatch(deps: JobDeps, outcomes: SourceOutcome[]): void {
  const failed = outcomes.filter((o) => o.failure);
  const props = {
    count: outcomes.length,
    succeeded: outcomes.length - failed.length,
    failed: failed.length,
    changed: outcomes.filter((o) => o.policyChangeId !== null).length,
    baselines: outcomes.filter((o) => o.baseline).length,
    first_failures: failed.slice(0, 3).map((o) =>
      `source ${o.source.id}: ${o.failure?.errorClass}: ${o.failure?.message}`
    ),
  };
  const message =
    "Batch of {count} sources: {succeeded} succeeded, {failed} failed, {changed} changed";
  if (failed.length > 0) deps.logger.warn(message, props);
  else deps.logger.info(message, props);
}

/**
 * Items the database failed as poison (their outcome and bookkeeping are written): log
 * them and send their sources' failing alerts, as for any failure.
 */
export async function alertPoisoned(deps: JobDeps, items: ClaimedItem[]): Promise<void> {
  for (const item of items) {
    deps.logger.error(
      "Source {source_id} failed as poison: each of its {attempts} attempts' invocations died",
      {
        source_id: item.source.id,
        source_name: item.source.name,
        status: "failure",
        error_class: "poison",
        attempts: item.attempt,
      },
    );
    try {
      await deps.alerts.sourceHealth(item.source, false);
    } catch (error) {
      deps.logger.error("Cannot send health alerts of source {source_id}: {error}", {
        source_id: item.source.id,
        error: errorMessage(error),
      });
    }
  }
}
