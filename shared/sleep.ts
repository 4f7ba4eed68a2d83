/**
 * Abortable sleep, injected wherever the code waits (backoff, politeness, polls) so tests can
 * replace it.
 * @module
 */

/** Waits `ms` milliseconds; rejects with the signal's reason when it aborts first. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real {@link SleepFn}: a timer that is cleared when the signal aborts. */
export const sleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (ms <= 0) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
