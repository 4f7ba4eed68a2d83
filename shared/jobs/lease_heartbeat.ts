/**
 * The lease heartbeat of one invocation: while it works on a run it renews the leases of the
 * items it holds every `JOB_LEASE_RENEW_MS`, so a lease can be short (`JOB_LEASE_MS`, 30 s)
 * and its expiry means what the queue needs it to mean: the invocation stopped (killed by
 * the runtime, 546 WORKER_LIMIT; crashed; cut off), not "a source took long". A dead
 * invocation's items are then claimed again within one lease instead of after the longest
 * time a source may take, and poison items (JOB_ITEM_MAX_ATTEMPTS) are found as fast.
 * pg-boss's `heartbeatSeconds` and graphile-worker's lock renewal follow the same rule.
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { Logger } from "../types.ts";
import type { JobStore } from "./store.ts";

/** What the heartbeat needs. */
export interface LeaseHeartbeatDeps {
  store: Pick<JobStore, "renewLeases">;
  logger: Logger;
  /** Lease of a claim (JOB_LEASE_MS) and renewal period (JOB_LEASE_RENEW_MS). */
  leaseMs: number;
  renewMs: number;
}

/** A running heartbeat; {@link LeaseHeartbeat.stop} ends it (idempotent). */
export interface LeaseHeartbeat {
  stop(): void;
}

/**
 * Renews `invocationId`'s leases on `runId` every `renewMs` (at most a third of the lease,
 * so two renewals may fail before a live invocation loses an item) until stopped. A failed
 * renewal is logged and tried again at the next beat: if the leases end meanwhile, another
 * invocation claims the items again, and this one's late outcomes are refused by the claim's
 * attempt number (fencing), so nothing is recorded twice.
 */
export function startLeaseHeartbeat(
  deps: LeaseHeartbeatDeps,
  runId: string,
  invocationId: string,
): LeaseHeartbeat {
  const periodMs = Math.max(50, Math.min(deps.renewMs, Math.floor(deps.leaseMs / 3)));
  let inFlight = false;
  let stopped = false;
  const beat = async (): Promise<void> => {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      await deps.store.renewLeases(runId, invocationId, deps.leaseMs);
    } catch (error) {
      deps.logger.warn("Cannot renew the leases of invocation {invocation_id}: {error}", {
        run_id: runId,
        invocation_id: invocationId,
        error: errorMessage(error),
      });
    } finally {
      inFlight = false;
    }
  };
  const timer = setInterval(() => void beat(), periodMs);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
