import assert from "node:assert/strict";
import {
  JOB_NAME,
  processDailyFetchRun,
  runDailyFetchJob,
  startDailyFetchRun,
  toJobResult,
} from "../../../shared/jobs/run_daily_fetch_job.ts";
import { type JobResult, RunInProgressError } from "../../../shared/jobs/types.ts";
import type { CapturedLog } from "../../../shared/log.ts";
import type { Source } from "../../../shared/types.ts";
import {
  type Behaviour,
  CRASH,
  type JobHarness,
  jobHarness,
  NOW,
  outcome,
  pipelineResult,
  testJobConfig,
  watchedSource,
} from "./_job_fakes.ts";
import { makeSource } from "./_memory_job_store.ts";

const LEASE = testJobConfig().JOB_LEASE_MS;

/** Asserts exactly one log line reads `text`, at `level`. */
function assertLogged(h: JobHarness, level: CapturedLog["level"], text: string): void {
  const hits = h.logger.records.filter((r) => r.text === text);
  assert.equal(hits.length, 1, `expected one log line "${text}", got ${hits.length}`);
  assert.equal(hits[0]?.level, level, `level of "${text}"`);
}

/** Texts of the log lines matching `pattern`. */
function logTexts(h: JobHarness, pattern: RegExp): string[] {
  return h.logger.records.filter((r) => pattern.test(r.text)).map((r) => r.text);
}

/** The sources the pipeline was asked to fetch, sorted. */
function fetched(h: JobHarness): string[] {
  return h.pipeline.calls.map((c) => c.source_id).sort();
}

/** A JobResult without the fields that differ between two equal runs. */
function totals(result: JobResult) {
  const { run_id: _id, started_at: _s, completed_at: _c, ...rest } = result;
  return { ...rest, errors: [...rest.errors].sort() };
}

const three = () => [
  watchedSource({ id: "src-a" }),
  watchedSource({ id: "src-b" }),
  watchedSource({ id: "src-c" }),
];

// ---------------------------------------------------------------------------------------

Deno.test("runDailyFetchJob() fetches the active sources only", async (t) => {
  const sources = [
    watchedSource({ id: "src-a" }),
    watchedSource({ id: "src-b" }),
    watchedSource({ id: "src-c", active: false }),
    makeSource({ id: "src-d" }),
  ];

  await t.step("every active source is fetched once, with its item's fetch id", async () => {
    const h = jobHarness({ sources });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(fetched(h), ["src-a", "src-b", "src-d"]);
    const items = h.store.itemsOf(result.run_id);
    for (const call of h.pipeline.calls) {
      assert.equal(call.fetch_id, items.find((i) => i.source_id === call.source_id)?.fetch_id);
    }
    assert.deepEqual(
      [result.status, result.trigger, result.sources_processed, result.sources_succeeded],
      ["succeeded", "cron", 3, 3],
    );
  });

  await t.step("source_ids restricts the run to those of them that are active", async () => {
    const h = jobHarness({ sources });
    const result = await runDailyFetchJob(h.deps, {
      trigger: "manual",
      source_ids: ["src-b", "src-c"],
    });
    assert.deepEqual(fetched(h), ["src-b"]);
    assert.deepEqual([result.sources_processed, result.sources_skipped], [1, 0]);
    assert.deepEqual(h.store.runs[0]?.options, { source_ids: ["src-b", "src-c"] });
  });
});

Deno.test("runDailyFetchJob() runs the pipeline on due sources only and counts the others as skipped", async (t) => {
  const sources = [
    watchedSource({
      id: "src-a",
      check_frequency: "hourly",
      last_checked_at: new Date(NOW.getTime() - 10 * 60_000).toISOString(),
    }),
    watchedSource({
      id: "src-b",
      last_checked_at: new Date(NOW.getTime() - 3 * 3_600_000).toISOString(),
    }),
    watchedSource({ id: "src-c", last_checked_at: "2026-11-27T02:00:05.000Z" }),
    makeSource({ id: "src-d", check_frequency: "weekly" }),
  ];

  await t.step("sources not due are skipped, counted and logged", async () => {
    const h = jobHarness({ sources });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(fetched(h), ["src-c", "src-d"]);
    assert.deepEqual(
      [result.sources_processed, result.sources_skipped, result.status],
      [2, 2, "succeeded"],
    );
    assertLogged(h, "info", "Skipping source src-a: check_frequency hourly not due");
    assertLogged(h, "info", "Skipping source src-b: check_frequency daily not due");
    assert.equal(logTexts(h, /^Skipping/).length, 2);
    assert.deepEqual(h.store.itemsOf(result.run_id).map((i) => [i.source_id, i.status]), [
      ["src-a", "skipped"],
      ["src-b", "skipped"],
      ["src-c", "succeeded"],
      ["src-d", "succeeded"],
    ]);
  });

  await t.step("force makes every active source due", async () => {
    const h = jobHarness({ sources });
    const result = await runDailyFetchJob(h.deps, { trigger: "manual", force: true });
    assert.deepEqual(fetched(h), ["src-a", "src-b", "src-c", "src-d"]);
    assert.deepEqual([result.sources_processed, result.sources_skipped], [4, 0]);
    assert.deepEqual(logTexts(h, /^Skipping/), []);
  });
});

