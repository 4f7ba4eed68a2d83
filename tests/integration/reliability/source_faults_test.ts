/**
 * Source fault suite: every way a site can misbehave, played by a real fault server on
 * 127.0.0.1 and met by the real job on the local stack (gateway → edge function →
 * pipeline → database). Faults run in batches, each one run of the job with the faulty
 * sources plus two healthy ones: the run ends `partial` (or `succeeded` for faults that are
 * no error), each faulty source fails with its class and a readable message (in
 * job_run_sources and in JobResult.errors), every healthy source succeeds, and the
 * function server stays within its 256 MB memory budget.
 *
 * One test per fault, named after it, so `--filter "gzip bomb"` reproduces one case; the
 * batch a test belongs to runs once, in the first test that needs it (the deadline batch
 * waits for FETCH_TIMEOUT_MS, 30 s, once for all its faults).
 */
import assert from "node:assert/strict";
import type { ErrorClass } from "../../../shared/types.ts";
import type { RunDetails } from "../../../shared/jobs/types.ts";
import { type FaultName, HUGE_BYTES, startFaultServer } from "../../fixtures/fault_server.ts";
import { serviceDb, sqlClient } from "../_stack.ts";
import {
  functionWorkerPids,
  type ProcessMemory,
  processMemory,
  resetPeakMemory,
  servicePid,
  startRunAsync,
  waitRun,
} from "./_api.ts";

/** Memory budget of an edge function invocation (Supabase: 256 MB). */
const MEMORY_BUDGET_KB = 256 * 1024;
/** The function server's default FETCH_TIMEOUT_MS and FETCH_MAX_BYTES. */
const TIMEOUT_MS = 30_000;
const MAX_BYTES = 10 * 1024 * 1024;

type Batch = "deadline" | "errors" | "benign" | "bomb" | "bombs";

/** What a fault must do to its source. */
type Expected =
  | { class: ErrorClass; detail: RegExp; requests?: number }
  | { succeeds: true; text: RegExp; contentType?: string };

interface FaultCase {
  fault: FaultName;
  /** Words for the test name (the --filter handle). */
  title: string;
  batch: Exclude<Batch, "bombs">;
  expected: Expected;
}

const PORT = "127\\.0\\.0\\.1:\\d+";

