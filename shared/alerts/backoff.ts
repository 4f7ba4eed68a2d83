/**
 * Retry timing of failed alerts: exponential backoff, capped, and never sooner than the
 * receiver asked for with `Retry-After`.
 * @module
 */

/** Options of {@link retryDelayMs}. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before the next attempt after `attempt` (1-based) failed: `base · 2^(attempt-1)`,
 * at least `retryAfterMs` when the receiver sent one, at most `maxMs`.
 * @example
 * retryDelayMs(3, { baseMs: 60_000, maxMs: 3_600_000 }) // 240_000
 */
export function retryDelayMs(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs: number | null = null,
): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 40));
  const backoff = options.baseMs * 2 ** exponent;
  return Math.min(options.maxMs, Math.max(backoff, retryAfterMs ?? 0));
}

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from
 * `now`; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
