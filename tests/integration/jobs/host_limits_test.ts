/**
 * Per-host limits across all the invocations of a run, decided in the database
 * (job_claim_items, private.run_hosts): eight invocations work on one run at once, each
 * with its own in-process HostLimiter (as separate edge invocations have), and a local
 * fixture server per host counts the requests in flight. Before the limits moved to the
 * database, the per-host maximum was FETCH_PER_HOST_CONCURRENCY × invocations.
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { reportThrottles } from "../../../shared/jobs/host_throttle.ts";
import {
  processDailyFetchRun,
  startDailyFetchRun,
} from "../../../shared/jobs/run_daily_fetch_job.ts";
import { processSourceItem, runSlotLanes } from "../../../shared/jobs/source_batch.ts";
import { toItemOutcome } from "../../../shared/jobs/source_task.ts";
import type { ClaimedItem } from "../../../shared/jobs/store.ts";
import { policyPage } from "../../fixtures/fault_server.ts";
import { serviceDb, sqlClient } from "../_stack.ts";
import { stackJobDeps } from "./_stack_job.ts";

const INVOCATIONS = 8;

/** One fixture host: serves /p/<n> after `latencyMs`, and records every request. */
interface Host extends AsyncDisposable {
  base: string;
  /** [start, end] in ms (performance.now()) of every request. */
  requests: Array<{ start: number; end: number; status: number }>;
  maxInFlight: number;
  /** Answer the next request with 429 and this Retry-After (seconds). */
  throttleNext(retryAfterS: number): void;
}