/** The catalogue; docs/reliability.md has the same table with observed outcomes. */
const CASES: FaultCase[] = [
  {
    fault: "dns_invalid_host",
    title: "DNS failure (.invalid host)",
    batch: "errors",
    expected: {
      class: "dns",
      detail:
        /^DNS lookup failed: policies\.fault-server\.invalid does not exist \(\.invalid is never resolvable\)$/,
    },
  },
  {
    fault: "connection_refused",
    title: "connection refused",
    batch: "errors",
    expected: {
      class: "connect",
      detail: /^connection failed: .*Connection refused \(os error 111\)$/,
    },
  },
  {
    fault: "reset_mid_body",
    title: "reset mid-body",
    batch: "errors",
    expected: {
      class: "connect",
      detail: /^connection failed: error reading a body from connection$/,
      requests: 3,
    },
  },
  {
    fault: "closed_mid_body",
    title: "connection closed mid-body",
    batch: "errors",
    expected: {
      class: "connect",
      detail: /^connection failed: error reading a body from connection$/,
      requests: 3,
    },
  },
  {
    fault: "never_answers",
    title: "server accepts and never answers",
    batch: "deadline",
    expected: { class: "timeout", detail: new RegExp(`^timed out after ${TIMEOUT_MS} ms$`) },
  },
  {
    fault: "drip_headers",
    title: "headers dripped 1 byte per second",
    batch: "deadline",
    expected: { class: "timeout", detail: new RegExp(`^timed out after ${TIMEOUT_MS} ms$`) },
  },
  {
    fault: "drip_body",
    title: "body dripped 1 byte per second",
    batch: "deadline",
    expected: { class: "timeout", detail: new RegExp(`^timed out after ${TIMEOUT_MS} ms$`) },
  },
  {
    fault: "http_404",
    title: "HTTP 404",
    batch: "errors",
    expected: {
      class: "http_4xx",
      detail: new RegExp(`^HTTP 404 Not Found from http://${PORT}/http_404$`),
      requests: 1,
    },
  },
  {
    fault: "http_410",
    title: "HTTP 410",
    batch: "errors",
    expected: {
      class: "http_4xx",
      detail: new RegExp(`^HTTP 410 Gone from http://${PORT}/http_410$`),
      requests: 1,
    },
  },
  {
    fault: "http_500",
    title: "HTTP 500",
    batch: "errors",
    expected: {
      class: "http_5xx",
      detail: new RegExp(`^HTTP 500 Internal Server Error from http://${PORT}/http_500$`),
      requests: 3,
    },
  },
  {
    fault: "http_503_retry_after",
    title: "HTTP 503 with Retry-After: 1",
    batch: "errors",
    expected: {
      class: "http_5xx",
      detail: new RegExp(`^HTTP 503 Service Unavailable from http://${PORT}/http_503_retry_after$`),
      requests: 3,
    },
  },
  {
    fault: "http_503_retry_after_too_long",
    title: "HTTP 503 with Retry-After: 3600",
    batch: "errors",
    expected: {
      class: "http_5xx",
      detail:
        /^HTTP 503 Service Unavailable from .* \(server asked to retry after 3600000 ms, more than 10000 ms\)$/,
      requests: 1,
    },
  },
  {
    fault: "http_429",
    title: "HTTP 429",
    batch: "errors",
    expected: {
      class: "http_4xx",
      detail: new RegExp(`^HTTP 429 Too Many Requests from http://${PORT}/http_429$`),
      requests: 3,
    },
  },
  {
    fault: "redirect_loop",
    title: "redirect loop",
    batch: "errors",
    expected: {
      class: "too_many_redirects",
      detail: new RegExp(`^more than 5 redirects \\(last from http://${PORT}/redirect_loop\\)$`),
      requests: 6,
    },
  },
  {
    fault: "redirect_without_location",
    title: "redirect without Location",
    batch: "errors",
    expected: { class: "parse", detail: /^HTTP 302 redirect without a Location header from / },
  },
  {
    fault: "redirect_to_metadata",
    title: "redirect to the cloud metadata address 169.254.169.254",
    batch: "errors",
    expected: {
      class: "blocked",
      detail: /^refused 169\.254\.169\.254: metadata address not allowed$/,
      requests: 1,
    },
  },
  {
    fault: "redirect_to_metadata_mapped_ipv6",
    title: "redirect to the metadata address as IPv4-mapped IPv6",
    batch: "errors",
    expected: {
      class: "blocked",
      detail: /^refused ::ffff:a9fe:a9fe: metadata address not allowed$/,
    },
  },
  {
    fault: "redirect_to_metadata_decimal",
    title: "redirect to the metadata address as a decimal number",
    batch: "errors",
    expected: {
      class: "blocked",
      detail: /^refused 169\.254\.169\.254: metadata address not allowed$/,
    },
  },
  {
    fault: "redirect_to_metadata_name",
    title: "redirect to metadata.google.internal",
    batch: "errors",
    expected: {
      class: "blocked",
      detail: /^refused metadata\.google\.internal: cloud metadata endpoint$/,
    },
  },
  {
    fault: "redirect_to_unspecified",
    title: "redirect to 0.0.0.0",
    batch: "errors",
    expected: { class: "blocked", detail: /^refused 0\.0\.0\.0: unspecified address not allowed$/ },
  },
  {
    fault: "metadata_address",
    title: "source URL on the metadata address",
    batch: "errors",
    expected: {
      class: "blocked",
      detail: /^refused 169\.254\.169\.254: metadata address not allowed$/,
    },
  },
  {
    fault: "huge_body_chunked",
    title: "50 MB body (chunked)",
    batch: "errors",
    expected: {
      class: "too_large",
      detail: new RegExp(`^body exceeds the cap of ${MAX_BYTES} bytes$`),
    },
  },
  {
    fault: "huge_body_declared",
    title: "50 MB body (declared Content-Length)",
    batch: "errors",
    expected: {
      class: "too_large",
      detail: new RegExp(`^body of ${HUGE_BYTES} bytes exceeds the cap of ${MAX_BYTES} bytes$`),
    },
  },
  {
    fault: "gzip_bomb",
    title: "gzip bomb (1 GB of spaces in 1 MB)",
    batch: "bomb",
    expected: {
      class: "too_large",
      detail: new RegExp(`^body exceeds the cap of ${MAX_BYTES} bytes$`),
    },
  },
  {
    fault: "gzip_corrupt",
    title: "corrupt gzip body",
    batch: "errors",
    expected: {
      class: "parse",
      // Deno 2.1.4 (the hosted runtime's) inflates in fetch() whatever accept-encoding says,
      // and its error is classified as parse by classifyFetchError().
      detail: /^(gzip body does not decode|cannot decode the response body): /,
    },
  },
  {
    fault: "html_without_text",
    title: "HTML without text",
    batch: "errors",
    expected: { class: "parse", detail: /^no text found in the text\/html document$/ },
  },
  {
    fault: "corrupt_pdf",
    title: "corrupt PDF",
    batch: "errors",
    expected: { class: "parse", detail: /^cannot read PDF: / },
  },
  {
    fault: "empty_body",
    title: "empty body",
    batch: "errors",
    expected: { class: "parse", detail: /^no text found in the text\/html document$/ },
  },
  {
    fault: "unsupported_type",
    title: "image served instead of a page",
    batch: "errors",
    expected: {
      class: "unsupported_content",
      detail: /^unsupported content type image\/png: only HTML, PDF, plain text and JSON are read$/,
    },
  },
  {
    fault: "tls_self_signed",
    title: "TLS error (self-signed certificate)",
    batch: "errors",
    expected: { class: "tls", detail: /^TLS failed: .*invalid peer certificate/ },
  },
  {
    fault: "invalid_utf8",
    title: "invalid UTF-8",
    batch: "benign",
    expected: { succeeds: true, text: /Visa fee \uFFFD+ 719 GBP/ },
  },
  {
    fault: "lying_charset_utf8",
    title: "lying charset (says UTF-8, is windows-1252)",
    batch: "benign",
    expected: { succeeds: true, text: /Geb\uFFFDhr: 719 EUR/ },
  },
  {
    fault: "lying_charset_latin1",
    title: "lying charset (says ISO-8859-1, is UTF-8)",
    batch: "benign",
    expected: { succeeds: true, text: /GebÃ¼hr: 719 EUR/ },
  },
  {
    fault: "unknown_charset",
    title: "unknown charset",
    batch: "benign",
    expected: { succeeds: true, text: /Fee: 719 EUR/ },
  },
  {
    fault: "malformed_html",
    title: "malformed HTML",
    batch: "benign",
    expected: { succeeds: true, text: /Rule one[\s\S]*Fee 719[\s\S]*Rule two/ },
  },
  {
    fault: "pdf_as_html",
    title: "PDF served as text/html",
    batch: "benign",
    expected: {
      succeeds: true,
      text: /Part 1: rules for applicants/,
      contentType: "application/pdf",
    },
  },
];