Deno.test("runDailyFetchJob() delivers alerts for changed sources only", async () => {
  const h = jobHarness({
    sources: [
      watchedSource({ id: "src-a" }),
      watchedSource({ id: "src-b" }),
      makeSource({ id: "src-c" }),
      watchedSource({ id: "src-d" }),
      watchedSource({ id: "src-e" }),
    ],
    script: { "src-a": "changed", "src-c": "changed", "src-d": "not_modified", "src-e": "timeout" },
  });
  const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
  const [change, ...others] = [...h.store.policyChanges.values()];
  assert.ok(change && others.length === 0, "one change (src-c's first fetch is a baseline)");
  assert.deepEqual(h.alerts.delivered, [change]);
  assert.deepEqual([result.changes_detected, result.alerts_sent], [1, 1]);
  assert.deepEqual(logTexts(h, /^Change detected/), ["Change detected for source src-a"]);
  const items = h.store.itemsOf(result.run_id);
  assert.deepEqual(
    items.map((i) => [i.source_id, i.status, i.changed, i.baseline, i.policy_change_id]),
    [
      ["src-a", "succeeded", true, false, change.id],
      ["src-b", "succeeded", false, false, null],
      ["src-c", "succeeded", false, true, null],
      ["src-d", "succeeded", false, false, null],
      ["src-e", "failed", false, false, null],
    ],
  );
});

