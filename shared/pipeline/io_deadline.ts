/**
 * Time-outs that measure I/O, not the time the event loop was busy elsewhere: a source's
 * fetch timeout (FETCH_TIMEOUT_MS) must not pass while another source's extraction holds
 * the loop (issue 11: five healthy sources failed with `timeout` beside hostile pages).
 *
 * {@link loopBusyMs} is a process-wide count of the time the event loop was blocked,
 * measured by how late a 25 ms interval timer fires (it runs only while a deadline is
 * armed, unref'd). An {@link IoDeadline} counts wall time minus that blocked time and minus
 * the time its owner said it was queued (host limiter, body budget); when its timer fires
 * early by that measure, it re-arms for the rest.
 * @module
 */

const PERIOD_MS = 25;
let _busyMs = 0;
let _users = 0;
let _last = 0;
let _timer: ReturnType<typeof setInterval> | undefined;

function _tick(): void {
  const now = performance.now();
  const late = now - _last - PERIOD_MS;
  if (late > 0) _busyMs += late;
  _last = now;
}

function _retain(): void {
  if (_users++ > 0) return;
  _last = performance.now();
  const timer = setInterval(_tick, PERIOD_MS);
  Deno.unrefTimer(timer as unknown as number);
  _timer = timer;
}

function _releaseMonitor(): void {
  if (--_users > 0) return;
  _tick();
  clearInterval(_timer);
  _timer = undefined;
}

/** Milliseconds the event loop has been blocked (while any deadline was armed). */
export function loopBusyMs(): number {
  if (_users === 0) return _busyMs;
  const late = performance.now() - _last - PERIOD_MS;
  return _busyMs + Math.max(0, late);
}

/** A deadline over I/O time; calls `onExpire` once when `timeoutMs` of it have passed. */
export class IoDeadline {
  readonly #timeoutMs: number;
  readonly #onExpire: () => void;
  readonly #start = performance.now();
  readonly #busyAtStart: number;
  #queuedMs = 0;
  /** Start of the wait in progress (performance.now, loop busy), if any. */
  #queuedSince: { at: number; busy: number } | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  /** Arms the deadline. */
  constructor(timeoutMs: number, onExpire: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
    _retain();
    this.#busyAtStart = loopBusyMs();
    this.#arm(timeoutMs);
  }

  /** I/O time used so far, in ms. */
  usedMs(): number {
    const now = performance.now();
    const busy = loopBusyMs();
    const since = this.#queuedSince;
    const queuing = since ? Math.max(0, now - since.at - (busy - since.busy)) : 0;
    return now - this.#start - (busy - this.#busyAtStart) - this.#queuedMs - queuing;
  }

  /** Runs `wait` (a queue, not I/O) without counting its time. */
  async excluding<T>(wait: () => Promise<T>): Promise<T> {
    if (this.#queuedSince) return await wait(); // already excluded
    const since = { at: performance.now(), busy: loopBusyMs() };
    this.#queuedSince = since;
    try {
      return await wait();
    } finally {
      this.#queuedSince = null;
      // Blocked time inside the wait is already excluded once.
      this.#queuedMs += Math.max(0, performance.now() - since.at - (loopBusyMs() - since.busy));
    }
  }

  /** Disarms the deadline (idempotent). */
  clear(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    _releaseMonitor();
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(1, ms));
  }

  #check(): void {
    if (this.#done) return;
    const left = this.#timeoutMs - this.usedMs();
    if (left > 0) return this.#arm(left);
    this.clear();
    this.#onExpire();
  }
}

/**
 * Waits for an operation that takes no signal (a DNS lookup, `Deno.connect`) until it
 * settles or `signal` aborts, whichever comes first: an abort rejects with the signal's
 * reason, and a value that arrives after it is handed to `dispose` (a socket to close).
 * @example
 * const conn = await untilAborted(Deno.connect({ hostname, port }), signal, (c) => c.close());
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  dispose?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) dispose?.(value);
      else resolve(value);
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}