/** A source's outcome in the run, with its row and its latest snapshot. */
interface OutcomeRow {
  id: string;
  status: string;
  error_class: string | null;
  error_message: string | null;
  last_error_class: string | null;
  last_error: string | null;
  consecutive_failures: number;
  content: string | null;
  content_type: string | null;
}

/** What one batch run produced, read before its sources were removed. */
interface BatchResult {
  run: RunDetails;
  /** Source of each key of the batch ("gzip_bomb", "gzip_bomb#2", "healthy_a", ...). */
  ids: Map<string, { id: string; name: string }>;
  rows: Map<string, OutcomeRow>;
  hits: Map<FaultName, number>;
  bytesSent: Map<FaultName, number>;
  /** Each function worker's memory before the run and its peak during the run. */
  memory: Array<{ service: string; before: ProcessMemory; after: ProcessMemory }>;
}

/** The fault of a batch key: "gzip_bomb#2" plays gzip_bomb. */
function _fault(key: string): FaultName {
  return key.split("#")[0] as FaultName;
}

async function runBatch(keys: string[]): Promise<BatchResult> {
  const tag = crypto.randomUUID().slice(0, 8);
  await using faults = await startFaultServer();
  faults.setPage("visa", ["Stay up to 90 days", "Passport valid for 3 months"]);
  faults.setPage("terms", ["Be kind", "No spam"]);
  const db = await serviceDb();
  const sql = sqlClient();
  const rows = [
    ...keys.map((key) => ({ key, name: `fault ${key} ${tag}`, url: faults.url(_fault(key)) })),
    { key: "healthy_a", name: `healthy visa ${tag}`, url: faults.pageUrl("visa") },
    { key: "healthy_b", name: `healthy terms ${tag}`, url: faults.pageUrl("terms") },
  ];
  const { data: created, error } = await db.from("sources")
    .insert(rows.map(({ name, url }) => ({ name, url })))
    .select("id, name");
  assert.equal(error, null, error?.message);
  const ids = new Map(rows.map((r, i) => [r.key, created![i]!]));
  const allIds = created!.map((s) => s.id as string);
  try {
    const workers = await functionWorkerPids();
    const before = new Map<string, ProcessMemory>();
    for (const [service, pid] of workers) before.set(service, await resetPeakMemory(pid));
    const runId = await startRunAsync(sql, { source_ids: allIds, force: true });
    const run = await waitRun(runId, 120_000);
    const memory: BatchResult["memory"] = [];
    for (const [service, pid] of workers) {
      assert.equal(
        await servicePid(service),
        pid,
        `${service} was restarted during the run (someone ran stack:start)`,
      );
      memory.push({ service, before: before.get(service)!, after: await processMemory(pid) });
    }
    const outcome = await sql<OutcomeRow[]>`
      select s.id, i.status, i.error_class, i.error_message, s.last_error_class, s.last_error,
             s.consecutive_failures, sn.content, sn.content_type
      from public.job_run_sources i
      join public.sources s on s.id = i.source_id
      left join public.snapshots sn on sn.id = s.last_snapshot_id
      where i.run_id = ${runId}`;
    const played = [...new Set(keys.map(_fault))];
    return {
      run,
      ids,
      rows: new Map(outcome.map((r) => [r.id, r])),
      hits: new Map(played.map((f) => [f, faults.hits(f)])),
      bytesSent: new Map(played.map((f) => [f, faults.bytesSent(f)])),
      memory,
    };
  } finally {
    await db.from("sources").delete().in("id", allIds);
    await sql.end();
  }
}

