/**
 * What the function cost over a bench run, read from the local stack's logs: the workers'
 * CPU as the stack measures it from OUTSIDE the function (supabase/local/edge_runtime.ts
 * writes one line per request window to `edge-requests.log`), and what the invocations
 * measured and charged INSIDE (their closing `Invocation … done` lines in `functions*.log`).
 * The benches use it for the budget's calibration (shared/jobs/budget.ts).
 * @module
 */
import { LOG_DIR } from "../supabase/local/ports.ts";

/** One line of `edge-requests.log`. */
export interface RequestWindow {
  slot: string;
  worker: number;
  path: string;
  /** The worker's CPU over the window (overlapping windows are each charged all of it). */
  cpu_ms: number;
  isolate_mb_peak: number;
  /** The worker's own CPU since its boot at the window's arrival and at its end. */
  worker_cpu_ms_open?: number;
  worker_cpu_ms?: number;
}

/** Where the logs stood when a run started. */
export type LogOffsets = Map<string, number>;

/** What a run cost, from outside and from inside. */
export interface EdgeCpu {
  /** Windows of the job's own requests (start of a run, continuations). */
  jobWindows: RequestWindow[];
  /** Per worker, its last window's end − its first window's arrival, summed (main thread). */
  workersCpuMs: number;
  /** The most CPU one worker had used since its boot at a window's end (killed at 2 s). */
  maxWorkerCpuMs: number;
  /** Invocations that wrote their closing line. */
  invocations: number;
  /** Σ of the items they claimed (`handled`). */
  handled: number;
  /** Σ of their measured compute spans (`compute_ms`). */
  computeMs: number;
  /** Largest CPU estimate (or reading) one invocation reported. */
  maxInvocationCpuMs: number;
  maxInvocationRssMb: number;
  maxInvocationHeapMb: number;
}

const REQUESTS_LOG = `${LOG_DIR}/edge-requests.log`;

function _size(file: string): number {
  try {
    return Deno.statSync(file).size;
  } catch {
    return 0;
  }
}

function _functionLogs(): string[] {
  return [...Deno.readDirSync(LOG_DIR)].filter((e) => e.name.startsWith("functions"))
    .map((e) => `${LOG_DIR}/${e.name}`);
}

/** Lines appended to a log file since `offset`. */
export function linesSince(file: string, offset: number): string[] {
  try {
    const bytes = Deno.readFileSync(file);
    return new TextDecoder().decode(bytes.subarray(offset)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** The sizes of the function and request logs now (call before the run). */
export function logOffsets(): LogOffsets {
  return new Map([REQUESTS_LOG, ..._functionLogs()].map((f) => [f, _size(f)]));
}

/**
 * What the function cost since `offsets`; `runId` keeps the closing lines of that run's
 * invocations only (all of them without it).
 */
export function edgeCpuSince(offsets: LogOffsets, runId?: string): EdgeCpu {
  const all = linesSince(REQUESTS_LOG, offsets.get(REQUESTS_LOG) ?? 0).flatMap((l) => {
    try {
      return [JSON.parse(l) as RequestWindow];
    } catch {
      return [];
    }
  });
  const perWorker = new Map<string, { open: number; close: number }>();
  for (const w of all) {
    if (w.worker_cpu_ms === undefined || w.worker_cpu_ms_open === undefined) continue;
    const key = `${w.slot} ${w.worker}`;
    const seen = perWorker.get(key);
    perWorker.set(key, {
      open: Math.min(seen?.open ?? Infinity, w.worker_cpu_ms_open),
      close: Math.max(seen?.close ?? 0, w.worker_cpu_ms),
    });
  }
  const workers = [...perWorker.values()];
  const cost: EdgeCpu = {
    jobWindows: all.filter((w) => /\/jobs\/(daily-fetch|runs\/[^/]+\/continue)$/.test(w.path)),
    workersCpuMs: workers.reduce((t, w) => t + w.close - w.open, 0),
    maxWorkerCpuMs: Math.max(0, ...workers.map((w) => w.close)),
    invocations: 0,
    handled: 0,
    computeMs: 0,
    maxInvocationCpuMs: 0,
    maxInvocationRssMb: 0,
    maxInvocationHeapMb: 0,
  };
  for (const file of _functionLogs()) {
    for (const line of linesSince(file, offsets.get(file) ?? 0)) {
      if (!line.includes("Invocation") || (runId && !line.includes(runId))) continue;
      try {
        const p = JSON.parse(line).properties;
        if (p?.handled === undefined) continue;
        cost.invocations++;
        cost.handled += p.handled;
        cost.computeMs += p.compute_ms ?? 0;
        cost.maxInvocationCpuMs = Math.max(cost.maxInvocationCpuMs, p.cpu_ms ?? 0);
        cost.maxInvocationRssMb = Math.max(cost.maxInvocationRssMb, (p.rss_bytes ?? 0) / 1048576);
        cost.maxInvocationHeapMb = Math.max(
          cost.maxInvocationHeapMb,
          (p.heap_used_bytes ?? 0) / 1048576,
        );
      } catch { /* not JSON */ }
    }
  }
  return cost;
}
