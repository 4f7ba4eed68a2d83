/**
 * A host's request slot is held for an item's requests only (PipelineOptions.requestSlot,
 * processSourceItem): the slot's next item fetches while the one before it extracts and
 * writes its snapshot, but never while a retry or the change's confirmation fetch of the
 * one before it may still go out. Real pipeline, real store, one loopback host.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { captureLogger } from "../../../shared/log.ts";
import { startDailyFetchRun } from "../../../shared/jobs/run_daily_fetch_job.ts";
import { processSourceItem, runSlotLanes } from "../../../shared/jobs/source_batch.ts";
import { toItemOutcome } from "../../../shared/jobs/source_task.ts";
import { runFetchPipeline } from "../../../shared/pipeline/pipeline.ts";
import type { PipelineStore } from "../../../shared/pipeline/types.ts";
import type { JobDeps } from "../../../shared/jobs/deps.ts";
import { createSupabasePipelineStore } from "../../../shared/store/pipeline_store.ts";
import { policyPage } from "../../fixtures/fault_server.ts";
import { serviceDb, sqlClient } from "../_stack.ts";
import { stackJobDeps } from "./_stack_job.ts";

interface Request {
  path: string;
  start: number;
  end: number;
  status: number;
}

/** Polls `ready` every 10 ms, for 10 s at most (then the assertions tell what was missing). */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !ready(); i++) await new Promise((r) => setTimeout(r, 10));
}

