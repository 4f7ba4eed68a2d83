/**
 * Per-host concurrency limit and politeness delay, shared by all the sources fetched in
 * one invocation so that twenty sources on one government site are not fetched at once.
 * @module
 */
import type { Clock } from "../types.ts";
import { sleep as realSleep, type SleepFn } from "../sleep.ts";

/** Options of {@link HostLimiter}. */
export interface HostLimiterOptions {
  /** Requests in flight to one host at most (FETCH_PER_HOST_CONCURRENCY). */
  perHost: number;
  /** Minimum time between the starts of two requests to one host (FETCH_POLITENESS_DELAY_MS). */
  politenessDelayMs: number;
  /** Time source; default the system clock. */
  clock?: Clock;
  /** Wait used for the politeness delay; default a real timer. */
  sleep?: SleepFn;
}

interface _HostState {
  active: number;
  nextStartAt: number;
  waiters: Array<() => void>;
}

/**
 * Grants slots per host. `acquire` resolves to a release function once the host has a
 * free slot and the politeness delay since the previous start has passed.
 * @example
 * const limiter = new HostLimiter({ perHost: 2, politenessDelayMs: 500 });
 * const release = await limiter.acquire("www.gov.uk", signal);
 * try { await fetch(url) } finally { release() }
 */
export class HostLimiter {
  readonly #options: Required<HostLimiterOptions>;
  readonly #hosts = new Map<string, _HostState>();

  /**
   * Creates a limiter with no hosts busy.
   * @param options limits and injected clock/sleep
   */
  constructor(options: HostLimiterOptions) {
    this.#options = {
      clock: () => new Date(),
      sleep: realSleep,
      ...options,
      perHost: Math.max(1, options.perHost),
    };
  }

  /** Requests in flight to a host (for tests and logs). */
  active(host: string): number {
    return this.#hosts.get(host)?.active ?? 0;
  }

  /** Waits for a slot on `host`; rejects with the signal's reason if it aborts first. */
  async acquire(host: string, signal?: AbortSignal): Promise<() => void> {
    const state = this.#state(host);
    if (state.active >= this.#options.perHost) await this.#queue(state, signal);
    else state.active++;
    const release = this.#releaser(host, state);
    try {
      const now = this.#options.clock().getTime();
      const startAt = Math.max(now, state.nextStartAt);
      state.nextStartAt = startAt + this.#options.politenessDelayMs;
      if (startAt > now) await this.#options.sleep(startAt - now, signal);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /**
   * A slot on `host` at once, as {@link acquire} would grant it without waiting (a free
   * slot, the politeness delay since the previous start passed), or null: then call
   * {@link acquire}.
   */
  tryAcquire(host: string): (() => void) | null {
    const state = this.#state(host);
    if (state.active >= this.#options.perHost) return null;
    const now = this.#options.clock().getTime();
    if (state.nextStartAt > now) return null;
    state.active++;
    state.nextStartAt = now + this.#options.politenessDelayMs;
    return this.#releaser(host, state);
  }

  /** The release of one granted slot: gives it back once, however often it is called. */
  #releaser(host: string, state: _HostState): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(host, state);
    };
  }

  #state(host: string): _HostState {
    let state = this.#hosts.get(host);
    if (!state) {
      state = { active: 0, nextStartAt: 0, waiters: [] };
      this.#hosts.set(host, state);
    }
    return state;
  }

  #queue(state: _HostState, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(); // the slot was handed over: active already counts it
      };
      const onAbort = () => {
        const i = state.waiters.indexOf(grant);
        if (i >= 0) state.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      state.waiters.push(grant);
    });
  }

  #release(host: string, state: _HostState): void {
    const next = state.waiters.shift();
    if (next) return next(); // hand the slot over without freeing it
    state.active--;
    if (state.active === 0 && state.waiters.length === 0) {
      const idleFor = state.nextStartAt - this.#options.clock().getTime();
      if (idleFor <= 0) this.#hosts.delete(host);
    }
  }
}
