/**
 * One claimed batch of sources: fetch them (bounded concurrency), write their bookkeeping
 * once, then finish each ({@link finishItem}). The batch's bookkeeping goes with its
 * outcomes in one write, except when a failing/recovered alert may be due: that alert
 * reads the bookkeeping, so it is written first, on its own.
 * @module
 */
import type pLimit from "p-limit";
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
import type { ClaimedItem } from "./store.ts";

/** A processed batch: its outcomes and the bookkeeping still to write with them. */
export interface BatchDone {
  outcomes: SourceOutcome[];
  bookkeeping: SourceBookkeeping[];
}

/** Processes a claimed batch; never throws for one source's failure. */
export async function processSourceBatch(
  deps: JobDeps,
  items: ClaimedItem[],
  limit: ReturnType<typeof pLimit>,
): Promise<BatchDone> {
  // An item's start_in_ms is its host's politeness delay across invocations (the claim
  // spaced the starts of each host): wait it out before taking a fetch slot.
  const fetched = await Promise.all(items.map(async (item) => {
    if (item.start_in_ms) await sleep(item.start_in_ms);
    return await limit(() => fetchItem(deps, item));
  }));
  // A pipeline that threw still counts as a failed check of its source.
  const patches = fetched.flatMap((f): SourceBookkeeping[] => {
    if (f.result) return f.result.bookkeeping_written ? [] : [f.result.bookkeeping];
    const failure = fetchFailure(f);
    return failure
      ? [failureBookkeeping(f.item.source, deps.clock(), "internal", failure.detail)]
      : [];
  });
  const healthDue = fetched.some((f) => mayTransition(deps, f));
  let bookkeepingWritten = !healthDue || patches.length === 0;
  if (!bookkeepingWritten) {
    try {
      await deps.writeBookkeeping(patches);
      bookkeepingWritten = true;
    } catch (error) {
      deps.logger.error("Cannot write the bookkeeping of {count} sources: {error}", {
        count: patches.length,
        error: errorMessage(error),
      });
    }
  }
  const outcomes = await Promise.all(
    fetched.map((f) =>
      limit(() => finishItem(deps, f, bookkeepingWritten && mayTransition(deps, f)))
    ),
  );
  _logBatch(deps, outcomes);
  return { outcomes, bookkeeping: healthDue ? [] : patches };
}

/** One line per batch at info (warn with failures); per-source lines are at debug. */
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