/** Most requests in flight at once. */
function peak(requests: Request[]): number {
  const events = requests.flatMap((r) => [[r.start, 1], [r.end, -1]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0, max = 0;
  for (const [, d] of events) max = Math.max(max, now += d);
  return max;
}

/** The two sources' paths on the host: the first one claimed in the slot, then the second. */
interface Pair {
  first: string;
  second: string;
  /** The path of a source id. */
  pathOf(sourceId: string): string;
}

/**
 * Two sources of one host in ONE request slot (per-host limit 1, depth 2), claimed by one
 * invocation and processed at once, `rounds` runs in a row (round 2 on: each source has a
 * baseline). `answer` may replace what the host answers, `store` wrap the snapshot store.
 * Returns every request the host saw.
 */
async function twoInOneSlot(options: {
  rounds?: number;
  answer?: (pair: Pair, path: string, nth: number, round: number) => Response | null;
  store?: (pair: Pair, real: PipelineStore, requests: Request[]) => PipelineStore;
}) {
  const db = await serviceDb();
  const sql = sqlClient();
  const tag = crypto.randomUUID().slice(0, 8);
  const jobName = `request-slots-${tag}`;
  const requests: Request[] = [];
  const changes: number[] = [];
  const seen = new Map<string, number>();
  let round = 0;
  const paths = [`/p/${tag}-0`, `/p/${tag}-1`];
  const ids: string[] = [];
  const pair: Pair = {
    first: paths[0]!,
    second: paths[1]!,
    pathOf: (id) => paths[ids.indexOf(id)] ?? "",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const start = performance.now();
    const nth = (seen.get(path) ?? 0) + 1;
    seen.set(path, nth);
    await new Promise((r) => setTimeout(r, 20));
    const response = options.answer?.(pair, path, nth, round) ??
      new Response(policyPage(`Policy ${path}`, [`Clause one of ${path}`, "Clause two"]), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    requests.push({ path, start, end: performance.now(), status: response.status });
    return response;
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const rows = paths.map((path, i) => ({
    name: `request slots ${tag} ${i}`,
    url: `${base}${path}`,
    render: "static",
  }));
  const { data, error } = await db.from("sources").insert(rows).select("id, url");
  assert.equal(error, null, error?.message);
  for (const path of paths) ids.push(data!.find((r) => r.url.endsWith(path))!.id as string);
  const config = {
    ...DEFAULT_CONFIG,
    FETCH_ALLOW_PRIVATE_NETWORKS: true,
    FETCH_PER_HOST_CONCURRENCY: 1,
    FETCH_POLITENESS_DELAY_MS: 0,
    FETCH_RETRY_BASE_MS: 50,
    JOB_HOST_SLOT_DEPTH: 2,
  };
  const logger = captureLogger();
  const realStore = createSupabasePipelineStore(db);
  const pipelineStore = options.store?.(pair, realStore, requests) ?? realStore;
  const deps: JobDeps & { invocationId: string } = {
    ...stackJobDeps(db, config, { logger }),
    pipeline: (source, o) =>
      runFetchPipeline(source, {
        fetch,
        clock: () => new Date(),
        logger,
        store: pipelineStore,
        config,
      }, { fetchId: o.fetchId, writeBookkeeping: false, requestSlot: o.requestSlot }),
    jobName,
    invocationId: `${jobName}-a`,
  };
  try {
    for (round = 1; round <= (options.rounds ?? 1); round++) {
      const started = await startDailyFetchRun(deps, {
        trigger: "manual",
        force: true,
        source_ids: ids,
      });
      assert.equal(started.status, "running", JSON.stringify(started));
      const runId = started.run_id;
      const items = await deps.store.claimItems(runId, deps.invocationId, 2, 60_000, 3, {
        perHost: 1,
        delayMs: 0,
        slotDepth: 2,
      });
      assert.deepEqual(items.map((i) => i.slot), [1, 1], "both items in the host's one slot");
      items.sort((a, b) => ids.indexOf(a.source.id) - ids.indexOf(b.source.id));
      const lanes = runSlotLanes(deps, runId);
      await Promise.all(items.map(async (item) => {
        const done = await processSourceItem(deps, item, lanes);
        assert.equal(done.outcome.failure, null, JSON.stringify(done.outcome.failure));
        const bookkeeping = done.bookkeeping ? [done.bookkeeping] : [];
        await deps.store.completeItems(runId, [toItemOutcome(done.outcome)], bookkeeping);
      }));
      const [run] = await sql`select status, changes_detected from public.job_runs
        where id = ${runId}`;
      assert.equal(run!.status, "succeeded");
      changes.push(run!.changes_detected);
    }
    return { requests, ...pair, logger, changes };
  } finally {
    await server.shutdown();
    await db.from("sources").delete().in("id", ids);
    await sql`delete from public.job_runs where job_name = ${jobName}`;
    await sql.end();
  }
}

Deno.test("a slot's next item fetches while the item before it writes its snapshot", async () => {
  const writes: Array<{ path: string; end: number }> = [];
  const { requests, first, second } = await twoInOneSlot({
    store: (pair, real, seen) => ({
      ...real,
      async recordSnapshot(input) {
        const path = pair.pathOf(input.source_id);
        // The first item's write waits until the host saw the second item's request.
        if (path === pair.first) await until(() => seen.some((r) => r.path === pair.second));
        try {
          return await real.recordSnapshot(input);
        } finally {
          writes.push({ path, end: performance.now() });
        }
      },
    }),
  });
  assert.equal(requests.length, 2, JSON.stringify(requests));
  assert.equal(peak(requests), 1, "one request at a time in the slot");
  const write = writes.find((w) => w.path === first);
  const next = requests.find((r) => r.path === second)!;
  assert.ok(write, `the first item wrote its snapshot: ${JSON.stringify(writes)}`);
  assert.ok(
    next.start < write.end,
    `the second item's fetch (at ${Math.round(next.start)} ms) started before the first ` +
      `item's snapshot write ended (at ${Math.round(write.end)} ms)`,
  );
});

Deno.test("a slot's next item waits for the retry of the item before it", async () => {
  const { requests, first, second } = await twoInOneSlot({
    // The first item's first request fails with a 500: the fetcher retries it after a backoff.
    answer: (pair, path, nth) =>
      path === pair.first && nth === 1 ? new Response("try again", { status: 500 }) : null,
  });
  assert.deepEqual(
    requests.map((r) => [r.path === first ? "first" : "second", r.status]),
    [["first", 500], ["first", 200], ["second", 200]],
  );
  assert.equal(peak(requests), 1);
  void second;
});

Deno.test("a slot's next item goes before the confirmation fetch of the item before it, never beside it", async () => {
  const { requests, first, logger, changes } = await twoInOneSlot({
    rounds: 2,
    // Round 2: the first page changed (its confirmation fetch sees the same change).
    answer: (pair, path, _nth, round) =>
      round === 2 && path === pair.first
        ? new Response(policyPage(`Policy ${path}`, [`Clause one of ${path}`, "Clause 2"]), {
          headers: { "content-type": "text/html; charset=utf-8" },
        })
        : null,
  });
  const second = requests.slice(2).map((r) => r.path === first ? "first" : "second");
  assert.deepEqual(
    second,
    ["first", "second", "first"],
    `round 2: ${logger.records.map((r) => r.text).join("\n")}`,
  );
  assert.equal(peak(requests), 1, "the confirmation fetch holds the slot too");
  assert.deepEqual(changes, [0, 1], "round 2 recorded the first page's change");
});