function startHost(latencyMs: number): Host {
  let inFlight = 0;
  let throttle: number | null = null;
  const host: Omit<Host, typeof Symbol.asyncDispose | "base"> = {
    requests: [],
    maxInFlight: 0,
    throttleNext(s) {
      throttle = s;
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const start = performance.now();
    let status = 200;
    inFlight++;
    host.maxInFlight = Math.max(host.maxInFlight, inFlight);
    try {
      await new Promise((r) => setTimeout(r, latencyMs));
      if (throttle !== null) {
        const s = throttle;
        throttle = null;
        status = 429;
        return new Response("slow down", { status: 429, headers: { "retry-after": String(s) } });
      }
      const page = new URL(req.url).pathname;
      return new Response(policyPage(`Policy ${page}`, [`Clause of ${page}`]), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    } finally {
      inFlight--;
      host.requests.push({ start, end: performance.now(), status });
    }
  });
  return {
    ...host,
    get requests() {
      return host.requests;
    },
    get maxInFlight() {
      return host.maxInFlight;
    },
    base: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Most requests in flight at once among `requests` (from their start/end times). */
function peak(requests: Array<{ start: number; end: number }>): number {
  const events = requests.flatMap((r) => [[r.start, 1], [r.end, -1]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0, max = 0;
  for (const [, d] of events) max = Math.max(max, now += d);
  return max;
}

/** Runs one run of `pages` sources per host with eight invocations at once. */
async function runWithEightInvocations(
  hosts: Array<{ host: Host; pages: number }>,
  config: { perHost: number; delayMs: number },
  during?: () => void,
) {
  const db = await serviceDb();
  const sql = sqlClient();
  const tag = crypto.randomUUID().slice(0, 8);
  const jobName = `host-limits-${tag}`;
  const rows = hosts.flatMap(({ host, pages }) =>
    Array.from({ length: pages }, (_, i) => ({
      name: `host limits ${tag} ${i}`,
      url: `${host.base}/p/${tag}-${i}`,
      render: "static",
    }))
  );
  const { data, error } = await db.from("sources").insert(rows).select("id");
  assert.equal(error, null, error?.message);
  const ids = data!.map((r) => r.id as string);
  const logger = captureLogger();
  const deps = (i: number) => ({
    ...stackJobDeps(db, {
      FETCH_PER_HOST_CONCURRENCY: config.perHost,
      FETCH_POLITENESS_DELAY_MS: config.delayMs,
      FETCH_GLOBAL_CONCURRENCY: 16,
      JOB_BATCH_SIZE: 8,
      // Eight invocations share this process's CPU clock: no budget ends them early.
      JOB_INVOCATION_CPU_MS: 3_600_000,
      JOB_INVOCATION_MAX_ITEMS: 1_000_000,
    }, { logger }),
    jobName,
    invocationId: `${jobName}-${i}`,
  });
  try {
    const started = await startDailyFetchRun(deps(0), {
      trigger: "manual",
      force: true,
      source_ids: ids,
    });
    assert.equal(started.status, "running", JSON.stringify(started));
    during?.();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: INVOCATIONS }, (_, i) => processDailyFetchRun(deps(i), started.run_id)),
    );
    const wallMs = performance.now() - t0;
    const [run] = await sql`select status, sources_succeeded, invocations from public.job_runs
      where id = ${started.run_id}`;
    // What went wrong, for the assertion messages: the items that did not succeed.
    const failed = await sql`select status, error_class, error_message, attempts
      from public.job_run_sources where run_id = ${started.run_id} and status <> 'succeeded'`;
    const warnings = logger.records.filter((r) => r.level === "warn" || r.level === "error")
      .map((r) => r.text);
    return { run: run!, results, wallMs, failed: JSON.stringify({ failed, warnings }) };
  } finally {
    await db.from("sources").delete().in("id", ids);
    await sql`delete from public.job_runs where job_name = ${jobName}`;
    await sql.end();
  }
}

Deno.test("eight invocations never have more than FETCH_PER_HOST_CONCURRENCY requests in flight to a host", async () => {
  await using big = startHost(60);
  await using small = startHost(60);
  const { run, wallMs, failed } = await runWithEightInvocations(
    [{ host: big, pages: 48 }, { host: small, pages: 12 }],
    { perHost: 3, delayMs: 0 },
  );
  console.log(
    `per-host peak in flight: big ${big.maxInFlight}, small ${small.maxInFlight} (limit 3, ` +
      `${INVOCATIONS} invocations, ${run.invocations} claimed); ${Math.round(wallMs)} ms`,
  );
  assert.equal(run.status, "succeeded", failed);
  assert.equal(run.sources_succeeded, 60);
  assert.equal(big.requests.length, 48);
  assert.equal(small.requests.length, 12);
  assert.ok(big.maxInFlight <= 3, `big host: ${big.maxInFlight} in flight`);
  assert.ok(small.maxInFlight <= 3, `small host: ${small.maxInFlight} in flight`);
  // The limit is used, not only respected: several invocations shared the host.
  assert.ok(run.invocations >= 2, `${run.invocations} invocations claimed items`);
});

Deno.test("the politeness delay holds between the starts on one host across eight invocations", async () => {
  const delayMs = 400;
  await using host = startHost(20);
  const { run, failed } = await runWithEightInvocations([{ host, pages: 8 }], {
    perHost: 4,
    delayMs,
  });
  const starts = host.requests.map((r) => r.start).sort((a, b) => a - b);
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  console.log(`gaps between starts: ${gaps.map(Math.round).join(" ")} ms (delay ${delayMs})`);
  assert.equal(run.status, "succeeded", failed);
  assert.equal(starts.length, 8);
  // A start is scheduled by the database at claim time; a late answer to one claim can
  // bring its start that much closer to the next one: allow 25 % of the delay for that.
  assert.ok(Math.min(...gaps) >= delayMs * 0.75, `gaps ${gaps.map(Math.round)}`);
});

Deno.test("a 429 with Retry-After slows its host for every invocation for the rest of the run", async () => {
  await using host = startHost(40);
  const { run, failed } = await runWithEightInvocations(
    [{ host, pages: 10 }],
    { perHost: 4, delayMs: 0 },
    () => host.throttleNext(1),
  );
  const throttled = host.requests.find((r) => r.status === 429);
  assert.ok(throttled, "the host answered 429 once");
  const throttledAt = throttled.end;
  // Requests in flight at the 429 finish within a latency; after that, one at a time,
  // and no new start inside the Retry-After (the throttled item's own retry excepted).
  const after = host.requests.filter((r) => r.start > throttledAt + 200)
    .sort((a, b) => a.start - b.start);
  const gaps = after.slice(1).map((r, i) => r.start - after[i]!.start);
  console.log(
    `after the 429: ${after.length} requests, peak ${peak(after)} in flight, first ` +
      `${Math.round((after[0]?.start ?? NaN) - throttledAt)} ms after it, gaps ${
        gaps.map(Math.round).join(" ")
      } ms`,
  );
  assert.equal(run.status, "succeeded", failed);
  assert.equal(run.sources_succeeded, 10);
  assert.equal(peak(after), 1);
  assert.ok(after[0]!.start - throttledAt >= 750, "nothing new inside the Retry-After");
  assert.ok(Math.min(...gaps) >= 750, `gaps ${gaps.map(Math.round)}`);
});

Deno.test("an item queued in another invocation's slot does not start inside a 429's Retry-After", async () => {
  // Two invocations, two slots of one host, two items per slot (depth 2): a1 then a2 in
  // a's slot, b1 then b2 in b's. b1 is answered 429 with Retry-After: 1; a1 is answered
  // only once the database knows of the slow-down, so a2 starts after it, heard or not.
  const db = await serviceDb();
  const sql = sqlClient();
  const tag = crypto.randomUUID().slice(0, 8);
  const jobName = `host-queued-${tag}`;
  const requests: Array<{ path: string; start: number; end: number; status: number }> = [];
  let runId = "";
  let throttled = "", held = "";
  const arrived = new Set<string>();
  /** Polls `ready` every 10 ms, for 10 s at most (then the assertions tell what was missing). */
  const until = async (ready: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 1_000 && !(await ready()); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const start = performance.now();
    const first = !arrived.has(path);
    arrived.add(path);
    let status = 200;
    try {
      if (path === throttled && first) {
        await until(() => arrived.has(held)); // a1 is in flight when b1 hears 429
        status = 429;
        return new Response("slow down", { status, headers: { "retry-after": "1" } });
      }
      if (path === held) {
        await until(async () => {
          const [h] = await sql`select slowed_at from private.run_hosts where run_id = ${runId}`;
          return Boolean(h?.slowed_at);
        });
      }
      return new Response(policyPage(`Policy ${path}`, [`Clause of ${path}`]), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    } finally {
      requests.push({ path, start, end: performance.now(), status });
    }
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const rows = Array.from({ length: 4 }, (_, i) => ({
    name: `host queued ${tag} ${i}`,
    url: `${base}/p/${tag}-${i}`,
    render: "static",
  }));
  const { data, error } = await db.from("sources").insert(rows).select("id");
  assert.equal(error, null, error?.message);
  const ids = data!.map((r) => r.id as string);
  const logger = captureLogger();
  const deps = (name: string) => ({
    ...stackJobDeps(db, {
      FETCH_PER_HOST_CONCURRENCY: 2,
      FETCH_POLITENESS_DELAY_MS: 0,
      JOB_HOST_SLOT_DEPTH: 2,
    }, { logger }),
    jobName,
    invocationId: `${jobName}-${name}`,
  });
  const a = deps("a"), b = deps("b");
  try {
    const started = await startDailyFetchRun(a, {
      trigger: "manual",
      force: true,
      source_ids: ids,
    });
    assert.equal(started.status, "running", JSON.stringify(started));
    runId = started.run_id;
    const claim = async (d: typeof a) => {
      const items = await d.store.claimItems(runId, d.invocationId, 1, 60_000, 3, {
        perHost: 2,
        delayMs: 0,
        slotDepth: 2,
      });
      assert.equal(items.length, 1, `${d.invocationId} claimed ${items.length}`);
      return items[0]!;
    };
    // One at a time: a and b each take a free slot, then a second place in their own.
    const a1 = await claim(a), b1 = await claim(b), a2 = await claim(a), b2 = await claim(b);
    assert.deepEqual([a1.slot, a2.slot, b1.slot, b2.slot], [1, 1, 2, 2]);
    const path = (item: ClaimedItem) => new URL(item.source.url).pathname;
    throttled = path(b1);
    held = path(a1);
    const work = (d: typeof a, items: ClaimedItem[]) => {
      const lanes = runSlotLanes(d, runId);
      reportThrottles(d, runId, (t, reported) => lanes.slow(t.url, t.retryAfterMs, reported));
      return items.map(async (item) => {
        const done = await processSourceItem(d, item, lanes);
        const bookkeeping = done.bookkeeping ? [done.bookkeeping] : [];
        await d.store.completeItems(runId, [toItemOutcome(done.outcome)], bookkeeping);
      });
    };
    await Promise.all([...work(a, [a1, a2]), ...work(b, [b1, b2])]);
    const answered = requests.find((r) => r.status === 429)!;
    const start = (p: string) => requests.filter((r) => r.path === p).map((r) => r.start);
    const after = requests.filter((r) => r.start > answered.end)
      .map((r) =>
        `${r.path === path(a2) ? "a2" : r.path === path(b2) ? "b2" : r.path} at ${
          Math.round(r.start - answered.end)
        } ms`
      );
    console.log(`after the 429: ${after.join(", ")}`);
    const [run] = await sql`select status, sources_succeeded from public.job_runs
      where id = ${runId}`;
    assert.equal(run!.status, "succeeded");
    assert.equal(run!.sources_succeeded, 4);
    assert.ok(start(held)[0]! < answered.end, "a1 was in flight at the 429");
    // Every start after the 429 keeps its Retry-After (1 s; the throttled item's own
    // retry comes first, at the Retry-After), a2 too, though queued before the answer.
    for (const s of [start(path(a2))[0]!, start(path(b2))[0]!, ...start(throttled).slice(1)]) {
      assert.ok(s - answered.end >= 750, `after the 429: ${after.join(", ")}`);
    }
  } finally {
    await server.shutdown();
    await db.from("sources").delete().in("id", ids);
    await sql`delete from public.job_runs where job_name = ${jobName}`;
    await sql.end();
  }
});
