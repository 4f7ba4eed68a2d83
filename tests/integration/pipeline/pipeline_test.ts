import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { extractDocument } from "../../../shared/pipeline/extract.ts";
import {
  extractLimits,
  type PipelineDeps,
  runFetchPipeline,
} from "../../../shared/pipeline/pipeline.ts";
import { parseTextKey, storedTextKey, textKey } from "../../../shared/pipeline/text_key.ts";
import type { ErrorClass, Source } from "../../../shared/types.ts";
import { markedSentence, PDF_PARAGRAPH, policyPdf } from "../../fixtures/pipeline_pages.ts";
import {
  type PipelineSite,
  startPipelineSite,
  withPipelineSite,
} from "../../fixtures/pipeline_site.ts";
import { startTlsSite } from "../../fixtures/pipeline_tls.ts";
import { newSource, recordingSleep, testConfig } from "../../unit/pipeline/_helpers.ts";
import {
  cleanupStackPipelineStores,
  type StackPipelineStore,
  stackPipelineStore,
} from "./_stack_pipeline_store.ts";

function deps(store: StackPipelineStore, overrides: Partial<PipelineDeps> = {}): PipelineDeps {
  return {
    fetch,
    clock: () => new Date(),
    logger: captureLogger(),
    store,
    config: testConfig(),
    sleep: recordingSleep(),
    random: () => 0.5,
    ...overrides,
  };
}

/** A source on the site, inserted into the database (cleaned up after the test). */
async function setup(url: string, overrides: Partial<Source> = {}) {
  const source = newSource(url, overrides);
  const store = await stackPipelineStore([source]);
  return { source, store };
}

/** {@link setup} of the site's `/page`, with its first fetch (the baseline) stored. */
async function baselinedPage(site: PipelineSite) {
  const { source, store } = await setup(site.url("/page"));
  await runFetchPipeline(source, deps(store));
  return { source, store };
}

async function withSite(fn: (site: PipelineSite) => Promise<void>): Promise<void> {
  try {
    await withPipelineSite(fn);
  } finally {
    await cleanupStackPipelineStores();
  }
}

Deno.test("runFetchPipeline() stores the first fetch as a baseline, not a change", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/page"));
    const result = await runFetchPipeline(source, deps(store));
    assert.equal(result.status, "ok");
    assert.equal(result.baseline, true);
    assert.equal(result.changed, false);
    assert.equal(result.policy_change_id, null);
    assert.ok(result.snapshot_id);
    assert.ok(result.timings.compute_ms > 0, "its extraction and fingerprint were timed");
    assert.equal((await store.snapshots()).length, 1);
    assert.equal((await store.policyChanges()).length, 0);
    const row = await store.source(source.id);
    assert.equal(row.last_hash, result.content_hash);
    assert.equal(row.last_snapshot_id, result.snapshot_id);
    assert.ok(row.last_success_at);
    assert.equal(result.bookkeeping_written, true);
    assert.equal(store.calls.updateSources, 0); // the snapshot write carried the bookkeeping
  });
});

Deno.test("runFetchPipeline() detects a one-word edit deep inside a 40 KB page and the diff shows just it", async () => {
  await withSite(async (site) => {
    const { source, store } = await baselinedPage(site);
    site.state.pageWord = "may";
    const calls = { ...store.calls };
    const result = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(result.status, "ok");
    assert.equal(result.changed, true);
    assert.equal(result.baseline, false);
    assert.ok(result.policy_change_id);
    // The previous text and the history in one read; the change comes back with the write.
    assert.equal(store.calls.getRecentSnapshots, calls.getRecentSnapshots + 1);
    assert.equal(store.calls.getSnapshotContent, calls.getSnapshotContent);
    const change = (await store.policyChanges()).find((c) => c.id === result.policy_change_id);
    assert.ok(change);
    assert.deepEqual(
      [result.policy_change?.id, result.policy_change?.diff, result.policy_change?.summary],
      [change.id, change.diff, result.summary],
    );
    assert.equal(result.policy_change?.previous_snapshot_id, change.previous_snapshot_id);
    const changed = change.diff.split("\n").filter((l) =>
      /^[+-]/.test(l) && !/^(\+\+\+|---) /.test(l)
    );
    assert.deepEqual(changed, [`-${markedSentence("must")}`, `+${markedSentence("may")}`]);
    assert.deepEqual(result.summary, {
      lines_added: 1,
      lines_removed: 1,
      first_changed_lines: changed,
    });
    assert.equal(
      change.previous_snapshot_id,
      source.last_snapshot_id ?? (await store.snapshots())[0]?.id,
    );
    assert.equal((await store.snapshots()).length, 2);
  });
});

