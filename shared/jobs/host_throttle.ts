/**
 * Notices the hosts that ask us to slow down: wrappers of `fetch` and of the pinned
 * connection (the fetcher sends through either) that report every 429 or 503 answer
 * carrying a Retry-After to a listener, so the job can tell the database
 * (`job_slow_host`) at once, which then slows that host for the rest of the run in every
 * invocation — not only in the one that got the answer. The response itself is passed
 * on untouched (the fetcher still honours Retry-After for its own retry).
 * @module
 */
import { parseRetryAfter } from "../backoff.ts";
import { errorMessage } from "../errors.ts";
import { redactText } from "../log.ts";
import type { PinnedConnect } from "../pipeline/pinned_connect.ts";
import type { Clock, FetchFn } from "../types.ts";
import type { HostThrottle, JobDeps } from "./deps.ts";

/** A reporting fetch and connection, and where their reports go. */
export interface ThrottleRecorder {
  fetch: FetchFn;
  /** The connection given to {@link recordThrottles}, reporting; undefined without one. */
  connect: PinnedConnect | undefined;
  /** Sets the listener (one; the job's). Reports before it is set are dropped. */
  listen(listener: (throttle: HostThrottle) => void): void;
}

/**
 * Wraps `fetch`.
 * @example
 * const throttles = recordThrottles(fetch, () => new Date());
 * throttles.listen((t) => console.log(t)); // { url, retryAfterMs: 5000 } after a 429 + Retry-After: 5
 */
export function recordThrottles(
  fetch: FetchFn,
  clock: Clock,
  connect?: PinnedConnect,
): ThrottleRecorder {
  let listener: ((throttle: HostThrottle) => void) | null = null;
  const observe = (url: string, response: Response): Response => {
    if ((response.status === 429 || response.status === 503) && listener) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), clock());
      if (retryAfterMs !== null) listener({ url, retryAfterMs });
    }
    return response;
  };
  return {
    fetch: async (input, init) =>
      observe(input instanceof Request ? input.url : String(input), await fetch(input, init)),
    connect: connect &&
      (async (url, request, address) => observe(url.href, await connect(url, request, address))),
    listen(fn) {
      listener = fn;
    },
  };
}

/**
 * Tells the database at once when a host answers 429/503 with a Retry-After (the
 * listener of {@link recordThrottles}), so every invocation of the run slows that host. A
 * failed report is logged: the run goes on with the host's usual limits. `local` hears
 * it first, in this invocation.
 */
export function reportThrottles(
  deps: JobDeps,
  runId: string,
  local?: (throttle: HostThrottle, reported: Promise<unknown>) => void,
): void {
  deps.onThrottle?.((t) => {
    deps.logger.warn("Host of {url} asked to slow down (Retry-After {retry_after_ms} ms)", {
      run_id: runId,
      url: redactText(t.url),
      retry_after_ms: t.retryAfterMs,
    });
    const reported = deps.store.slowHost?.(runId, t.url, t.retryAfterMs).catch((error) => {
      deps.logger.error("Cannot slow the host of {url} for run {run_id}: {error}", {
        run_id: runId,
        url: redactText(t.url),
        error: errorMessage(error),
      });
    }) ?? Promise.resolve();
    // This invocation's own queued items of the host (shared/jobs/slot_lanes.ts); `reported`
    // settles once the database knows.
    local?.(t, reported);
  });
}
