/**
 * The daily-fetch job's round trip of the work loop: the finished sources' outcomes and
 * bookkeeping are recorded and the next sources claimed in one RPC
 * (`job_complete_and_claim`, one transaction), so that an unchanged source costs a share
 * of one request.
 * @module
 */
import type { JobDeps } from "./deps.ts";
import { logRunCompleted } from "./job_result.ts";
import { alertPoisoned, type BatchLog, hostLimits, type ItemDone } from "./source_batch.ts";
import { toItemOutcome } from "./source_task.ts";
import type { ClaimedItem, JobRunRow } from "./store.ts";
import type { Exchanged } from "./work_loop.ts";

/** An invocation's round trips on one run. */
export interface SourceExchange {
  /** Records `done` and claims up to `limit` items (see WorkLoopTask.exchange). */
  exchange(
    done: ItemDone[],
    limit: number | null,
    count: boolean,
  ): Promise<Exchanged<ClaimedItem>>;
  /** The run as the last recorded outcomes left it; null before any. */
  lastRun(): JobRunRow | null;
}

/**
 * The round trips of invocation `invocationId` on run `runId`; outcomes are added to the
 * invocation's summary lines (`log`). Items the claim failed as poison get their alerts
 * here and are not returned; an answer of poisoned items only is followed by another
 * claim at once (others may be claimable now).
 */
export function sourceExchange(
  deps: JobDeps,
  runId: string,
  invocationId: string,
  log: BatchLog,
): SourceExchange {
  const { store, config } = deps;
  const claim = {
    claimedBy: invocationId,
    leaseMs: config.JOB_LEASE_MS,
    maxAttempts: config.JOB_ITEM_MAX_ATTEMPTS,
    hosts: hostLimits(config),
  };
  let run: JobRunRow | null = null;
  return {
    lastRun: () => run,
    async exchange(done, limit, count) {
      let outcomes = done.map((d) => toItemOutcome(d.outcome));
      let bookkeeping = done.flatMap((d) => (d.bookkeeping ? [d.bookkeeping] : []));
      for (;;) {
        const answer = await store.completeAndClaim(runId, outcomes, bookkeeping, {
          ...claim,
          limit,
          count,
        });
        if (outcomes.length > 0) {
          run = answer.run ?? run;
          log.add(done.map((d) => d.outcome));
          if (answer.finalised) {
            log.flush();
            if (answer.run) logRunCompleted(deps.logger, answer.run);
          }
        }
        const poisoned = answer.items.filter((i) => i.poisoned);
        await alertPoisoned(deps, poisoned);
        const items = answer.items.filter((i) => !i.poisoned);
        if (items.length > 0 || poisoned.length === 0) {
          const left = answer.left;
          return { items, drained: left === null ? null : left.open <= left.held };
        }
        outcomes = [];
        bookkeeping = [];
      }
    },
  };
}
