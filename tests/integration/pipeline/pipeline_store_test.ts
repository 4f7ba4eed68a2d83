/**
 * The pipeline's Supabase store against the local stack: PostgREST with a service-role
 * client calling the RPCs of the pipeline migration. The database is shared with other
 * tests, so each test makes its own inactive source (the daily job never picks it up)
 * and deletes it at the end (snapshots and changes go with it).
 * @module
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { runFetchPipeline } from "../../../shared/pipeline/pipeline.ts";
import type { RecordSnapshotInput, SourceBookkeeping } from "../../../shared/pipeline/types.ts";
import { createSupabasePipelineStore } from "../../../shared/store/pipeline_store.ts";
import type { Source } from "../../../shared/types.ts";
import { startPipelineSite } from "../../fixtures/pipeline_site.ts";
import { testConfig } from "../../unit/pipeline/_helpers.ts";
import { anonDb, serviceDb, sqlClient } from "../_stack.ts";

type Db = Awaited<ReturnType<typeof serviceDb>>;

const SOURCE_COLUMNS =
  "id, name, url, active, check_frequency, css_selector, ignore_patterns, etag, " +
  "last_modified, last_hash, last_snapshot_id, last_checked_at, last_success_at, consecutive_failures, " +
  "failing_alerted, last_error, last_error_class";

const hash = (c: string) => c.repeat(64);

/** An inactive source of this test; `cleanup()` deletes it with its snapshots and changes. */
async function fixture(db: Db, url?: string) {
  const tag = crypto.randomUUID().slice(0, 8);
  const { data, error } = await db.from("sources")
    .insert({
      name: `Pipeline store test ${tag}`,
      url: url ?? `https://pipeline-${tag}.example/rules`,
      active: false,
    })
    .select("id").single();
  if (error) throw new Error(`Cannot insert source: ${error.message}`);
  const id = (data as { id: string }).id;
  return {
    id,
    async row(): Promise<Source & { last_error: string | null; last_error_class: string | null }> {
      const { data, error } = await db.from("sources").select(SOURCE_COLUMNS).eq("id", id).single();
      if (error) throw new Error(`Cannot read source: ${error.message}`);
      return data as unknown as Source & {
        last_error: string | null;
        last_error_class: string | null;
      };
    },
    async counts(): Promise<{ snapshots: number; changes: number }> {
      const snapshots = await db.from("snapshots").select("id", { count: "exact", head: true }).eq(
        "source_id",
        id,
      );
      const changes = await db.from("policy_changes").select("id", { count: "exact", head: true })
        .eq("source_id", id);
      return { snapshots: snapshots.count ?? -1, changes: changes.count ?? -1 };
    },
    async cleanup() {
      await db.from("sources").delete().eq("id", id);
    },
  };
}

/** Runs `fn` with a {@link fixture} source, the store under test and the client; then deletes the source. */
async function withSource(
  fn: (
    source: Awaited<ReturnType<typeof fixture>>,
    store: ReturnType<typeof createSupabasePipelineStore>,
    db: Db,
  ) => Promise<void>,
): Promise<void> {
  const db = await serviceDb();
  const source = await fixture(db);
  try {
    await fn(source, createSupabasePipelineStore(db), db);
  } finally {
    await source.cleanup();
  }
}

function bookkeeping(
  id: string,
  at: string,
  extra: Partial<SourceBookkeeping> = {},
): SourceBookkeeping {
  return {
    id,
    last_checked_at: at,
    last_success_at: at,
    etag: '"v1"',
    last_modified: null,
    last_error: null,
    last_error_class: null,
    consecutive_failures: 0,
    ...extra,
  };
}

function input(
  sourceId: string,
  overrides: Partial<RecordSnapshotInput> = {},
): RecordSnapshotInput {
  const at = "2026-11-28T02:00:00.000Z";
  return {
    source_id: sourceId,
    fetch_id: crypto.randomUUID(),
    previous_hash: null,
    content_hash: hash("a"),
    content: "Fee: £719",
    content_type: "text/html",
    diff: null,
    summary: null,
    fetched_at: at,
    bookkeeping: bookkeeping(sourceId, at),
    ...overrides,
  };
}

