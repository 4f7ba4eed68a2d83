/**
 * Every number that tunes behaviour, in one place: read from the environment with
 * defaults and validated by zod at start-up. Modules take the slice they need as a
 * parameter; only entry points call {@link loadConfig}.
 * @module
 */
import { z } from "zod";

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const bool = (def: boolean) =>
  z.enum(["true", "false", "1", "0"]).default(def ? "true" : "false").transform((v) =>
    v === "true" || v === "1"
  );

/** Environment variables and their defaults. */
export const ConfigSchema = z.object({
  // Fetch pipeline
  FETCH_TIMEOUT_MS: int(30_000, 100, 600_000),
  FETCH_MAX_BYTES: int(10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
  FETCH_MAX_REDIRECTS: int(5, 0, 20),
  FETCH_RETRIES: int(2, 0, 10),
  FETCH_RETRY_BASE_MS: int(500, 0, 60_000),
  FETCH_RETRY_MAX_WAIT_MS: int(10_000, 0, 300_000),
  FETCH_PER_HOST_CONCURRENCY: int(4, 1, 100),
  FETCH_POLITENESS_DELAY_MS: int(0, 0, 60_000),
  FETCH_GLOBAL_CONCURRENCY: int(64, 1, 1000),
  FETCH_ALLOW_PRIVATE_NETWORKS: bool(false),
  // Loopback only (127.0.0.0/8, ::1): the local stack fetches its demo site on loopback
  // while private networks and cloud metadata addresses stay refused.
  FETCH_ALLOW_LOOPBACK: bool(false),
  // Diff of a change: lines of context, size cap of the stored diff, time budget of jsdiff.
  FETCH_DIFF_CONTEXT_LINES: int(3, 0, 100),
  FETCH_DIFF_MAX_CHARS: int(200_000, 1_000, 20_000_000),
  FETCH_DIFF_TIMEOUT_MS: int(1_000, 10, 60_000),
  // Bounds of extraction (docs/reliability.md, "Bounds"): text of any kind, PDF inflated
  // bytes (all FlateDecode streams together), PDF pages, time of one extraction, JSON depth.
  FETCH_MAX_TEXT_CHARS: int(4_000_000, 1_000, 100_000_000),
  FETCH_PDF_MAX_INFLATED_BYTES: int(32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  FETCH_PDF_MAX_PAGES: int(2_000, 1, 1_000_000),
  FETCH_EXTRACT_TIMEOUT_MS: int(20_000, 100, 600_000),
  FETCH_JSON_MAX_DEPTH: int(100, 1, 10_000),
  // Body bytes all fetches of one invocation may hold at once (byte_budget.ts); the worst
  // case is this plus one FETCH_MAX_BYTES, instead of FETCH_GLOBAL_CONCURRENCY × it.
  FETCH_BODY_BUDGET_BYTES: int(16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  FETCH_USER_AGENT: z.string().min(1).default(
    "PolicyChangeMonitor/1.0 (+https://github.com/policy-monitor; policy change checker)",
  ),
  // Browser render mode (sources.render = 'browser'): a Chrome DevTools Protocol endpoint,
  // ws(s)://… (a hosted browser service; a token in its query is never logged) or
  // http://host:port of a local Chromium's remote debugging (discovered via /json/version).
  // Empty: browser sources fail with error class `browser`.
  BROWSER_WS_ENDPOINT: z.string().default("").refine(
    (v) => v === "" || /^(wss?|https?):\/\/[^\s]+$/i.test(v),
    "must be a ws://, wss://, http:// or https:// URL",
  ),
  // Time to connect to the browser and open a page; past it the browser counts as down.
  // (A new page starts a renderer process: seconds on a loaded machine.)
  BROWSER_CONNECT_TIMEOUT_MS: int(10_000, 100, 120_000),
  // Navigation of the page until its load event (redirects included).
  BROWSER_NAVIGATION_TIMEOUT_MS: int(20_000, 100, 300_000),
  // After load: wait at most this long for the network to be idle (scripts writing text).
  BROWSER_SETTLE_MS: int(3_000, 0, 60_000),
  // Browser pages open at once per invocation (each costs the browser ~20–60 MB).
  BROWSER_CONCURRENCY: int(2, 1, 32),
  // Alerts
  ALERT_TIMEOUT_MS: int(10_000, 100, 120_000),
  ALERT_MAX_ATTEMPTS: int(5, 1, 50),
  ALERT_BACKOFF_BASE_MS: int(60_000, 0, 86_400_000),
  ALERT_CONCURRENCY: int(8, 1, 100),
  ALERT_FAILING_THRESHOLD: int(3, 1, 100),
  ALERT_BACKOFF_MAX_MS: int(6 * 3_600_000, 0, 7 * 86_400_000),
  ALERT_LEASE_MS: int(60_000, 1_000, 3_600_000),
  ALERT_BATCH_SIZE: int(50, 1, 1_000),
  // One retry pass (the alerts-deliver cron call, a run's start): at most this many alerts
  // (measured under the edge profile: ~1.2 ms CPU per alert sent, so 500 stay well inside
  // hosted's 2 s per worker) and no new claim after ALERT_PASS_WALL_MS, so the batch in
  // flight (≤ ALERT_BATCH_SIZE / ALERT_CONCURRENCY rounds of ALERT_TIMEOUT_MS) still ends
  // inside the 150 s worker wall clock; the next pass goes on with the rest.
  ALERT_RETRY_MAX_PER_CALL: int(500, 1, 100_000),
  ALERT_PASS_WALL_MS: int(45_000, 1_000, 400_000),
  ALERT_WEBHOOK_MAX_DIFF_BYTES: int(1024 * 1024, 1_024, 64 * 1024 * 1024),
  ALERT_EMAIL_MAX_DIFF_CHARS: int(50_000, 500, 1_000_000),
  EMAIL_API_URL: z.string().url().default("https://api.resend.com/emails"),
  EMAIL_API_KEY: z.string().default(""),
  EMAIL_FROM: z.string().default("Policy Monitor <alerts@example.com>"),
  // Job
  JOB_DUE_TOLERANCE_MS: int(5 * 60_000, 0, 86_400_000),
  JOB_RUN_DEADLINE_MS: int(2 * 3_600_000, 60_000, 7 * 86_400_000),
  // A claim's lease; a live invocation renews it every JOB_LEASE_RENEW_MS (at most a third of
  // it), so an expired lease means a dead invocation (shared/jobs/lease_heartbeat.ts).
  JOB_LEASE_MS: int(30_000, 1_000, 3_600_000),
  JOB_LEASE_RENEW_MS: int(10_000, 50, 3_600_000),
  // Longest a finished item waits to share its completion's round trip with others
  // (shared/jobs/work_loop.ts; never more than a third of JOB_LEASE_MS); 0: completions go
  // out as soon as the round trip before returned.
  JOB_COMPLETE_WITHIN_MS: int(1_000, 0, 60_000),
  // Claims of one item per run: after this many whose invocation died, the item fails as poison.
  JOB_ITEM_MAX_ATTEMPTS: int(3, 1, 100),
  // Items an invocation holds per request slot of a host holding at least 1/16 of the run's
  // items (job_claim_items p_slot_depth; one on the other hosts): the next item of a slot
  // starts when the previous one ends, after one small RPC (job_slot_start: a 429 another
  // invocation got holds it too) instead of a completion and a claim (docs/benchmarks.md
  // "Host request slots").
  JOB_HOST_SLOT_DEPTH: int(2, 1, 64),
  JOB_BATCH_SIZE: int(64, 1, 10_000),
  JOB_INVOCATION_MAX_ITEMS: int(2_000, 1, 1_000_000),
  // An invocation stops claiming after this wall time; a batch already claimed may still
  // take up to FETCH_TIMEOUT_MS, so 60 s + 30 s stays inside the free plan's 150 s.
  JOB_INVOCATION_WALL_MS: int(60_000, 1_000, 3_600_000),
  // Stop claiming after this much CPU where the runtime gives a CPU reading (plain Deno).
  JOB_INVOCATION_CPU_MS: int(1_500, 50, 3_600_000),
  // Where it gives none (the hosted edge runtime: process.cpuUsage() is 0), CPU is estimated
  // (shared/jobs/budget.ts): each finished item is charged its measured compute spans, an
  // overhead that grows with them (JOB_CPU_OVERHEAD_PER_COMPUTE_MS per ms: a larger page
  // costs more to fetch, decode and send) and a fixed one (JOB_CPU_OVERHEAD_MS_PER_ITEM),
  // each item in flight the running mean of those charges (started from
  // JOB_CPU_MS_PER_ITEM, weighted as JOB_CPU_PRIOR_ITEMS items), times a safety factor,
  // against a budget that leaves room for two invocations in one worker, which the runtime
  // ends at 2 s of CPU. Calibrated from outside the function (docs/benchmarks.md, "Budget
  // calibration"): 30 ≈ what a real page costs in the function (23.5–31.3 ms a source on
  // the corpus). The two overheads are fitted so that, with the safety factor, the charge
  // covers the worst run of BOTH kinds of page measured where spans read true CPU: corpus
  // (12.4 × 1.6 + 2) × 1.5 = 32.8 ≥ 31.3 ms, synthetic 40 KB (2.8 × 1.6 + 2) × 1.5 = 9.7 ≥
  // 4.4 ms (tests/unit/jobs/budget_test.ts checks both). One fixed overhead of 10 (before)
  // covered the corpus too but charged a synthetic page 19 ms, 4× its cost: invocations
  // were cut at ~28 sources, each cut a handover, a read of the run and claims.
  JOB_CPU_MS_PER_ITEM: z.coerce.number().positive().max(10_000).default(30),
  JOB_CPU_OVERHEAD_MS_PER_ITEM: z.coerce.number().min(0).max(10_000).default(2),
  JOB_CPU_OVERHEAD_PER_COMPUTE_MS: z.coerce.number().min(0).max(100).default(0.6),
  JOB_CPU_PRIOR_ITEMS: z.coerce.number().min(0).max(10_000).default(4),
  JOB_CPU_SAFETY_FACTOR: z.coerce.number().min(1).max(100).default(1.5),
  JOB_INVOCATION_CPU_ESTIMATE_MS: int(800, 10, 3_600_000),
  // The same estimate of the items in flight of all invocations in one worker together (a
  // worker retired at its 1 s soft limit finishes them before its 2 s end).
  JOB_WORKER_IN_FLIGHT_CPU_MS: int(800, 10, 3_600_000),
  // The edge runtime's wall clock of a worker (150 s free plan, 400 s paid): an invocation
  // claims no batch that could end after it.
  JOB_WORKER_WALL_MS: int(150_000, 1_000, 3_600_000),
  // Stop claiming when the isolate's heap + external memory reaches this (hosted: 256 MB a
  // worker, retired at half).
  JOB_INVOCATION_MAX_HEAP_MB: int(128, 16, 4_096),
  // Invocations working on one run at once (the first one starts the others).
  JOB_PARALLEL_INVOCATIONS: int(2, 1, 32),
  // A synchronous POST waits this long for other invocations to finish the run (it answers
  // 202 after API_SYNC_ANSWER_MS anyway: waiting longer only keeps the worker busy).
  JOB_SYNC_WAIT_MS: int(25_000, 0, 3_600_000),
  // A synchronous POST /jobs/daily-fetch answers within this; past it, 202 with Location and
  // the work goes on in the background (hosted answers 504 to a request idle for 150 s).
  API_SYNC_ANSWER_MS: int(25_000, 0, 3_600_000),
  // HTTP API: largest request body read (bigger ones are refused with 413 unread).
  API_MAX_BODY_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024),
  // Logging
  LOG_FORMAT: z.enum(["json", "text"]).default("json"),
  LOG_LEVEL: z.enum(["debug", "info", "warning", "error"]).default("info"),
  // Log events per 10 s at most (hosted keeps 100 per 10 s of a function and drops the rest);
  // past it events are dropped and counted in one warning. 0: no limit.
  LOG_MAX_EVENTS_PER_10S: int(90, 0, 1_000_000),
});

/** Validated configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/**
 * Reads and validates the configuration; throws a readable error listing every bad
 * variable.
 * @example
 * const config = loadConfig(Deno.env.toObject());
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== "") picked[key] = v;
  }
  const parsed = ConfigSchema.safeParse(picked);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid configuration: ${details}`);
  }
  return parsed.data;
}

/** The defaults, for tests and benches. */
export const DEFAULT_CONFIG: Config = loadConfig({});