/** Prints each worker's memory around the run (docs/reliability.md quotes it). */
function logMemory(result: BatchResult, label: string): void {
  for (const { service, before, after } of result.memory) {
    console.log(
      `${service} (${label}): RSS ${Math.round(before.rssKb / 1024)} MB before the run, ` +
        `${Math.round(after.rssKb / 1024)} MB after, peak ${Math.round(after.hwmKb / 1024)} MB`,
    );
  }
}

/** Each worker's peak during the run must stay under the budget. */
function assertMemoryBudget(result: BatchResult, label: string): void {
  logMemory(result, label);
  for (const { service, before, after } of result.memory) {
    assert.ok(
      after.hwmKb < MEMORY_BUDGET_KB,
      `${service} peaked at ${after.hwmKb} kB during the run (RSS ${before.rssKb} kB before ` +
        `it): over the ${MEMORY_BUDGET_KB} kB budget`,
    );
  }
}

/** The batches: which faults share a run (each with the two healthy sources). */
const BATCHES: Record<Batch, { title: string; keys: string[] }> = {
  errors: { title: "faults that fail fast", keys: [] },
  benign: { title: "faults that are no error", keys: [] },
  deadline: { title: "faults that need the 30 s deadline", keys: [] },
  bomb: { title: "gzip bomb", keys: [] },
  bombs: { title: "two gzip bombs", keys: ["gzip_bomb#1", "gzip_bomb#2"] },
};
for (const c of CASES) BATCHES[c.batch].keys.push(c.fault);

const results = new Map<Batch, Promise<BatchResult>>();
/** The batch's run, started by the first test that needs it. */
function batchResult(batch: Batch): Promise<BatchResult> {
  let result = results.get(batch);
  if (!result) {
    result = runBatch(BATCHES[batch].keys);
    results.set(batch, result);
  }
  return result;
}

