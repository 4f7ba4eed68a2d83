/**
 * Test helpers of the API: a recording fake JobService, real tokens signed with the local
 * JWT secret, and the app built from fakes.
 * @module
 */
import assert from "node:assert/strict";
import { type AppDeps, createApp } from "../../../functions/api/app.ts";
import { makeApiKey } from "../../../shared/auth/keys.ts";
import { createVerifier } from "../../../shared/auth/verify.ts";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import {
  type JobResult,
  type JobService,
  NO_COUNTS,
  type RunDetails,
  RunInProgressError,
  type RunOptions,
} from "../../../shared/jobs/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import { serviceClient } from "../../../shared/store/client.ts";
import type { FetchFn } from "../../../shared/types.ts";
import { localAuthDeps, NOW } from "../../fixtures/caller_tokens.ts";

export { NOW, tokens, USER_ID } from "../../fixtures/caller_tokens.ts";

/** A JobResult with the given overrides. */
export function jobResult(overrides: Partial<JobResult> = {}): JobResult {
  return {
    run_id: crypto.randomUUID(),
    status: "running",
    trigger: "manual",
    started_at: NOW.toISOString(),
    completed_at: null,
    ...NO_COUNTS,
    errors: [],
    ...overrides,
  };
}

/** A deferred promise the test resolves itself (no timers, so no leaks). */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Options of {@link fakeJobs}. */
export interface FakeJobsOptions {
  /** startRun throws RunInProgressError naming this run. */
  inProgress?: string | null;
  /** processRun waits for this before answering (a slow run). */
  processGate?: Promise<void>;
  /** processRun rejects with this. */
  processError?: Error;
  /** Any method rejects with this (an unexpected failure; not always an Error). */
  explode?: unknown;
}

/** A JobService that keeps runs in memory and records every call. */
export function fakeJobs(options: FakeJobsOptions = {}) {
  const runs = new Map<string, RunDetails>();
  const calls = {
    startRun: [] as RunOptions[],
    processRun: [] as string[],
    getRun: [] as string[],
    listRuns: [] as number[],
    deliverAlerts: 0,
  };
  const service: JobService = {
    startRun(opts) {
      calls.startRun.push(opts);
      if (options.explode !== undefined) return Promise.reject(options.explode);
      if (options.inProgress !== undefined) {
        return Promise.reject(new RunInProgressError(options.inProgress));
      }
      const total = opts.source_ids?.length ?? 3;
      const result = jobResult({ trigger: opts.trigger });
      runs.set(result.run_id, { ...result, progress: { done: 0, total }, sources: [] });
      return Promise.resolve(result);
    },
    async processRun(runId) {
      calls.processRun.push(runId);
      if (options.processGate) await options.processGate;
      if (options.processError) throw options.processError;
      const run = runs.get(runId);
      if (run === undefined) throw new Error(`Cannot process run ${runId}: unknown`);
      const total = run.progress.total;
      const done: RunDetails = {
        ...run,
        status: "succeeded",
        completed_at: NOW.toISOString(),
        sources_processed: total,
        sources_succeeded: total,
        progress: { done: total, total },
      };
      runs.set(runId, done);
      const { progress: _p, sources: _s, ...result } = done;
      return result;
    },
    getRun(runId) {
      calls.getRun.push(runId);
      if (options.explode !== undefined) return Promise.reject(options.explode);
      return Promise.resolve(runs.get(runId) ?? null);
    },
    listRuns(limit) {
      calls.listRuns.push(limit);
      if (options.explode !== undefined) return Promise.reject(options.explode);
      const all = [...runs.values()].map(({ progress: _p, sources: _s, ...r }) => r);
      return Promise.resolve(all.slice(0, limit));
    },
    deliverAlerts() {
      calls.deliverAlerts += 1;
      if (options.explode !== undefined) return Promise.reject(options.explode);
      return Promise.resolve({ attempted: 2, sent: 1, failed: 1, dead: 0 });
    },
  };
  return { service, calls, runs };
}

/** A fetch that answers PostgREST-like `[]` (health) and never reaches the network. */
const fakeRestFetch: FetchFn = () =>
  Promise.resolve(
    new Response("[]", { status: 200, headers: { "content-type": "application/json" } }),
  );

/** The project's new API keys in the tests. */
export const API_KEYS = {
  secret: await makeApiKey("secret"),
  publishable: await makeApiKey("publishable"),
};

/** Builds the app from fakes; returns it with the fakes to inspect. */
export function makeTestApp(
  options: FakeJobsOptions & {
    maxBodyBytes?: number;
    syncAnswerMs?: number;
    verify?: AppDeps["verify"];
    /** What answers the app's PostgREST calls (default: a healthy empty database). */
    dbFetch?: FetchFn;
    /** The operators' routes (mounted only when given). */
    operators?: AppDeps["operators"];
  } = {},
) {
  const jobs = fakeJobs(options);
  const logger = captureLogger();
  const background: Promise<unknown>[] = [];
  const app = createApp({
    db: serviceClient("http://db.invalid", "service-key", options.dbFetch ?? fakeRestFetch),
    logger,
    clock: () => NOW,
    jobs: jobs.service,
    verify: options.verify ??
      createVerifier(localAuthDeps({
        secretKeys: { default: API_KEYS.secret },
        publishableKeys: { default: API_KEYS.publishable },
      })),
    waitUntil: (p) => background.push(p),
    config: {
      ...DEFAULT_CONFIG,
      ...(options.maxBodyBytes !== undefined ? { API_MAX_BODY_BYTES: options.maxBodyBytes } : {}),
      ...(options.syncAnswerMs !== undefined ? { API_SYNC_ANSWER_MS: options.syncAnswerMs } : {}),
    },
    ...(options.operators !== undefined ? { operators: options.operators } : {}),
  });
  return { app, jobs, logger, background };
}

/** Asserts that a response body shows no stack trace. */
export function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /\bat \S*\s?\(?\S+:\d+:\d+/);
  assert.doesNotMatch(text, /\n\s+at /);
  assert.doesNotMatch(text, /file:\/\//);
}

/** Reads an error response: asserts the JSON error shape and returns it. */
export async function errorBody(res: Response) {
  const text = await res.text();
  assertNoStack(text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(text) as {
    error: {
      code: string;
      message: string;
      details?: { path: string; message: string }[];
      run_id?: string;
    };
  };
  assert.equal(typeof body.error?.code, "string");
  assert.equal(typeof body.error?.message, "string");
  assert.ok(body.error.message.length > 0);
  return body.error;
}

export { JOB_RESULT_FIELDS } from "../../fixtures/contract.ts";