Deno.test("runFetchPipeline() sees no change over 5 fetches of a page whose scripts, timestamps, ads and session links change every time", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/noisy"));
    const results = [];
    for (let i = 0; i < 5; i++) {
      results.push(await runFetchPipeline(await store.source(source.id), deps(store)));
    }
    assert.deepEqual(results.map((r) => [r.status, r.changed]), Array(5).fill(["ok", false]));
    assert.equal(results[0]?.baseline, true);
    assert.equal(new Set(results.map((r) => r.content_hash)).size, 1);
    assert.equal((await store.policyChanges()).length, 0);
    assert.equal((await store.snapshots()).length, 1);
    const text = (await store.snapshots())[0]?.content ?? "";
    assert.match(text, /From 1 January 2026 the application fee is £719/);
    assert.match(text, /Last updated: 28 November 2026/);
    assert.match(text, /\(2026-01-01 onwards\)/);
    assert.match(text, /Full rules: https:\/\/gov\.example\/rules$/m);
  });
});

Deno.test("runFetchPipeline() takes an unchanged page's hash from the key of its extracted text", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/page"));
    const first = await runFetchPipeline(source, deps(store));
    const row = await store.source(source.id);
    const stored = parseTextKey(row.text_key);
    assert.ok(stored, "the baseline stored its text key");
    assert.equal(stored.chars, first.content?.chars);
    // Another fetch: the same extracted text, the same key (a page whose noise is in its
    // text, /noisy, has another key each time: it is normalised, and its new key stored).
    const second = await runFetchPipeline(row, deps(store));
    assert.deepEqual([second.status, second.changed], ["ok", false]);
    assert.equal(second.content_hash, first.content_hash);
    assert.deepEqual(second.content, first.content);
    assert.equal((await store.source(source.id)).text_key, row.text_key);
    // The key alone decides: a key made for another hash with this text gives that hash,
    // without the text being normalised.
    const page = await fetch(site.url("/page"));
    const extracted = await extractDocument({
      body: new Uint8Array(await page.arrayBuffer()),
      contentType: page.headers.get("content-type"),
      selector: null,
      limits: extractLimits(testConfig()),
    });
    const other = "f".repeat(64);
    const forged = await runFetchPipeline(
      {
        ...row,
        last_hash: other,
        text_key: storedTextKey(await textKey(extracted.text, [], other), 7),
      },
      deps(store),
      { writeBookkeeping: false },
    );
    assert.deepEqual([forged.status, forged.content_hash, forged.content?.chars], ["ok", other, 7]);
    assert.equal(forged.bookkeeping.text_key, undefined, "nothing new to store");
  });
});

Deno.test("runFetchPipeline() normalises when the text key was made for another hash or other ignore patterns", async () => {
  await withSite(async (site) => {
    const { source, store } = await baselinedPage(site);
    const row = await store.source(source.id);
    assert.ok(parseTextKey(row.text_key));
    // A last_hash moved by another writer: the stored key does not answer for it.
    const moved = await runFetchPipeline({ ...row, last_hash: "e".repeat(64) }, deps(store));
    assert.equal(moved.status, "failed");
    assert.match(moved.error_message ?? "", /but the fetch compared against e{64}/);
    // Other ignore patterns: the text normalises to another hash, a change to record.
    site.state.pageWord = "must";
    const patterns = await runFetchPipeline(
      { ...(await store.source(source.id)), ignore_patterns: ["certified"] },
      deps(store),
    );
    assert.equal(patterns.status, "ok");
    assert.equal(patterns.changed, true);
    const after = await store.source(source.id);
    assert.equal(after.last_hash, patterns.content_hash);
    assert.notEqual(after.text_key, row.text_key, "the recorded change stored its text's key");
    assert.equal(parseTextKey(after.text_key)?.chars, patterns.content?.chars);
  });
});