for (const batch of ["errors", "benign", "deadline", "bomb"] as const) {
  const cases = CASES.filter((c) => c.batch === batch);
  const failing = cases.filter((c) => "class" in c.expected).length;
  // The bomb's memory is the subject of its own (ignored, failing) test below.
  const checksMemory = batch !== "bomb";

  Deno.test(
    `source faults (${BATCHES[batch].title}): one run with ${cases.length} faulty and 2 healthy ` +
      `sources ends ${failing > 0 ? "partial" : "succeeded"}` +
      (checksMemory ? ", every function worker within its memory budget" : ""),
    async () => {
      const result = await batchResult(batch);
      const { run, ids, rows } = result;
      assert.equal(run.status, failing > 0 ? "partial" : "succeeded", JSON.stringify(run.errors));
      assert.equal(run.sources_processed, cases.length + 2);
      assert.equal(run.sources_failed, failing);
      assert.equal(run.sources_succeeded, cases.length + 2 - failing);
      assert.equal(run.errors.length, failing);
      assert.deepEqual(run.progress, { done: cases.length + 2, total: cases.length + 2 });
      assert.ok(run.completed_at !== null);
      for (const key of ["healthy_a", "healthy_b"] as const) {
        const row = rows.get(ids.get(key)!.id)!;
        assert.equal(row.status, "succeeded", `${key}: ${row.error_message}`);
        assert.equal(row.consecutive_failures, 0);
        assert.match(row.content ?? "", key === "healthy_a" ? /Stay up to 90 days/ : /Be kind/);
      }
      if (checksMemory) assertMemoryBudget(result, `${batch} batch`);
      else logMemory(result, `${batch} batch`);
    },
  );

  for (const c of cases) {
    const expected = c.expected;
    const name = "class" in expected
      ? `source fault: ${c.title} fails its source as ${expected.class} while healthy sources succeed`
      : `source fault: ${c.title} is no error: the source succeeds with readable text`;
    Deno.test(name, async () => {
      const result = await batchResult(batch);
      const source = result.ids.get(c.fault)!;
      const row = result.rows.get(source.id);
      assert.ok(row, `job_run_sources has the ${c.fault} source`);
      for (const key of ["healthy_a", "healthy_b"] as const) {
        assert.equal(result.rows.get(result.ids.get(key)!.id)?.status, "succeeded", key);
      }
      if ("class" in expected) {
        assert.equal(row.status, "failed");
        assert.equal(row.error_class, expected.class, row.error_message ?? "");
        const prefix = `Cannot fetch source ${source.id}: `;
        const message = row.error_message ?? "";
        assert.ok(message.startsWith(prefix), message || "no message");
        const detail = message.slice(prefix.length);
        assert.match(detail, expected.detail);
        assert.doesNotMatch(detail, /undefined|\[object |\.$/);
        assert.ok(
          result.run.errors.includes(
            `source ${source.id} (${source.name}): ${expected.class}: ${detail}`,
          ),
          `JobResult.errors has the ${c.fault} line: ${JSON.stringify(result.run.errors)}`,
        );
        assert.equal(row.last_error_class, expected.class);
        assert.equal(row.last_error, row.error_message);
        assert.equal(row.consecutive_failures, 1);
        if (expected.requests !== undefined) {
          assert.equal(result.hits.get(c.fault), expected.requests, "requests the site received");
        }
      } else {
        assert.equal(row.status, "succeeded", row.error_message ?? "");
        assert.equal(row.error_class, null);
        assert.match(row.content ?? "", expected.text);
        if (expected.contentType) assert.equal(row.content_type, expected.contentType);
        assert.ok(
          !result.run.errors.some((e) => e.includes(source.id)),
          "no error line for the source",
        );
      }
      // Streaming faults: the body stopped being read at the cap, not at 50 MB.
      if (c.fault === "huge_body_chunked" || c.fault === "huge_body_declared") {
        assert.ok(
          (result.bytesSent.get(c.fault) ?? 0) < HUGE_BYTES,
          `${result.bytesSent.get(c.fault)} bytes sent`,
        );
      }
      if (c.fault === "drip_body") {
        // The read stops at the deadline (one byte a second: ~30), not at the 4,096th second.
        // The deadline counts I/O time only (io_deadline.ts: host-limiter and body-budget
        // waits are not counted) and the server drips by its own clock, so a loaded machine
        // sees a few more bytes than seconds: the bound is twice the deadline.
        const dripped = result.bytesSent.get(c.fault) ?? 0;
        assert.ok(dripped < (2 * TIMEOUT_MS) / 1000, `dripped bytes: ${dripped}`);
      }
    });
  }
}

Deno.test({
  // Regression test of a fixed bug, (shared/pipeline/fetcher.ts, _readCapped + Deno's built-in gzip decoding): the
  // 10 MB cap counts decoded bytes, but Deno's fetch inflates ahead of the reader, so each
  // gzip bomb costs a worker about 110 MB of RSS that is never given back (one bomb: ~100
  // -> ~210 MB; two at once: ~320 MB; four: ~550 MB, measured in a plain process). With
  // FETCH_GLOBAL_CONCURRENCY = 32 sources in flight, two bombs in one run exceed the
  // 256 MB budget of an edge function. See docs/reliability.md.
  name:
    "source fault: two gzip bombs in one run keep every function worker within its memory budget",
  async fn() {
    const result = await batchResult("bombs");
    for (const key of ["gzip_bomb#1", "gzip_bomb#2"]) {
      assert.equal(result.rows.get(result.ids.get(key)!.id)?.error_class, "too_large", key);
    }
    assertMemoryBudget(result, "two gzip bombs");
  },
});