Deno.test("createSupabasePipelineStore().recordSnapshot() stores a baseline without a change and moves the source", async () => {
  await withSource(async (source, store) => {
    const result = await store.recordSnapshot(input(source.id));
    assert.equal(result.baseline, true);
    assert.equal(result.policy_change_id, null);
    assert.deepEqual(await source.counts(), { snapshots: 1, changes: 0 });
    const row = await source.row();
    assert.equal(row.last_hash, hash("a"));
    assert.equal(row.last_snapshot_id, result.snapshot_id);
    assert.equal(row.etag, '"v1"');
    assert.equal(new Date(row.last_success_at ?? 0).toISOString(), "2026-11-28T02:00:00.000Z");
    assert.equal(await store.getSnapshotContent(result.snapshot_id), "Fee: £719");
    assert.equal(await store.getSnapshotContent(crypto.randomUUID()), null);
  });
});

Deno.test("createSupabasePipelineStore().recordSnapshot() records a change with its diff, and a retry of the same fetch adds nothing", async () => {
  await withSource(async (source, store, db) => {
    const baseline = await store.recordSnapshot(input(source.id));
    const change = input(source.id, {
      previous_hash: hash("a"),
      content_hash: hash("b"),
      content: "Fee: £800",
      diff: "--- previous\n+++ current\n@@ -1 +1 @@\n-Fee: £719\n+Fee: £800\n",
      summary: {
        lines_added: 1,
        lines_removed: 1,
        first_changed_lines: ["-Fee: £719", "+Fee: £800"],
      },
    });
    const first = await store.recordSnapshot(change);
    assert.equal(first.baseline, false);
    assert.ok(first.policy_change_id);
    const retry = await store.recordSnapshot(change);
    assert.deepEqual(retry, first);
    assert.deepEqual(await source.counts(), { snapshots: 2, changes: 1 });
    const { data } = await db.from("policy_changes").select(
      "snapshot_id, previous_snapshot_id, diff, summary",
    )
      .eq("id", first.policy_change_id).single();
    assert.deepEqual(data, {
      snapshot_id: first.snapshot_id,
      previous_snapshot_id: baseline.snapshot_id,
      diff: change.diff,
      summary: change.summary,
    });
  });
});

Deno.test("createSupabasePipelineStore().recordSnapshot() keeps neither row when the write fails half-way", async () => {
  const db = await serviceDb();
  const sql = sqlClient();
  const source = await fixture(db);
  // A trigger that kills the policy_changes insert of this source only: the snapshot
  // insert before it has already happened inside the RPC's transaction.
  const fn = `private.pipeline_test_fail_${source.id.replaceAll("-", "_")}`;
  const trigger = `pipeline_test_fail_${source.id.slice(0, 8)}`;
  try {
    const store = createSupabasePipelineStore(db);
    await store.recordSnapshot(input(source.id));
    await sql.unsafe(`create function ${fn}() returns trigger language plpgsql as $$
      begin
        if new.source_id = '${source.id}' then raise exception 'simulated crash half-way'; end if;
        return new;
      end $$`);
    await sql.unsafe(`create trigger ${trigger} before insert on public.policy_changes
      for each row execute function ${fn}()`);
    const change = input(source.id, {
      previous_hash: hash("a"),
      content_hash: hash("c"),
      content: "Fee: £900",
      diff: "-Fee: £719\n+Fee: £900\n",
      summary: { lines_added: 1, lines_removed: 1, first_changed_lines: [] },
    });
    await assert.rejects(
      store.recordSnapshot(change),
      /Cannot record snapshot of source .*simulated crash half-way/,
    );
    assert.deepEqual(await source.counts(), { snapshots: 1, changes: 0 });
    const { count } = await db.from("snapshots").select("id", { count: "exact", head: true })
      .eq("fetch_id", change.fetch_id);
    assert.equal(count, 0);
    assert.equal((await source.row()).last_hash, hash("a"));

    await sql.unsafe(`drop trigger ${trigger} on public.policy_changes`);
    const retried = await store.recordSnapshot(change);
    assert.ok(retried.policy_change_id);
    assert.deepEqual(await source.counts(), { snapshots: 2, changes: 1 });
  } finally {
    await sql.unsafe(`drop trigger if exists ${trigger} on public.policy_changes`);
    await sql.unsafe(`drop function if exists ${fn}()`);
    await sql.end();
    await source.cleanup();
  }
});