Deno.test("runFetchPipeline() detects a changed PDF paragraph and not an identical PDF served again", async () => {
  await withSite(async (site) => {
    site.state.pdf = await policyPdf({ pages: 3 });
    const { source, store } = await setup(site.url("/pdf"));
    const baseline = await runFetchPipeline(source, deps(store));
    assert.equal(baseline.baseline, true);
    const same = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(same.status, "ok");
    assert.equal(same.changed, false);
    site.state.pdf = await policyPdf({ pages: 3 }); // rebuilt: same text
    const rebuilt = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(rebuilt.changed, false);
    const paragraph =
      "Applicants must hold a valid certificate of sponsorship issued within 3 months.";
    site.state.pdf = await policyPdf({ pages: 3, changedParagraph: paragraph });
    const changed = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(changed.changed, true);
    const diff = (await store.policyChanges()).find((c) =>
      c.id === changed.policy_change_id
    )?.diff ??
      "";
    assert.match(diff, new RegExp(`^-${PDF_PARAGRAPH}$`, "m"));
    assert.match(diff, new RegExp(`^\\+${paragraph}$`, "m"));
    assert.equal(changed.summary?.lines_added, 1);
    assert.equal(
      (await store.snapshots()).find((s) => s.id === changed.snapshot_id)?.content_type,
      "application/pdf",
    );
  });
});

Deno.test("runFetchPipeline() takes the ETag 304 path without extracting or writing content", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/etag"));
    const first = await runFetchPipeline(source, deps(store));
    assert.equal(first.baseline, true);
    assert.ok((await store.source(source.id)).etag);
    const calls = { ...store.calls };
    const second = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(second.status, "ok");
    assert.equal(second.not_modified, true);
    assert.equal(second.http_status, 304);
    assert.equal(second.content_hash, null); // nothing was extracted, normalised or hashed
    assert.equal(second.timings.extract_ms, 0);
    assert.equal(second.timings.compute_ms, 0, "no compute charged for a 304");
    assert.equal(site.stats.statuses.get("/etag 304"), 1);
    assert.equal(store.calls.recordSnapshot, calls.recordSnapshot);
    assert.equal(store.calls.getSnapshotContent, calls.getSnapshotContent);
    assert.equal(store.calls.updateSources, calls.updateSources + 1);
    assert.equal((await store.snapshots()).length, 1);
  });
});

Deno.test("runFetchPipeline() sends no validators when the source has no snapshot to fall back on", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/etag"), {
      etag: '"stale"',
      last_modified: "x",
    });
    const result = await runFetchPipeline(source, deps(store));
    assert.equal(result.baseline, true);
    assert.equal(site.stats.lastHeaders.get("/etag")?.get("if-none-match"), null);
  });
});

Deno.test("runFetchPipeline() writes only bookkeeping for an unchanged page", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/text"));
    await runFetchPipeline(source, deps(store));
    const result = await runFetchPipeline(await store.source(source.id), deps(store));
    assert.equal(result.status, "ok");
    assert.equal(result.changed, false);
    assert.equal(result.not_modified, false);
    assert.equal(store.calls.recordSnapshot, 1);
    assert.equal(store.calls.updateSources, 1);
    assert.equal(result.bookkeeping_written, true);
    assert.equal((await store.snapshots()).length, 1);
  });
});

Deno.test("runFetchPipeline() leaves the bookkeeping to the caller when asked, for one batched write", async () => {
  await withSite(async (site) => {
    const sources = [newSource(site.url("/text")), newSource(site.url("/status/404"))];
    const store = await stackPipelineStore(sources);
    for (const s of sources) await runFetchPipeline(s, deps(store)); // baselines / first failure
    const before = store.calls.updateSources;
    const results = await Promise.all(
      sources.map(async (s) =>
        runFetchPipeline(await store.source(s.id), deps(store), { writeBookkeeping: false })
      ),
    );
    assert.deepEqual(results.map((r) => r.bookkeeping_written), [false, false]);
    assert.equal(store.calls.updateSources, before);
    await store.updateSources(results.map((r) => r.bookkeeping));
    assert.equal(store.calls.updateSources, before + 1);
    assert.equal((await store.source(sources[1]!.id)).consecutive_failures, 2);
    assert.equal((await store.source(sources[0]!.id)).consecutive_failures, 0);
  });
});

