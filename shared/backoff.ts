/**
 * Retry timing, for fetches and alerts alike: exponential backoff (capped, with optional
 * jitter) and the server's `Retry-After`.
 * @module
 */

/** Options of {@link backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** Upper bound of any wait. */
  maxMs: number;
  /**
   * Returns [0, 1): with it, "equal jitter" (half fixed, half random) so that things
   * failing together do not retry in lockstep; without it, no jitter.
   */
  random?: () => number;
}

/**
 * Delay before retry number `retry` (0 for the first retry): `base · 2^retry`, capped, then
 * jittered when `random` is given.
 * @example
 * backoffDelayMs(2, { baseMs: 500, maxMs: 10_000, random: Math.random }); // 1000..2000
 * backoffDelayMs(2, { baseMs: 60_000, maxMs: 3_600_000 }); // 240_000
 */
export function backoffDelayMs(retry: number, options: BackoffOptions): number {
  const exponent = Math.max(0, Math.min(retry, 40));
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  if (!options.random) return exp;
  const half = exp / 2;
  return Math.round(half + half * options.random());
}

/**
 * Delay before the next attempt after `attempt` (1-based) failed, without jitter: at least
 * `retryAfterMs` when the receiver sent one, at most `maxMs`.
 * @example
 * retryDelayMs(3, { baseMs: 60_000, maxMs: 3_600_000 }) // 240_000
 */
export function retryDelayMs(
  attempt: number,
  options: Omit<BackoffOptions, "random">,
  retryAfterMs: number | null = null,
): number {
  const backoff = backoffDelayMs(attempt - 1, { baseMs: options.baseMs, maxMs: options.maxMs });
  return Math.min(options.maxMs, Math.max(backoff, retryAfterMs ?? 0));
}

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from
 * `now`; null when absent or unreadable. Negative waits become 0.
 */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
