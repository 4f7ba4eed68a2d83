/**
 * Shared test helpers of the pipeline tests: a config that lets loopback through, a
 * recording sleep, a fetch that records the URLs it was asked for, source rows, and the
 * classified failure a promise rejects with.
 * @module
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import type { PipelineConfig } from "../../../shared/pipeline/pipeline.ts";
import type { SleepFn } from "../../../shared/sleep.ts";
import type { ErrorClass, FetchFn, Source } from "../../../shared/types.ts";
import { NEW_SOURCE_DEFAULTS } from "../../fixtures/contract.ts";

/** Defaults, with loopback allowed (the fixture site is on 127.0.0.1). */
export function testConfig(overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  return { ...DEFAULT_CONFIG, FETCH_ALLOW_LOOPBACK: true, ...overrides };
}

/** A sleep that resolves at once and remembers what it was asked to wait. */
export function recordingSleep(): SleepFn & { waits: number[] } {
  const waits: number[] = [];
  const fn = ((ms: number, signal?: AbortSignal) => {
    waits.push(ms);
    return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  }) as SleepFn & { waits: number[] };
  fn.waits = waits;
  return fn;
}

/** The real fetch, recording every URL it is asked for (to prove what was not requested). */
export function recordingFetch(): FetchFn & { urls: string[] } {
  const urls: string[] = [];
  const fn = ((input: Request | URL | string, init?: RequestInit) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return fetch(input, init);
  }) as FetchFn & { urls: string[] };
  fn.urls = urls;
  return fn;
}

let _n = 0;

/** A never-fetched source row for `url`. */
export function newSource(url: string, overrides: Partial<Source> = {}): Source {
  _n++;
  return {
    id: crypto.randomUUID(),
    name: `Test source ${_n}`,
    url,
    ...NEW_SOURCE_DEFAULTS,
    ...overrides,
  };
}

/**
 * The {@link PipelineError} `promise` rejects with; the test fails when it resolves, rejects
 * with anything else, or (with `errorClass`) with another class.
 * @example
 * const error = await pipelineFailure(fetchDocument({ url }, deps), "timeout");
 */
export async function pipelineFailure(
  promise: Promise<unknown>,
  errorClass?: ErrorClass,
): Promise<PipelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PipelineError, `expected a PipelineError, got ${error}`);
    if (errorClass !== undefined) assert.equal(error.errorClass, errorClass, error.message);
    return error;
  }
  assert.fail(`expected a${errorClass ? ` ${errorClass}` : ""} failure, it resolved`);
}
