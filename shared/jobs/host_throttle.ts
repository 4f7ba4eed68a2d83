/**
 * Notices the hosts that ask us to slow down: a `fetch` wrapper that reports every 429 or
 * 503 answer carrying a Retry-After to a listener, so the job can tell the database
 * (`job_slow_host`) at once, which then slows that host for the rest of the run in every
 * invocation — not only in the one that got the answer. The response itself is passed
 * on untouched (the fetcher still honours Retry-After for its own retry).
 * @module
 */
import { parseRetryAfter } from "../backoff.ts";
import type { Clock, FetchFn } from "../types.ts";
import type { HostThrottle } from "./deps.ts";

/** A reporting fetch and where its reports go. */
export interface ThrottleRecorder {
  fetch: FetchFn;
  /** Sets the listener (one; the job's). Reports before it is set are dropped. */
  listen(listener: (throttle: HostThrottle) => void): void;
}

/**
 * Wraps `fetch`.
 * @example
 * const throttles = recordThrottles(fetch, () => new Date());
 * throttles.listen((t) => console.log(t)); // { url, retryAfterMs: 5000 } after a 429 + Retry-After: 5
 */
export function recordThrottles(fetch: FetchFn, clock: Clock): ThrottleRecorder {
  let listener: ((throttle: HostThrottle) => void) | null = null;
  const reporting: FetchFn = async (input, init) => {
    const response = await fetch(input, init);
    if ((response.status === 429 || response.status === 503) && listener) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), clock());
      if (retryAfterMs !== null) {
        const url = input instanceof Request ? input.url : String(input);
        listener({ url, retryAfterMs });
      }
    }
    return response;
  };
  return {
    fetch: reporting,
    listen(fn) {
      listener = fn;
    },
  };
}
