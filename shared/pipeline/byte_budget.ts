/**
 * A byte budget shared by the bodies being read in one invocation
 * (FETCH_BODY_BUDGET_BYTES), instead of FETCH_GLOBAL_CONCURRENCY × FETCH_MAX_BYTES
 * (64 × 10 MB) in the worst case. A body reader takes bytes as chunks arrive and its
 * lease gives them back when the pipeline is done with the body (after extraction); a
 * reader that cannot get bytes waits (its socket is not read meanwhile, so the server is
 * slowed by TCP, not buffered by us).
 *
 * No deadlock: the oldest lease that holds bytes always gets what it asks for, so it can
 * finish and release; the bound is therefore the budget plus one body cap.
 * @module
 */

/** One reader's share; see {@link ByteBudget.lease}. */
export interface BudgetLease {
  /** Waits until `bytes` more are granted; rejects with the signal's reason. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
  /** Takes `bytes` at once when {@link take} would grant them without waiting; else false. */
  tryTake(bytes: number): boolean;
  /** Bytes held. */
  held(): number;
  /** Gives every held byte back (idempotent; the lease can take again). */
  release(): void;
}

interface _Lease extends BudgetLease {
  readonly id: number;
  bytes: number;
}

interface _Waiter {
  lease: _Lease;
  bytes: number;
  grant: () => void;
}

/**
 * The shared budget.
 * @example
 * const budget = new ByteBudget(32 * 1024 * 1024);
 * const lease = budget.lease();
 * try { await lease.take(chunk.byteLength, signal); } finally { lease.release(); }
 */
export class ByteBudget {
  readonly #total: number;
  #used = 0;
  #nextId = 0;
  readonly #holders = new Set<_Lease>();
  readonly #waiters: _Waiter[] = [];

  /** A budget of `total` bytes. */
  constructor(total: number) {
    this.#total = total;
  }

  /** Bytes granted now (for tests and logs). */
  used(): number {
    return this.#used;
  }

  /** A new lease, holding nothing. */
  lease(): BudgetLease {
    const lease: _Lease = {
      id: this.#nextId++,
      bytes: 0,
      held: () => lease.bytes,
      take: (bytes, signal) => this.#take(lease, bytes, signal),
      tryTake: (bytes) => this.#tryTake(lease, bytes),
      release: () => this.#release(lease),
    };
    return lease;
  }

  #oldestHolder(): _Lease | undefined {
    let oldest: _Lease | undefined;
    for (const l of this.#holders) if (!oldest || l.id < oldest.id) oldest = l;
    return oldest;
  }

  #canGrant(lease: _Lease, bytes: number): boolean {
    if (this.#used + bytes <= this.#total) return true;
    const oldest = this.#oldestHolder();
    return oldest === undefined || oldest === lease;
  }

  #grant(lease: _Lease, bytes: number): void {
    lease.bytes += bytes;
    this.#used += bytes;
    this.#holders.add(lease);
  }

  #tryTake(lease: _Lease, bytes: number): boolean {
    if (this.#waiters.length > 0 || !this.#canGrant(lease, bytes)) return false;
    this.#grant(lease, bytes);
    return true;
  }

  #take(lease: _Lease, bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#tryTake(lease, bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: _Waiter = {
        lease,
        bytes,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
        this.#drain();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#drain();
    });
  }

  #release(lease: _Lease): void {
    this.#used -= lease.bytes;
    lease.bytes = 0;
    this.#holders.delete(lease);
    this.#drain();
  }

  /** Grants waiters in order; the oldest holder may jump the queue (no deadlock). */
  #drain(): void {
    for (let i = 0; i < this.#waiters.length;) {
      const w = this.#waiters[i]!;
      if (this.#canGrant(w.lease, w.bytes) && (i === 0 || w.lease === this.#oldestHolder())) {
        this.#waiters.splice(i, 1);
        this.#grant(w.lease, w.bytes);
        w.grant();
        i = 0;
        continue;
      }
      i++;
    }
  }
}
