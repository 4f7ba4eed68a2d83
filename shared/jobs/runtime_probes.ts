/**
 * What the invocation budget reads from the runtime besides the clock and CPU (worker age,
 * isolate memory, the shutdown notice), and the ledger of what every invocation in one
 * isolate holds in flight: the runtime counts CPU per worker (shared/jobs/budget.ts).
 * @module
 */

/** What the budget reads from the runtime besides the clock and CPU; injectable for tests. */
export interface BudgetProbes {
  /** Milliseconds since the isolate (worker) started; 0 outside the edge runtime. */
  workerAgeMs(): number;
  /** Heap + external memory of the isolate in bytes; 0 outside the edge runtime. */
  memoryBytes(): number;
  /** The reason of the runtime's shutdown notice once it arrived, else null. */
  shutdownReason(): string | null;
}

/** How long a memory reading serves (the budget asks at every wake of the work loop). */
const MEMORY_READING_MS = 50;

/** The shutdown reason heard on each event target (globalThis in the runtime). */
const heard = new WeakMap<EventTarget, { reason: string | null }>();

/**
 * The runtime's readings, as the edge function sees them. Outside the edge runtime
 * (`EdgeRuntime` undefined: plain Deno, tests) there is no worker wall clock, memory limit or
 * shutdown notice to heed, so those read 0 / null.
 */
export function runtimeProbes(
  options: { target?: EventTarget; inEdgeRuntime?: boolean } = {},
): BudgetProbes {
  const target = options.target ?? globalThis;
  const edge = options.inEdgeRuntime ?? "EdgeRuntime" in globalThis;
  let state = heard.get(target);
  if (state === undefined && edge) {
    // One listener per target: the notice is about the whole worker, every invocation in it.
    const created = { reason: null as string | null };
    state = created;
    heard.set(target, created);
    target.addEventListener("beforeunload", (event) => {
      created.reason = String(
        (event as CustomEvent<{ reason?: unknown }>).detail?.reason ?? "unknown",
      );
    });
  }
  // Deno.memoryUsage() reads the process's RSS from the OS as well: asked at every wake of
  // the work loop, its op held 300 ms of the workers' profiled CPU over a baseline and a
  // change run of 2,000 sources (0.5 %); a reading at most 50 ms old serves the same stop.
  let memory = { at: -Infinity, bytes: 0 };
  return {
    workerAgeMs: () => (edge ? performance.now() : 0),
    memoryBytes: () => {
      if (!edge) return 0;
      const now = performance.now();
      if (now - memory.at >= MEMORY_READING_MS) {
        const m = Deno.memoryUsage();
        memory = { at: now, bytes: m.heapUsed + m.external };
      }
      return memory.bytes;
    },
    shutdownReason: () => (edge ? state?.reason ?? null : null),
  };
}

/**
 * The items in flight of every invocation in one isolate (worker), which share its CPU:
 * the runtime retires a worker at its soft limit and ends it at 2 s with what it still runs,
 * so what a worker holds in flight, whichever invocation holds it, must fit in what is left
 * after a retirement. One per isolate by default ({@link ISOLATE}); tests make their own.
 */
export interface IsolateLedger {
  /** The budgets of this isolate with items in flight: each gives its estimate of them (ms). */
  holders: Set<() => number>;
  /**
   * What the items this isolate's invocations of one run (`run`) finished were charged
   * (before the safety factor): a later invocation of that run in the worker starts from
   * their mean, not from the constant prior (a run's pages cost alike, and this worker
   * measured them). Another run's pages may not: an invocation of another run starts from
   * the prior, and its first finished item starts the ledger anew for its run.
   */
  settled: { run: string | null; items: number; ms: number };
}

/**
 * This isolate's ledger: module state is per isolate (worker) in the edge runtime, the
 * default there. Elsewhere (plain Deno: tests, a process running many invocations that
 * stand for many workers) each budget gets its own.
 */
export const ISOLATE: IsolateLedger = {
  holders: new Set(),
  settled: { run: null, items: 0, ms: 0 },
};

/** A fresh ledger (tests; a process that is not one isolate). */
export function isolateLedger(): IsolateLedger {
  return { holders: new Set(), settled: { run: null, items: 0, ms: 0 } };
}