Deno.test("createSupabasePipelineStore().recordSnapshot() refuses a change computed against a hash that moved meanwhile", async () => {
  await withSource(async (source, store) => {
    await store.recordSnapshot(input(source.id));
    await store.recordSnapshot(
      input(source.id, { previous_hash: hash("a"), content_hash: hash("b"), diff: "d" }),
    );
    await assert.rejects(
      store.recordSnapshot(
        input(source.id, { previous_hash: hash("a"), content_hash: hash("c"), diff: "d" }),
      ),
      /last_hash is b{64} but the fetch compared against a{64} \(PT409\)/,
    );
    assert.deepEqual(await source.counts(), { snapshots: 2, changes: 1 });
  });
});

Deno.test("createSupabasePipelineStore().updateSources() writes many sources in one call and skips late patches", async () => {
  const db = await serviceDb();
  const a = await fixture(db);
  const b = await fixture(db);
  try {
    const store = createSupabasePipelineStore(db);
    await store.updateSources([
      bookkeeping(a.id, "2026-11-28T02:00:00.000Z", { etag: '"a1"' }),
      {
        id: b.id,
        last_checked_at: "2026-11-28T02:00:00.000Z",
        last_error: "Cannot fetch source b: timed out after 30000 ms",
        last_error_class: "timeout",
        consecutive_failures: 4,
      },
    ]);
    const rowA = await a.row();
    const rowB = await b.row();
    assert.equal(rowA.etag, '"a1"');
    assert.equal(rowA.consecutive_failures, 0);
    assert.equal(rowB.last_error_class, "timeout");
    assert.equal(rowB.consecutive_failures, 4);
    assert.equal(rowB.etag, null); // left out of the patch: untouched
    assert.equal(rowB.last_success_at, null);

    // A patch older than the stored check (an invocation whose lease expired) is ignored.
    await store.updateSources([{ ...bookkeeping(b.id, "2026-11-28T01:00:00.000Z") }]);
    assert.equal((await b.row()).consecutive_failures, 4);
    await store.updateSources([]);
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("the pipeline RPCs are refused to anon callers", async () => {
  const anon = await anonDb();
  const { error } = await anon.rpc("update_source_bookkeeping", { p_patches: [] });
  assert.ok(error);
  assert.match(error.message, /permission denied/);
  const store = createSupabasePipelineStore(anon);
  await assert.rejects(store.recordSnapshot(input(crypto.randomUUID())), /permission denied/);
});

Deno.test("runFetchPipeline() with the Supabase store: baseline, change, unchanged and failure on the real database", async () => {
  const db = await serviceDb();
  const site = await startPipelineSite();
  const source = await fixture(db, site.url("/page"));
  try {
    const deps = {
      fetch,
      clock: () => new Date(),
      logger: captureLogger(),
      store: createSupabasePipelineStore(db),
      config: testConfig(),
    };
    const baseline = await runFetchPipeline(await source.row(), deps);
    assert.equal(baseline.status, "ok", baseline.error_message ?? "");
    assert.equal(baseline.baseline, true);

    const unchanged = await runFetchPipeline(await source.row(), deps);
    assert.equal(unchanged.changed, false);
    assert.equal(unchanged.baseline, false);

    site.state.pageWord = "may";
    const changed = await runFetchPipeline(await source.row(), deps);
    assert.equal(changed.changed, true);
    const { data } = await db.from("policy_changes").select("diff").eq(
      "id",
      changed.policy_change_id,
    ).single();
    assert.match((data as { diff: string }).diff, /^\+Applicants may provide/m);
    assert.deepEqual(await source.counts(), { snapshots: 2, changes: 1 });

    const row = await source.row();
    const failed = await runFetchPipeline({ ...row, url: site.url("/status/500") }, {
      ...deps,
      config: testConfig({ FETCH_RETRIES: 0 }),
    });
    assert.equal(failed.error_class, "http_5xx");
    const after = await source.row();
    assert.equal(after.consecutive_failures, 1);
    assert.equal(after.last_error_class, "http_5xx");
    assert.equal(after.last_hash, row.last_hash);
  } finally {
    await source.cleanup();
    await site.close();
  }
});
