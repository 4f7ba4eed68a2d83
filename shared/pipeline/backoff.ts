/**
 * Retry timing: exponential backoff with jitter, and the server's `Retry-After`.
 * @module
 */

/** Options of {@link backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter (FETCH_RETRY_BASE_MS). */
  baseMs: number;
  /** Upper bound of any wait (FETCH_RETRY_MAX_WAIT_MS). */
  maxMs: number;
  /** Returns [0, 1); injected so tests are deterministic. */
  random: () => number;
}

/**
 * Delay before retry number `retry` (0 for the first retry): `base * 2^retry`, capped,
 * with "equal jitter" (half fixed, half random) so that sources failing together do not
 * retry in lockstep.
 * @example
 * backoffDelayMs(2, { baseMs: 500, maxMs: 10_000, random: Math.random }); // 1000..2000
 */
export function backoffDelayMs(retry: number, options: BackoffOptions): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, retry));
  const half = exp / 2;
  return Math.round(half + half * options.random());
}

/**
 * Parses a `Retry-After` header (delta seconds or an HTTP date) into milliseconds from
 * `now`; `undefined` when absent or unreadable. Negative waits become 0.
 */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}
