/**
 * Handover between invocations: the edge function asks the platform for another
 * invocation of itself on a run (`POST /functions/v1/api/jobs/runs/{id}/continue` with the
 * service-role key), so a run is not bound to one invocation's CPU and wall-clock limits.
 * @module
 */
import { backoffDelayMs } from "../backoff.ts";
import { errorMessage } from "../errors.ts";
import { sleep } from "../sleep.ts";
import type { FetchFn, Logger } from "../types.ts";

/** Options of {@link httpHandover}. */
export interface HandoverOptions {
  /** Public URL of the project (SUPABASE_URL). */
  projectUrl: string;
  /** The secret key (sb_secret_…) or, with legacy keys, the service-role JWT. */
  serviceRoleKey: string;
  fetch: FetchFn;
  logger: Logger;
  /** Attempts before giving up (the caller then keeps working itself). */
  attempts?: number;
  timeoutMs?: number;
}

/**
 * A `handover(runId)` that starts another invocation and resolves once the platform
 * accepted it (202). Throws after `attempts` failures.
 * @example
 * const handover = httpHandover({ projectUrl, serviceRoleKey, fetch, logger });
 * await handover(runId);
 */
export function httpHandover(
  options: HandoverOptions,
): (runId: string) => Promise<void> {
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = options.projectUrl.replace(/\/+$/, "");
  return async (runId: string) => {
    let last = "";
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(backoffDelayMs(i, { baseMs: 250, maxMs: 10_000 }));
      try {
        const res = await options.fetch(
          `${base}/functions/v1/api/jobs/runs/${runId}/continue`,
          {
            method: "POST",
            // apikey: where a secret key (sb_secret_…) is read; bearer: the legacy JWT.
            headers: {
              apikey: options.serviceRoleKey,
              authorization: `Bearer ${options.serviceRoleKey}`,
              prefer: "respond-async",
            },
            signal: AbortSignal.timeout(timeoutMs),
          },
        );
        await res.body?.cancel();
        if (res.status === 202 || res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (error) {
        last = errorMessage(error);
      }
      options.logger.warn(
        "Handover of run {run_id} failed (attempt {attempt}): {error}",
        {
          run_id: runId,
          attempt: i + 1,
          error: last,
        },
      );
    }
    throw new Error(
      `Cannot start another invocation for run ${runId}: ${last}`,
    );
  };
}