Deno.test("runDailyFetchJob() isolates each kind of source failure", async (t) => {
  await t.step(
    "a pipeline that throws fails its source as internal, the others succeed",
    async () => {
      const h = jobHarness({ sources: three(), script: { "src-a": "changed", "src-b": "throws" } });
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual(result.errors, [`source src-b (Source src-b): internal: ${CRASH}`]);
      assert.deepEqual(
        [result.status, result.sources_succeeded, result.sources_failed, result.changes_detected],
        ["partial", 2, 1, 1],
      );
      const item = h.store.itemsOf(result.run_id).find((i) => i.source_id === "src-b");
      assert.deepEqual([item?.error_class, item?.error_message], [
        "internal",
        `Cannot process source src-b: ${CRASH}`,
      ]);
      assert.deepEqual(h.alerts.delivered.map((c) => c.source_id), ["src-a"]);
    },
  );

  await t.step(
    "a failed PipelineResult keeps its class and the detail after the colon",
    async () => {
      const h = jobHarness({ sources: three(), script: { "src-b": "timeout" } });
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual(result.errors, [
        "source src-b (Source src-b): timeout: timed out after 30000 ms",
      ]);
      assert.deepEqual(
        [result.status, result.sources_succeeded, result.sources_failed],
        ["partial", 2, 1],
      );
    },
  );

  await t.step("a failed PipelineResult without a class is reported as internal", async () => {
    const h = jobHarness({
      sources: three(),
      script: {
        "src-c": (source, fetchId) =>
          Promise.resolve(
            pipelineResult(source, fetchId, NOW, { status: "failed", error_message: null }),
          ),
      },
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(result.errors, ["source src-c (Source src-c): internal: unknown error"]);
  });

  await t.step(
    "an alert engine that throws stops neither the run nor the other alerts",
    async () => {
      const h = jobHarness({
        sources: three(),
        script: { "src-a": "changed", "src-b": "changed", "src-c": "changed" },
        alerts: {
          deliver: (change) =>
            change.source_id === "src-b"
              ? Promise.reject(new Error("alert engine crashed: connection pool exhausted"))
              : Promise.resolve([outcome("sent")]),
        },
      });
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual(h.alerts.delivered.map((c) => c.source_id).sort(), [
        "src-a",
        "src-b",
        "src-c",
      ]);
      assert.deepEqual([result.changes_detected, result.alerts_sent], [3, 2]);
      const bChange = [...h.store.policyChanges.values()].find((c) => c.source_id === "src-b");
      assertLogged(
        h,
        "error",
        `Cannot alert on change ${bChange?.id} of source src-b: alert engine crashed: connection pool exhausted`,
      );
    },
  );

  await t.step(
    "an alert engine returning failed outcomes is logged and not counted as sent",
    async () => {
      const failed = outcome("failed");
      const h = jobHarness({
        sources: three(),
        script: { "src-a": "changed", "src-b": "changed" },
        alerts: {
          deliver: (change) =>
            Promise.resolve(change.source_id === "src-b" ? [failed] : [outcome("sent")]),
        },
      });
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual([result.changes_detected, result.alerts_sent], [2, 1]);
      const bChange = [...h.store.policyChanges.values()].find((c) => c.source_id === "src-b");
      assertLogged(
        h,
        "error",
        `Alert ${failed.alert_id} of change ${bChange?.id} failed: HTTP 503 from the receiver`,
      );
    },
  );
});

Deno.test({
  name:
    "runDailyFetchJob() reports an alert failure in errors as `source <id> (<name>): <class>: <detail>` and counts its source as failed",
  // Regression test of a fixed bug, shared/jobs/run_daily_fetch_job.ts _finishItem(): a deliver() that rejects (the
  // catch around deps.alerts.deliver) or returns failed/dead outcomes is only logged; the
  // item's outcome stays `succeeded` with error_text null, so JobResult.errors and
  // sources_failed never show that subscribers were not told of a change.
  fn: async (t) => {
    const expectReported = async (
      deliverB: () => Promise<ReturnType<typeof outcome>[]>,
      detail: RegExp,
    ) => {
      const h = jobHarness({
        sources: three(),
        script: { "src-a": "changed", "src-b": "changed", "src-c": "changed" },
        alerts: {
          deliver: (change) =>
            change.source_id === "src-b" ? deliverB() : Promise.resolve([outcome("sent")]),
        },
      });
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
      assert.match(result.errors[0] ?? "", /^source src-b \(Source src-b\): [a-z_]+: /);
      assert.match(result.errors[0] ?? "", detail);
      assert.deepEqual(
        [result.status, result.sources_succeeded, result.sources_failed],
        ["partial", 2, 1],
      );
    };
    await t.step("when the engine throws", async () => {
      await expectReported(
        () => Promise.reject(new Error("alert engine crashed: connection pool exhausted")),
        /connection pool exhausted/,
      );
    });
    await t.step("when the engine returns failed outcomes", async () => {
      await expectReported(
        () => Promise.resolve([outcome("failed"), outcome("dead")]),
        /HTTP 503 from the receiver/,
      );
    });
  },
});

Deno.test("startDailyFetchRun() throws RunInProgressError while a run is in progress", async (t) => {
  const h = jobHarness({ sources: [watchedSource({ id: "src-a" })] });
  const first = await startDailyFetchRun(h.deps, { trigger: "cron" });
  assert.equal(first.status, "running");

  await t.step("a second start is refused with the running run's id", async () => {
    await assert.rejects(
      runDailyFetchJob(h.deps, { trigger: "manual", force: true }),
      (error: unknown) =>
        error instanceof RunInProgressError && error.runningRunId === first.run_id,
    );
    assertLogged(h, "warn", `Daily fetch job not started: run ${first.run_id} is in progress`);
    assert.deepEqual(h.pipeline.calls, []);
  });

  await t.step("past its deadline the stale run is expired and a new one starts", async () => {
    h.clock.advance(testJobConfig().JOB_RUN_DEADLINE_MS + 1);
    const second = await runDailyFetchJob(h.deps, { trigger: "manual" });
    assert.deepEqual([second.status, second.sources_processed], ["succeeded", 1]);
    const stale = await h.store.getRun(first.run_id);
    assert.equal(stale?.status, "failed");
    assert.match(stale?.errors[0] ?? "", /^run did not finish before its deadline /);
  });
});

Deno.test("runDailyFetchJob() never throws when its dependencies fail", async (t) => {
  await t.step("retrying pending alerts rejects: logged, the run goes on", async () => {
    const h = jobHarness({
      sources: three(),
      alerts: { retryPending: () => Promise.reject(new Error("outbox unreachable")) },
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual([result.status, result.sources_processed], ["succeeded", 3]);
    assertLogged(h, "error", "Cannot retry pending alerts: outbox unreachable");
  });

  await t.step("listing missed runs rejects: logged, the run goes on", async () => {
    const h = jobHarness({ sources: three() });
    h.store.failNext("listMissedRuns", new Error("Cannot read missed runs: timeout"));
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual([result.status, result.sources_processed], ["succeeded", 3]);
    assertLogged(h, "error", "Cannot send missed-run alerts: Cannot read missed runs: timeout");
  });

  await t.step("the bookkeeping write rejects: logged, every source still processed", async () => {
    // A third failure in a row: a failing alert may be due, so the bookkeeping is written
    // on its own before the outcomes (otherwise it goes with them, in one write).
    const h = jobHarness({
      sources: [
        watchedSource({ id: "src-a", consecutive_failures: 2 }),
        watchedSource({ id: "src-b" }),
        watchedSource({ id: "src-c" }),
      ],
      script: { "src-a": "timeout" },
      writeBookkeeping: () => Promise.reject(new Error("Cannot update sources: 503")),
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.equal(result.sources_processed, 3);
    assertLogged(
      h,
      "error",
      "Cannot write the bookkeeping of 3 sources: Cannot update sources: 503",
    );
  });

  await t.step("reading a change or a health alert rejects: logged, the run goes on", async () => {
    const h = jobHarness({
      sources: [
        watchedSource({ id: "src-a" }),
        watchedSource({ id: "src-b", consecutive_failures: 2 }),
      ],
      script: { "src-a": "changed", "src-b": "timeout" },
      alerts: { sourceHealth: () => Promise.reject(new Error("health store down")) },
    });
    h.store.failAlways("getPolicyChange", new Error("Cannot read policy change: 500"));
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    // src-a's change could not be announced (reported as an alert failure), src-b timed out.
    assert.deepEqual([result.status, result.sources_processed], ["failed", 2]);
    assert.match(result.errors.join("\n"), /source src-a \(Source src-a\): alert: /);
    assert.equal(logTexts(h, /^Cannot alert on change .* of source src-a: /).length, 1);
    assertLogged(h, "error", "Cannot send health alerts of source src-b: health store down");
  });

  await t.step(
    "recording outcomes rejects: the result says so and the run stays running",
    async () => {
      const h = jobHarness({ sources: three() });
      h.store.failNext("completeItems", new Error("Cannot record outcomes: connection reset"));
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual([result.status, result.sources_processed], ["running", 0]);
      assert.deepEqual(result.errors, [
        "invocation invocation-1: Cannot record outcomes: connection reset",
      ]);
      assertLogged(
        h,
        "error",
        `Daily fetch job invocation stopped on run ${result.run_id}: Cannot record outcomes: connection reset`,
      );
    },
  );

  await t.step("the run cannot even be read back: a result that names the run", async () => {
    const h = jobHarness({ sources: three() });
    const started = await startDailyFetchRun(h.deps, { trigger: "cron" });
    h.store.failNext("completeItems", new Error("connection reset"));
    h.store.failNext("getRun", new Error("connection refused"));
    const result = await processDailyFetchRun(h.deps, started.run_id);
    assert.deepEqual([result.run_id, result.status], [started.run_id, "running"]);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0] ?? "", new RegExp(`^Cannot read run ${started.run_id}: `));
  });
});

Deno.test("runDailyFetchJob() counts sources and sets the run's status", async (t) => {
  await t.step("every source succeeded: succeeded", async () => {
    const h = jobHarness({ sources: three(), script: { "src-a": "changed" } });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(totals(result), {
      status: "succeeded",
      trigger: "cron",
      sources_processed: 3,
      sources_succeeded: 3,
      sources_failed: 0,
      sources_skipped: 0,
      changes_detected: 1,
      alerts_sent: 1,
      errors: [],
    });
    assert.equal(result.completed_at, NOW.toISOString());
  });

  await t.step("some sources failed: partial", async () => {
    const h = jobHarness({ sources: three(), script: { "src-a": "timeout", "src-c": "throws" } });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(
      [result.status, result.sources_processed, result.sources_succeeded, result.sources_failed],
      ["partial", 3, 1, 2],
    );
    assert.equal(result.errors.length, 2);
  });

  await t.step("every source failed: failed, and the summary is logged as an error", async () => {
    const h = jobHarness({
      sources: three(),
      script: { "src-a": "timeout", "src-b": "timeout", "src-c": "throws" },
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(
      [result.status, result.sources_processed, result.sources_succeeded, result.sources_failed],
      ["failed", 3, 0, 3],
    );
    assertLogged(h, "error", "Daily fetch job completed: 3 processed, 0 changes, 3 errors");
  });

  await t.step("no source due: succeeded at once with nothing processed", async () => {
    const recent = new Date(NOW.getTime() - 3_600_000).toISOString();
    const h = jobHarness({
      sources: [
        watchedSource({ id: "src-a", last_checked_at: recent }),
        watchedSource({ id: "src-b", check_frequency: "weekly", last_checked_at: recent }),
      ],
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(totals(result), {
      status: "succeeded",
      trigger: "cron",
      sources_processed: 0,
      sources_succeeded: 0,
      sources_failed: 0,
      sources_skipped: 2,
      changes_detected: 0,
      alerts_sent: 0,
      errors: [],
    });
    assert.notEqual(result.completed_at, null);
    assert.deepEqual(h.pipeline.calls, []);
    assertLogged(h, "info", "Daily fetch job completed: 0 processed, 0 changes, 0 errors");
  });

  await t.step("no active source at all: succeeded with nothing processed", async () => {
    const h = jobHarness({ sources: [watchedSource({ id: "src-a", active: false })] });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(
      [result.status, result.sources_processed, result.sources_skipped],
      ["succeeded", 0, 0],
    );
  });
});

Deno.test("runDailyFetchJob() finalises the run failed with a run-level error when the sources cannot be listed", async (t) => {
  for (const method of ["listActiveSources", "listFrequencies"] as const) {
    await t.step(`${method} rejects`, async () => {
      const h = jobHarness({ sources: three() });
      h.store.failAlways(method, new Error("Cannot read the active sources: connection refused"));
      const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
      assert.deepEqual(totals(result), {
        status: "failed",
        trigger: "cron",
        sources_processed: 0,
        sources_succeeded: 0,
        sources_failed: 0,
        sources_skipped: 0,
        changes_detected: 0,
        alerts_sent: 0,
        errors: ["run could not start: Cannot read the active sources: connection refused"],
      });
      assert.equal(result.completed_at, NOW.toISOString());
      assert.deepEqual(h.pipeline.calls, []);
      assertLogged(
        h,
        "error",
        "Daily fetch job failed: run could not start: Cannot read the active sources: connection refused",
      );
      assertLogged(h, "error", "Daily fetch job completed: 0 processed, 0 changes, 1 errors");
      h.store.heal(method);
      const next = await runDailyFetchJob(h.deps, { trigger: "manual" });
      assert.equal(next.status, "succeeded", "the failed run does not block the next one");
    });
  }

  await t.step("even when the run cannot be finalised, the result says failed", async () => {
    const h = jobHarness({ sources: three() });
    h.store.failAlways("listActiveSources", new Error("connection refused"));
    h.store.failNext("failRun", new Error("connection refused"));
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual([result.status, result.errors], [
      "failed",
      ["run could not start: connection refused"],
    ]);
    assert.equal(logTexts(h, /^Cannot finalise run /).length, 1);
  });
});

Deno.test("runDailyFetchJob() counts only sent outcomes in alerts_sent", async () => {
  const h = jobHarness({
    sources: [
      watchedSource({ id: "src-a" }),
      watchedSource({ id: "src-b" }),
      watchedSource({ id: "src-c", consecutive_failures: 2 }),
    ],
    script: { "src-a": "changed", "src-b": "changed", "src-c": "timeout" },
    alerts: {
      deliver: () =>
        Promise.resolve([
          outcome("sent"),
          outcome("failed"),
          outcome("dead"),
          outcome("skipped"),
          outcome("sent"),
        ]),
      sourceHealth: () =>
        Promise.resolve([
          outcome("sent", { kind: "source_failing" }),
          outcome("failed", { kind: "source_failing" }),
        ]),
    },
  });
  const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
  assert.equal(result.alerts_sent, 2 + 2 + 1);
});

Deno.test("processDailyFetchRun() retries pending alerts and announces missed runs before any fetch", async () => {
  const h = jobHarness({
    sources: three(),
    alerts: { retryPending: () => Promise.resolve([outcome("sent"), outcome("failed")]) },
  });
  const missed = h.store.insertRun({
    status: "failed",
    started_at: new Date(NOW.getTime() - 86_400_000).toISOString(),
    completed_at: new Date(NOW.getTime() - 86_400_000).toISOString(),
    options: { watchdog: "missed_run" },
    errors: ["daily-fetch did not run at 2026-11-27T02:00:00Z"],
  });
  await runDailyFetchJob(h.deps, { trigger: "cron" });
  const firstFetch = h.events.findIndex((e) => e.startsWith("pipeline "));
  assert.ok(firstFetch > 0);
  assert.deepEqual(h.events.slice(0, 2), ["retryPending", "operational run_missed"]);
  assert.equal(h.alerts.retries, 1);
  assert.deepEqual(h.alerts.operationalEvents, [{
    kind: "run_missed",
    event_key: `run_missed:${missed.id}`,
    source_id: null,
    payload: { job_name: JOB_NAME, noticed_at: missed.started_at, errors: missed.errors },
  }]);
  assertLogged(h, "info", "Retried 2 pending alerts: 1 sent");
});

Deno.test("runDailyFetchJob() asks for failing/recovered alerts only when a threshold can be crossed", async (t) => {
  const sources: Source[] = [
    watchedSource({ id: "src-a", consecutive_failures: 1 }), // 2nd failure: below 3
    watchedSource({ id: "src-b", consecutive_failures: 2 }), // 3rd failure: crosses
    watchedSource({ id: "src-c", consecutive_failures: 5, failing_alerted: true }), // told
    watchedSource({ id: "src-d", consecutive_failures: 4, failing_alerted: true }), // recovers
    watchedSource({ id: "src-e" }), // healthy stays healthy
    watchedSource({ id: "src-f", consecutive_failures: 2 }), // 3rd failure, by a crash
  ];
  const script: Record<string, Behaviour> = {
    "src-a": "timeout",
    "src-b": "timeout",
    "src-c": "timeout",
    "src-f": "throws",
  };

  await t.step("after the batch's bookkeeping is written, in one call", async () => {
    const h = jobHarness({ sources, script });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(
      h.alerts.health.sort((x, y) => x.source_id.localeCompare(y.source_id)),
      [
        { source_id: "src-b", succeeded: false },
        { source_id: "src-d", succeeded: true },
        { source_id: "src-f", succeeded: false },
      ],
    );
    assert.equal(h.bookkeepingWrites.length, 1);
    assert.deepEqual(h.bookkeepingWrites[0]?.map((p) => p.id).sort(), [
      "src-a",
      "src-b",
      "src-c",
      "src-d",
      "src-e",
      "src-f",
    ]);
    const write = h.events.findIndex((e) => e.startsWith("writeBookkeeping "));
    const firstHealth = h.events.findIndex((e) => e.startsWith("sourceHealth "));
    assert.ok(write >= 0 && write < firstHealth, h.events.join(" | "));
    assert.equal(result.alerts_sent, 3, "one sent health alert per transition");
  });

  await t.step("bookkeeping the pipeline already wrote is not written again", async () => {
    const h = jobHarness({
      sources: three(),
      script: {
        "src-b": (source, fetchId) =>
          Promise.resolve(pipelineResult(source, fetchId, NOW, { bookkeeping_written: true })),
      },
    });
    await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(h.bookkeepingWrites.map((w) => w.map((p) => p.id).sort()), [[
      "src-a",
      "src-c",
    ]]);
  });

  await t.step("not at all when the bookkeeping could not be written", async () => {
    const h = jobHarness({
      sources,
      script,
      writeBookkeeping: () => Promise.reject(new Error("Cannot update sources: 503")),
    });
    await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual(h.alerts.health, []);
  });
});

Deno.test({
  name: "runDailyFetchJob() records a crashed pipeline in the source's bookkeeping",
  // Regression test of a fixed bug, shared/jobs/run_daily_fetch_job.ts _processBatch()/_finishItem(): when
  // deps.pipeline rejects, no SourceBookkeeping patch is written (patches come only from
  // results), yet _finishItem computes the streak as consecutive_failures + 1 and calls
  // alerts.sourceHealth(source, false). The alert store reads the streak from the source
  // row (AlertStore.recordSourceHealth: "written by the job before this call"), which was
  // never incremented, so a source whose pipeline keeps crashing never reaches the
  // failing threshold, and its last_checked_at/last_error never move.
  fn: async () => {
    const h = jobHarness({
      sources: [watchedSource({ id: "src-a", consecutive_failures: 2 })],
      script: { "src-a": "throws" },
    });
    await runDailyFetchJob(h.deps, { trigger: "cron" });
    const patch = h.bookkeepingWrites.flat().find((p) => p.id === "src-a");
    assert.ok(patch, "a bookkeeping patch for the crashed source");
    assert.deepEqual(
      [patch.consecutive_failures, patch.last_error_class, patch.last_checked_at],
      [3, "internal", NOW.toISOString()],
    );
  },
});

Deno.test("processDailyFetchRun() finishes a re-claimed item whose change was recorded without fetching it again", async (t) => {
  const h = jobHarness({
    sources: [watchedSource({ id: "src-a" }), watchedSource({ id: "src-b" })],
    script: { "src-a": "changed" },
  });
  const started = await startDailyFetchRun(h.deps, { trigger: "cron" });
  // An invocation claims both items, records src-a's change, then dies.
  const claimed = await h.store.claimItems(started.run_id, "dead-invocation", 10, LEASE);
  const aItem = claimed.find((i) => i.source.id === "src-a");
  const change = h.store.recordSnapshot("src-a", aItem!.fetch_id);
  assert.ok(change);

  await t.step("while the dead claim's lease runs, the items are left alone", async () => {
    const result = await processDailyFetchRun(h.deps, started.run_id);
    assert.deepEqual([result.status, result.sources_processed], ["running", 0]);
    assert.deepEqual(h.pipeline.calls, []);
  });

  await t.step(
    "after the lease, only the other item is fetched and the change is alerted",
    async () => {
      h.clock.advance(LEASE + 1);
      const result = await processDailyFetchRun(h.deps, started.run_id);
      assert.deepEqual(h.pipeline.calls.map((c) => c.source_id), ["src-b"]);
      assert.deepEqual(h.alerts.delivered, [change]);
      assert.deepEqual(
        [result.status, result.sources_succeeded, result.changes_detected, result.alerts_sent],
        ["succeeded", 2, 1, 1],
      );
      const item = h.store.itemsOf(started.run_id).find((i) => i.source_id === "src-a");
      assert.deepEqual([item?.status, item?.changed, item?.policy_change_id, item?.attempts], [
        "succeeded",
        true,
        change.id,
        2,
      ]);
      assertLogged(h, "info", "Change detected for source src-a");
    },
  );
});

Deno.test("processDailyFetchRun() lets the next invocation finish a batch whose outcomes could not be recorded", async () => {
  const h = jobHarness({ sources: three(), script: { "src-a": "changed", "src-b": "timeout" } });
  h.store.failNext("completeItems", new Error("Cannot record outcomes: connection reset"));
  const first = await runDailyFetchJob(h.deps, { trigger: "cron" });
  assert.equal(first.status, "running");
  const firstFetchIds = h.pipeline.calls.map((c) => `${c.source_id}:${c.fetch_id}`).sort();

  h.clock.advance(LEASE + 1);
  const second = await processDailyFetchRun(
    { ...h.deps, invocationId: "invocation-2" },
    first.run_id,
  );
  assert.deepEqual(
    [second.status, second.sources_processed, second.changes_detected, second.errors],
    ["partial", 3, 1, ["source src-b (Source src-b): timeout: timed out after 30000 ms"]],
  );
  assert.equal(h.store.policyChanges.size, 1, "the retried fetch records no second change");
  const refetched = h.pipeline.calls.slice(3).map((c) => `${c.source_id}:${c.fetch_id}`).sort();
  assert.deepEqual(
    refetched,
    firstFetchIds.filter((k) => !k.startsWith("src-a:")),
    "src-a's change was recorded, so only the others are fetched again, with the same fetch ids",
  );
  assert.equal(h.alerts.delivered.length, 2, "delivery is retried (the engine dedupes)");
});

Deno.test("processDailyFetchRun() ignores the outcome of a claim that lost its lease, and finalises once", async () => {
  let nested: Promise<JobResult> | null = null;
  const h: JobHarness = jobHarness({
    sources: [watchedSource({ id: "src-a" })],
    script: {
      "src-a": (source, fetchId) => {
        if (nested === null) {
          // This invocation stalls past its lease; another one takes the item over.
          h.clock.advance(LEASE + 1);
          nested = processDailyFetchRun(
            { ...h.deps, invocationId: "invocation-2" },
            h.store.runs[0]!.id,
          );
          return nested.then(() => pipelineResult(source, fetchId, h.clock()));
        }
        return Promise.resolve(pipelineResult(source, fetchId, h.clock()));
      },
    },
  });
  const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
  assert.deepEqual(
    [result.status, result.sources_processed, result.sources_succeeded],
    ["succeeded", 1, 1],
  );
  assert.equal(h.pipeline.calls.length, 2);
  assert.equal(h.store.itemsOf(result.run_id)[0]?.attempts, 2);
  assert.equal(logTexts(h, /^Daily fetch job completed: /).length, 1);
});

Deno.test("processDailyFetchRun() stops at its budget and hands the run over", async (t) => {
  const sources = ["src-a", "src-b", "src-c", "src-d", "src-e"].map((id) => watchedSource({ id }));
  const script: Record<string, Behaviour> = { "src-b": "changed", "src-d": "timeout" };
  const reference = jobHarness({ sources, script });
  const uninterrupted = await runDailyFetchJob(reference.deps, { trigger: "cron" });

  await t.step("2 of 5 items, then handover(runId); a second invocation finishes", async () => {
    const h = jobHarness({ sources, script, config: { JOB_INVOCATION_MAX_ITEMS: 2 } });
    const first = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual([first.status, first.sources_processed], ["running", 2]);
    assert.deepEqual(h.handovers, [first.run_id]);
    assert.equal(h.pipeline.calls.length, 2);
    assertLogged(
      h,
      "info",
      `Handing run ${first.run_id} over to another invocation after 2 sources`,
    );
    assert.deepEqual(logTexts(h, /^Daily fetch job completed: /), []);

    const second = await processDailyFetchRun(
      { ...h.deps, invocationId: "invocation-2", config: testJobConfig() },
      first.run_id,
    );
    assert.deepEqual(totals(second), totals(uninterrupted));
    assert.deepEqual(h.handovers, [first.run_id], "no handover once done");
    assert.equal(h.pipeline.calls.length, 5);
    assertLogged(h, "info", "Daily fetch job completed: 5 processed, 1 changes, 1 errors");
  });

  await t.step("with the same small budget, invocations chain until the run is done", async () => {
    const h = jobHarness({ sources, script, config: { JOB_INVOCATION_MAX_ITEMS: 2 } });
    let result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    for (let n = 2; h.handovers.length === n - 1; n++) {
      assert.ok(n < 10, "the run must end");
      result = await processDailyFetchRun(
        { ...h.deps, invocationId: `invocation-${n}` },
        result.run_id,
      );
    }
    assert.deepEqual(h.handovers, [result.run_id, result.run_id]);
    assert.equal(h.store.invocationsOf(result.run_id), 3);
    assert.deepEqual(totals(result), totals(uninterrupted));
  });

  await t.step("the wall-clock budget hands over too", async () => {
    const h = jobHarness({
      sources,
      script: Object.fromEntries(
        sources.map((s) => [s.id, (source: Source, fetchId: string) => {
          h.clock.advance(70_000);
          return Promise.resolve(pipelineResult(source, fetchId, h.clock()));
        }]),
      ),
      config: { JOB_BATCH_SIZE: 1, JOB_INVOCATION_WALL_MS: 120_000 },
    });
    const result = await runDailyFetchJob(h.deps, { trigger: "cron" });
    assert.deepEqual([result.status, result.sources_processed], ["running", 2]);
    assert.deepEqual(h.handovers, [result.run_id]);
  });
});

Deno.test("runDailyFetchJob() logs the run's start, each source, each change and the summary", async () => {
  const h = jobHarness({ sources: three(), script: { "src-a": "changed", "src-b": "timeout" } });
  await runDailyFetchJob(h.deps, { trigger: "cron" });
  assertLogged(h, "info", "Starting daily fetch job at 2026-11-28T02:00:00.000Z");
  for (const id of ["src-a", "src-b", "src-c"]) {
    assertLogged(h, "info", `Processing source ${id}: Source ${id}`);
  }
  assertLogged(h, "info", "Source src-a processed: success");
  assertLogged(h, "error", "Source src-b processed: failure");
  assertLogged(h, "info", "Source src-c processed: success");
  assertLogged(h, "info", "Change detected for source src-a");
  assert.deepEqual(logTexts(h, /^Change detected/), ["Change detected for source src-a"]);
  assertLogged(h, "info", "Daily fetch job completed: 3 processed, 1 changes, 1 errors");
  // The invocation's own accounting line (CPU, memory) may follow the summary.
  const texts = h.logger.records.map((r) => r.text).filter((t) => !t.startsWith("Invocation "));
  assert.match(texts[0] ?? "", /^Starting daily fetch job at /);
  assert.match(texts.at(-1) ?? "", /^Daily fetch job completed: /);
  assertLogged(h, "info", `Invocation invocation-1 on run ${h.store.runs[0]?.id} done: 3 sources`);
  const failure = h.logger.records.find((r) => r.text === "Source src-b processed: failure");
  assert.deepEqual(
    [failure?.properties.error_class, failure?.properties.error],
    ["timeout", "Cannot fetch source src-b: timed out after 30000 ms"],
  );
});

Deno.test("toJobResult() maps a job_runs row to the API's JobResult", () => {
  const row = {
    id: "run-1",
    job_name: JOB_NAME,
    trigger: "manual" as const,
    status: "partial" as const,
    started_at: "2026-11-28T02:00:00.000Z",
    completed_at: "2026-11-28T02:03:00.000Z",
    deadline_at: "2026-11-28T04:00:00.000Z",
    options: { force: true },
    total_items: 4,
    sources_processed: 3,
    sources_succeeded: 2,
    sources_failed: 1,
    sources_skipped: 1,
    changes_detected: 1,
    alerts_sent: 2,
    errors: ["source s (S): timeout: x"],
  };
  assert.deepEqual(toJobResult(row), {
    run_id: "run-1",
    status: "partial",
    trigger: "manual",
    started_at: "2026-11-28T02:00:00.000Z",
    completed_at: "2026-11-28T02:03:00.000Z",
    sources_processed: 3,
    sources_succeeded: 2,
    sources_failed: 1,
    sources_skipped: 1,
    changes_detected: 1,
    alerts_sent: 2,
    errors: ["source s (S): timeout: x"],
  });
});