Deno.test("runFetchPipeline() reports every failure class with bookkeeping, and never throws", async (t) => {
  const site = await startPipelineSite();
  const tls = await startTlsSite();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  try {
    const cases: Array<[ErrorClass, string, Partial<PipelineDeps>, Partial<Source>?]> = [
      ["dns", "http://rules.invalid/", {}],
      ["dns", "https://rules.example/", {
        resolveHost: () => Promise.reject(new Deno.errors.NotFound("NXDOMAIN")),
      }],
      ["connect", `http://127.0.0.1:${closedPort}/`, {}],
      ["timeout", site.url("/hang"), { config: testConfig({ FETCH_TIMEOUT_MS: 250 }) }],
      ["tls", tls.url("/"), {}],
      ["http_4xx", site.url("/status/403"), {}],
      ["http_5xx", site.url("/status/502"), {}],
      ["too_large", site.url("/huge-declared"), {}],
      ["too_many_redirects", site.url("/redirect-loop"), {}],
      ["unsupported_content", site.url("/image"), {}],
      ["parse", site.url("/bad-pdf"), {}],
      ["parse", site.url("/empty"), {}],
      ["parse", site.url("/text"), {}, { ignore_patterns: ["(unclosed"] }],
      ["blocked", site.url("/redirect-metadata"), {}],
      ["blocked", site.url("/text"), { config: testConfig({ FETCH_ALLOW_LOOPBACK: false }) }],
    ];
    for (const [errorClass, url, overrides, sourceOverrides] of cases) {
      await t.step(`${errorClass} from ${url}`, async () => {
        const source = newSource(url, { consecutive_failures: 2, ...sourceOverrides });
        // The database refuses an invalid ignore pattern (validate_source), so its row is
        // stored without; the pipeline's own check is what this case exercises.
        const store = await stackPipelineStore([{ ...source, ignore_patterns: [] }]);
        const result = await runFetchPipeline(source, deps(store, overrides));
        assert.equal(result.status, "failed");
        assert.equal(result.error_class, errorClass, result.error_message ?? "");
        assert.match(
          result.error_message ?? "",
          new RegExp(`^Cannot fetch source ${source.id}: \\S`),
        );
        assert.doesNotMatch(result.error_message ?? "", /\.$/);
        assert.equal(result.changed, false);
        const row = await store.source(source.id);
        assert.equal(row.consecutive_failures, 3);
        assert.equal(row.last_error_class, errorClass);
        assert.equal(row.last_error, result.error_message);
        assert.equal(row.last_success_at, null);
        assert.equal((await store.snapshots()).length, 0);
      });
    }
  } finally {
    await tls.close();
    await cleanupStackPipelineStores();
    await site.close();
  }
});

Deno.test("runFetchPipeline() keeps neither row when the change write fails half-way, and a retry records it once", async () => {
  await withSite(async (site) => {
    const { source, store } = await baselinedPage(site);
    const before = await store.source(source.id);
    site.state.pageWord = "should";
    store.failNextRecord = "connection lost";
    const failed = await runFetchPipeline(before, deps(store), {
      fetchId: "7d3c1c56-4a2e-4e0e-9b7e-0a8f0c1d2e3f",
    });
    assert.equal(failed.status, "failed");
    assert.equal(failed.error_class, "internal");
    assert.match(failed.error_message ?? "", /recording the snapshot failed: .*connection lost/);
    assert.equal((await store.snapshots()).length, 1);
    assert.equal((await store.policyChanges()).length, 0);
    assert.equal((await store.source(source.id)).last_hash, before.last_hash);
    assert.equal((await store.source(source.id)).consecutive_failures, 1);

    // The same fetch retried (the job's lease expired): one change, and a second retry
    // with the same fetch id and the now stale source row returns the same change.
    const retried = await runFetchPipeline(await store.source(source.id), deps(store), {
      fetchId: "7d3c1c56-4a2e-4e0e-9b7e-0a8f0c1d2e3f",
    });
    assert.equal(retried.changed, true);
    const again = await runFetchPipeline(before, deps(store), {
      fetchId: "7d3c1c56-4a2e-4e0e-9b7e-0a8f0c1d2e3f",
    });
    assert.equal(again.status, "ok");
    assert.equal(again.policy_change_id, retried.policy_change_id);
    assert.equal((await store.policyChanges()).length, 1);
    assert.equal((await store.snapshots()).length, 2);
  });
});

