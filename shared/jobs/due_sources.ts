/**
 * Which active sources a run must fetch: `check_frequency` decides, with a small tolerance
 * so a daily source checked at 02:00:05 yesterday is due at 02:00 today.
 * @module
 */

/** The columns of a source that decide whether it is due. */
export interface DueCandidate {
  id: string;
  name: string;
  check_frequency: string;
  last_checked_at: string | null;
}

/** Options of {@link splitDueSources}. */
export interface DueOptions {
  now: Date;
  /** Interval of each frequency in ms (from `check_frequencies`). */
  intervals: ReadonlyMap<string, number>;
  /** A source is due when last_checked_at + interval ≤ now + tolerance. */
  toleranceMs: number;
  /** Every source is due. */
  force?: boolean;
}

/** Why a source is not due: for the log line. */
export interface SkippedSource {
  source: DueCandidate;
  next_due_at: string | null;
  reason: "not_due" | "unknown_frequency";
}

/**
 * True when the source must be fetched now. A source never checked is due; an unknown
 * frequency is never due (the database rejects those, so this is a safety net).
 */
export function isDue(source: DueCandidate, options: DueOptions): boolean {
  if (options.force) return true;
  const interval = options.intervals.get(source.check_frequency);
  if (interval === undefined) return false;
  if (source.last_checked_at === null) return true;
  const last = Date.parse(source.last_checked_at);
  if (Number.isNaN(last)) return true;
  return last + interval <= options.now.getTime() + options.toleranceMs;
}

/**
 * Splits candidates into due and skipped sources.
 * @example
 * const { due, skipped } = splitDueSources(sources, {
 *   now: new Date(), intervals: new Map([["daily", 86_400_000]]), toleranceMs: 300_000,
 * });
 */
export function splitDueSources(
  sources: readonly DueCandidate[],
  options: DueOptions,
): { due: DueCandidate[]; skipped: SkippedSource[] } {
  const due: DueCandidate[] = [];
  const skipped: SkippedSource[] = [];
  for (const source of sources) {
    if (isDue(source, options)) {
      due.push(source);
      continue;
    }
    const interval = options.intervals.get(source.check_frequency);
    skipped.push({
      source,
      reason: interval === undefined ? "unknown_frequency" : "not_due",
      next_due_at: interval === undefined || source.last_checked_at === null
        ? null
        : new Date(Date.parse(source.last_checked_at) + interval).toISOString(),
    });
  }
  return { due, skipped };
}