Deno.test("runFetchPipeline() reads the previous text by its id when it is not in the history, and diffs against nothing when it is gone", async () => {
  await withSite(async (site) => {
    const { source, store } = await baselinedPage(site);
    site.state.pageWord = "may";
    // A source row whose snapshot pointer is in none of the source's snapshots.
    const row = { ...await store.source(source.id), last_snapshot_id: crypto.randomUUID() };
    const calls = { ...store.calls };
    const logger = captureLogger();
    const result = await runFetchPipeline(row, deps(store, { logger }));
    assert.equal(store.calls.getRecentSnapshots, calls.getRecentSnapshots + 1);
    assert.equal(store.calls.getSnapshotContent, calls.getSnapshotContent + 1);
    assert.ok(logger.records.some((r) => r.level === "warn" && /text is gone/.test(r.text)));
    assert.equal(result.changed, true);
    assert.ok(
      result.policy_change?.diff.includes(`+${markedSentence("may")}`),
      "diffed against nothing: the whole text is added",
    );
  });
});

Deno.test("runFetchPipeline() refuses to record against a source another writer moved meanwhile", async () => {
  await withSite(async (site) => {
    const { source, store } = await baselinedPage(site);
    const stale = await store.source(source.id);
    site.state.pageWord = "could";
    await runFetchPipeline(await store.source(source.id), deps(store)); // the other writer
    site.state.pageWord = "would";
    const calls = { ...store.calls };
    const result = await runFetchPipeline(stale, deps(store));
    // The stale row's snapshot is the second newest: found in the one read of the history.
    assert.equal(store.calls.getRecentSnapshots, calls.getRecentSnapshots + 1);
    assert.equal(store.calls.getSnapshotContent, calls.getSnapshotContent);
    assert.equal(result.status, "failed");
    assert.equal(result.error_class, "internal");
    assert.match(
      result.error_message ?? "",
      /last_hash is [0-9a-f]{64} but the fetch compared against [0-9a-f]{64}/,
    );
    assert.equal((await store.policyChanges()).length, 1);
  });
});

Deno.test("runFetchPipeline() watches only the source's CSS selector and drops its ignore patterns", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/page"), {
      css_selector: "#marked",
      ignore_patterns: ["within \\d+ days"],
    });
    const result = await runFetchPipeline(source, deps(store));
    assert.equal(result.status, "ok");
    const text = (await store.snapshots()).find((x) => x.id === result.snapshot_id)?.content;
    assert.equal(text, "Applicants must provide the certified translation of the request.");
  });
});

Deno.test("runFetchPipeline() decodes a page in the charset its meta tag declares", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/latin1"));
    const result = await runFetchPipeline(source, deps(store));
    assert.equal(
      (await store.snapshots()).find((x) => x.id === result.snapshot_id)?.content,
      "Gebühr: 719 €",
    );
    const broken = await setup(site.url("/broken-utf8"));
    const replaced = await runFetchPipeline(broken.source, deps(broken.store));
    assert.equal(replaced.status, "ok");
    assert.match(
      (await broken.store.snapshots()).find((x) => x.id === replaced.snapshot_id)?.content ?? "",
      /Fee \uFFFD+ 719/,
    );
    const bogus = await setup(site.url("/bogus-charset"));
    const logger = captureLogger();
    const fallback = await runFetchPipeline(bogus.source, deps(bogus.store, { logger }));
    assert.equal(fallback.status, "ok");
    assert.ok(logger.records.some((r) => r.level === "warn" && /klingon-8/.test(r.text)));
  });
});

Deno.test("runFetchPipeline() reports a store that cannot write bookkeeping without failing the fetch", async () => {
  await withSite(async (site) => {
    const { source, store } = await setup(site.url("/text"));
    await runFetchPipeline(source, deps(store));
    store.updateSources = () => Promise.reject(new Error("database unavailable"));
    const logger = captureLogger();
    const result = await runFetchPipeline(await store.source(source.id), deps(store, { logger }));
    assert.equal(result.status, "ok");
    assert.equal(result.bookkeeping_written, false);
    assert.ok(
      logger.records.some((r) => r.level === "error" && /database unavailable/.test(r.text)),
    );
  });
});
