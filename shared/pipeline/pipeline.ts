/**
 * The fetch pipeline of one source: fetch → extract → normalise → hash → compare →
 * record (snapshot + policy change in one transaction) → bookkeeping.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import type { Config } from "../config.ts";
import type { Clock, FetchFn, Logger, Source } from "../types.ts";
import { defaultResolveHost, type ResolveHost } from "./address_guard.ts";
import { type BrowserConfig, type BrowserSeam, renderedFetch } from "./browser_fetcher.ts";
import { failureBookkeeping, successBookkeeping } from "./bookkeeping.ts";
import { errorMessage, namedErrorMessage } from "../errors.ts";
import {
  changeFingerprint,
  HISTORY_SNAPSHOTS,
  isFurnitureChange,
  sha256Hex,
  STUB_CONFIRMATIONS,
  stubReason,
} from "./detect.ts";
import { PipelineError } from "./errors.ts";
import { extractDocument, type Extracted, type ExtractLimits } from "./extract.ts";
import { displayUrl, fetchDocument, type FetchedDocument, type FetcherConfig } from "./fetcher.ts";
import type { ByteBudget } from "./byte_budget.ts";
import type { HostLimiter } from "./host_limiter.ts";
import { type PinnedConnect, pinnedConnect } from "./pinned_connect.ts";
import { compileIgnorePatterns, normaliseTextYielding } from "./normalise.ts";
import { parseTextKey, storedTextKey, textKey } from "./text_key.ts";
import type { IgnorePattern } from "./ignore_patterns.ts";
import type { SleepFn } from "../sleep.ts";
import type {
  PipelineResult,
  PipelineStore,
  PipelineTimings,
  RecordSnapshotInput,
  RecordSnapshotResult,
  SourceBookkeeping,
} from "./types.ts";

/** The slice of {@link Config} the pipeline reads. */
export type PipelineConfig =
  & FetcherConfig
  & BrowserConfig
  & Pick<
    Config,
    | "FETCH_DIFF_CONTEXT_LINES"
    | "FETCH_DIFF_MAX_CHARS"
    | "FETCH_DIFF_TIMEOUT_MS"
    | "FETCH_MAX_TEXT_CHARS"
    | "FETCH_PDF_MAX_INFLATED_BYTES"
    | "FETCH_PDF_MAX_PAGES"
    | "FETCH_EXTRACT_TIMEOUT_MS"
    | "FETCH_JSON_MAX_DEPTH"
  >;

/** The extraction limits a pipeline configuration sets. */
export function extractLimits(config: PipelineConfig): ExtractLimits {
  return {
    maxTextChars: config.FETCH_MAX_TEXT_CHARS,
    maxInflatedBytes: config.FETCH_PDF_MAX_INFLATED_BYTES,
    maxPages: config.FETCH_PDF_MAX_PAGES,
    timeoutMs: config.FETCH_EXTRACT_TIMEOUT_MS,
    maxJsonDepth: config.FETCH_JSON_MAX_DEPTH,
  };
}

/** Dependencies of {@link runFetchPipeline}. */
export interface PipelineDeps {
  /** HTTP client (redirects are followed by hand, so it must honour `redirect: "manual"`). */
  fetch: FetchFn;
  /** Time of fetches and bookkeeping. */
  clock: Clock;
  /** Where progress and failures are logged. */
  logger: Logger;
  /** Snapshots, changes and bookkeeping. */
  store: PipelineStore;
  /** Timeouts, caps, retries, network policy, User-Agent, diff limits. */
  config: PipelineConfig;
  /** Shared per-host concurrency and politeness across the sources of one invocation. */
  limiter?: HostLimiter;
  /** Body bytes shared by the fetches of one invocation (FETCH_BODY_BUDGET_BYTES). */
  budget?: ByteBudget;
  /** Resolver for the SSRF guard; default `Deno.resolveDns` when the runtime has it. */
  resolveHost?: ResolveHost;
  /** Connects to the checked address (DNS rebinding); default {@link pinnedConnect}. */
  connect?: PinnedConnect;
  /** Injectable wait for retries and politeness. */
  sleep?: SleepFn;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** Aborts the fetch from outside (e.g. the invocation's budget ran out). */
  signal?: AbortSignal;
  /** The browser of `render = 'browser'` sources (`browserSeam`); absent: they fail as `browser`. */
  browser?: BrowserSeam;
}

/** Options of {@link runFetchPipeline}. */
export interface PipelineOptions {
  /** Id of this fetch; a retry with the same id cannot record a second change. Default: a new UUID. */
  fetchId?: string;
  /** Write the bookkeeping patch here (default) or leave it to the caller to batch. */
  writeBookkeeping?: boolean;
  /**
   * Runs each of the check's request exchanges with its source's host (one fetch with its
   * retries and redirect hops, the change's confirmation fetch) and returns what it
   * returned: a caller that holds a request slot of the host for the check (the job: one
   * of the host's slots across invocations) holds it only for these, not while the check
   * extracts, compares and records. No request of the check is made outside it. Default:
   * runs it at once.
   */
  requestSlot?: <T>(exchange: () => Promise<T>) => Promise<T>;
}

/** Stopwatch over the injected clock. */
function _stopwatch(clock: Clock) {
  let last = clock().getTime();
  return () => {
    const now = clock().getTime();
    const elapsed = Math.max(0, now - last);
    last = now;
    return elapsed;
  };
}

/** A {@link PipelineResult} before anything happened: `ok`, nothing read, zero timings. */
export type PendingPipelineResult = Omit<PipelineResult, "bookkeeping" | "bookkeeping_written">;

/**
 * The result {@link runFetchPipeline} starts from and fills in stage by stage; also the
 * base of results built by hand (tests of the job).
 * @example
 * const result = { ...emptyPipelineResult(source.id, fetchId), http_status: 200 };
 */
export function emptyPipelineResult(sourceId: string, fetchId: string): PendingPipelineResult {
  return {
    source_id: sourceId,
    fetch_id: fetchId,
    status: "ok",
    changed: false,
    baseline: false,
    not_modified: false,
    policy_change_id: null,
    snapshot_id: null,
    content_hash: null,
    content: null,
    summary: null,
    http_status: null,
    error_class: null,
    error_message: null,
    error_detail: null,
    timings: {
      total_ms: 0,
      fetch_ms: 0,
      extract_ms: 0,
      normalise_ms: 0,
      detect_ms: 0,
      store_ms: 0,
      compute_ms: 0,
    },
  };
}

/**
 * Checks one source. Never throws: failures come back with `status: "failed"`,
 * `error_class` and `error_message`.
 * @example
 * const result = await runFetchPipeline(source, deps, { fetchId: item.fetch_id, writeBookkeeping: false });
 * patches.push(result.bookkeeping); // later: await store.updateSources(patches)
 */
export async function runFetchPipeline(
  source: Source,
  deps: PipelineDeps,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const fetchId = options.fetchId ?? crypto.randomUUID();
  const writeBookkeeping = options.writeBookkeeping ?? true;
  const startedAt = deps.clock();
  const lap = _stopwatch(deps.clock);
  const result = emptyPipelineResult(source.id, fetchId);
  const timings = result.timings;
  const clock = _computeClock(timings);
  let bookkeeping: SourceBookkeeping;
  let bookkeepingWritten = false;
  const log = { sourceId: source.id, url: displayUrl(source.url), fetchId };
  const inSlot = options.requestSlot ?? (<T>(exchange: () => Promise<T>) => exchange());

  // This fetch's share of the invocation's body budget, given back once the body is read.
  const lease = deps.budget?.lease();
  try {
    const ignorePatterns = compileIgnorePatterns(source.ignore_patterns);
    // Conditional GET only when there is a snapshot to fall back on: validators without
    // a stored text (a failed first write) would make the server answer 304 forever.
    const hasSnapshot = source.last_hash !== null && source.last_snapshot_id !== null;
    const fetcherDeps = {
      fetch: deps.fetch,
      config: deps.config,
      logger: deps.logger,
      clock: deps.clock,
      limiter: deps.limiter,
      resolveHost: deps.resolveHost ?? defaultResolveHost(),
      connect: deps.connect ?? pinnedConnect,
      sleep: deps.sleep,
      random: deps.random,
      signal: deps.signal,
    };
    // render 'browser': the same request through a real browser (browser_fetcher.ts).
    const fetchSource = source.render === "browser"
      ? renderedFetch(deps.browser, deps.config)
      : fetchDocument;
    const outcome = await inSlot(() => {
      lap(); // waiting for the request slot is not the fetch's time
      return fetchSource(
        {
          url: source.url,
          etag: hasSnapshot ? source.etag : null,
          lastModified: hasSnapshot ? source.last_modified : null,
        },
        { ...fetcherDeps, budgetLease: lease },
      );
    });
    timings.fetch_ms = lap();
    result.http_status = outcome.status;
    const fetchedAt = deps.clock();

    if (outcome.notModified) {
      result.not_modified = true;
      // A 304 may refresh the validators; when it does not, keep the stored ones.
      bookkeeping = successBookkeeping(
        source,
        fetchedAt,
        outcome.etag || outcome.lastModified
          ? {
            etag: outcome.etag ?? source.etag,
            lastModified: outcome.lastModified ?? source.last_modified,
          }
          : undefined,
      );
      deps.logger.debug("Source {sourceId} not modified (304)", log);
    } else {
      const extracted = await clock.stage(
        () => _extract(outcome, source, deps.config),
        (e) => e.kind === "pdf",
      );
      lease?.release(); // the body is not needed any more
      if (extracted.unknownCharset) {
        deps.logger.warn("Source {sourceId} declares unknown charset {charset}; decoded as UTF-8", {
          ...log,
          charset: extracted.unknownCharset,
        });
      }
      timings.extract_ms = lap();
      const validators = { etag: outcome.etag, lastModified: outcome.lastModified };
      // The same text as at a check whose text normalised to last_hash: that hash (text_key.ts).
      const lastKey = source.last_hash === null
        ? null
        : await textKey(extracted.text, source.ignore_patterns, source.last_hash);
      const stored = lastKey === null ? null : parseTextKey(source.text_key);
      if (stored !== null && stored.key === lastKey) {
        result.content = { found_by: extracted.foundBy, chars: stored.chars };
        result.content_hash = source.last_hash;
        timings.normalise_ms = lap();
        bookkeeping = successBookkeeping(source, fetchedAt, validators);
        deps.logger.debug("Source {sourceId} unchanged (the same text as before)", log);
      } else {
        const { text, hash } = await _monitoredText(extracted, ignorePatterns, clock);
        if (text === "") {
          throw new PipelineError("parse", `no text found in the ${extracted.mediaType} document`);
        }
        result.content = { found_by: extracted.foundBy, chars: text.length };
        timings.normalise_ms = lap();
        result.content_hash = hash;
        bookkeeping = successBookkeeping(source, fetchedAt, validators);

        // Furniture by the source's history (lines that come and go): not a change, and
        // the previous snapshot stays the one later fetches compare with.
        let furniture = false;
        let diff: string | null = null;
        if (hash !== source.last_hash) {
          if (source.last_hash !== null) {
            // One read for the previous text and the history: the newest snapshot is the
            // previous one but for a stale source row (a retry after another write).
            const recent = source.last_snapshot_id
              ? await deps.store.getRecentSnapshots(source.id, HISTORY_SNAPSHOTS)
              : [];
            const previous = source.last_snapshot_id === null
              ? null
              : recent.find((s) => s.id === source.last_snapshot_id)?.content ??
                await deps.store.getSnapshotContent(source.last_snapshot_id);
            if (previous === null) {
              deps.logger.warn(
                "Source {sourceId}: previous snapshot text is gone; diffing against nothing",
                log,
              );
            }
            // A stub fetch after fetch is the page's text now: the fifth time, it is recorded.
            const stub = previous === null ? null : clock.sync(() => stubReason(previous, text));
            if (stub !== null && source.consecutive_failures < STUB_CONFIRMATIONS - 1) {
              throw new PipelineError("parse", stub);
            }
            // A newest snapshot other than the previous one: this row is stale (a retry after
            // another write); the snapshot write decides (replays or refuses), not history.
            if (previous !== null && recent[0]?.id === source.last_snapshot_id) {
              const history = recent.map((s) => s.content);
              furniture = clock.sync(() => isFurnitureChange(previous, text, history));
            }
            const { diffTexts } = await _loadTextDiff();
            const change = clock.sync(() =>
              diffTexts(previous ?? "", text, {
                contextLines: deps.config.FETCH_DIFF_CONTEXT_LINES,
                maxChars: deps.config.FETCH_DIFF_MAX_CHARS,
                timeoutMs: deps.config.FETCH_DIFF_TIMEOUT_MS,
                newHeader: fetchedAt.toISOString(),
              })
            );
            diff = change.diff;
            result.summary = change.summary;
          }
          timings.detect_ms = lap();
        }
        // A change is confirmed by a second fetch before it is recorded: a page that changes
        // between two fetches a moment apart (rotating content, an A/B test) is not a change.
        let unconfirmed = false;
        if (!furniture && hash !== source.last_hash && source.last_hash !== null) {
          // The second body takes its own share of the invocation's body budget.
          const againLease = deps.budget?.lease();
          try {
            const again = await inSlot(() => {
              lap();
              return fetchSource(
                { url: source.url, etag: null, lastModified: null },
                { ...fetcherDeps, budgetLease: againLease },
              );
            });
            // The same bytes of the same type extract to the same text (extraction is a
            // function of them): confirmed without a second extraction, the costliest stage
            // (a PDF's is ~0.5 s of CPU, a quarter of a worker's limit).
            const same = !again.notModified && again.contentType === outcome.contentType &&
              _sameBytes(again.body, outcome.body);
            const againExtracted = again.notModified || same ? null : await clock.stage(
              () => _extract(again, source, deps.config),
              (e) => e.kind === "pdf",
            );
            // Other bytes (a page's noise) that extract to the same text: the same hash,
            // without normalising again.
            const sameText = againExtracted?.text === extracted.text;
            const confirmed = againExtracted === null || sameText
              ? null
              : await _monitoredText(againExtracted, ignorePatterns, clock);
            unconfirmed = !same && !sameText && confirmed?.hash !== hash;
          } catch (error) {
            // The next check decides; the first fetch was fine, so this one is not a failure.
            unconfirmed = true;
            deps.logger.warn("Source {sourceId}: the confirmation fetch failed: {error}", {
              ...log,
              error: errorMessage(error),
            });
          } finally {
            againLease?.release();
          }
          timings.fetch_ms += lap();
        }
        if (furniture || unconfirmed) {
          result.summary = null;
          deps.logger.info(
            unconfirmed
              ? "Source {sourceId}: change not confirmed by a second fetch; not recorded"
              : "Source {sourceId}: only page furniture changed; not recorded",
            log,
          );
        } else if (hash !== source.last_hash) {
          // Recorded: the hash is the source's last_hash from now on.
          const key = await textKey(extracted.text, source.ignore_patterns, hash);
          bookkeeping.text_key = storedTextKey(key, text.length);
          const recorded = await _record(deps.store, {
            source_id: source.id,
            fetch_id: fetchId,
            previous_hash: source.last_hash,
            content_hash: hash,
            content: text,
            content_type: extracted.mediaType,
            diff,
            summary: result.summary,
            fetched_at: fetchedAt.toISOString(),
            bookkeeping,
          });
          timings.store_ms = lap();
          bookkeepingWritten = true; // the RPC moved the bookkeeping with the snapshot
          result.snapshot_id = recorded.snapshot_id;
          result.policy_change_id = recorded.policy_change_id;
          result.policy_change = recorded.policy_change ?? null;
          result.alerts = recorded.alerts ?? null;
          result.baseline = recorded.baseline;
          result.changed = recorded.policy_change_id !== null;
          if (!result.changed) result.summary = null;
          deps.logger.info(
            result.changed
              ? "Source {sourceId} changed: policy change {changeId}"
              : "Source {sourceId}: baseline stored",
            { ...log, changeId: recorded.policy_change_id, snapshotId: recorded.snapshot_id },
          );
        } else {
          timings.detect_ms = lap();
          // Unchanged: the key of this text with the hash it has (and had), for the next check.
          if (lastKey !== null) bookkeeping.text_key = storedTextKey(lastKey, text.length);
          deps.logger.debug("Source {sourceId} unchanged", log);
        }
      }
    }
  } catch (thrown) {
    const error = thrown instanceof PipelineError ? thrown : _internal(thrown);
    // Library messages often end with a period; ours never do.
    const detail = error.message.trim().replace(/\.+$/, "");
    const message = `Cannot fetch source ${source.id}: ${detail}`;
    result.status = "failed";
    result.error_class = error.errorClass;
    result.error_message = message;
    result.error_detail = detail;
    result.changed = false;
    result.baseline = false;
    bookkeeping = failureBookkeeping(source, deps.clock(), error.errorClass, message);
    bookkeepingWritten = false;
    const level = error.errorClass === "internal" ? "error" : "warn";
    deps.logger[level]("Source {sourceId} failed with {errorClass}: {error}", {
      ...log,
      errorClass: error.errorClass,
      error: message,
    });
  }

  lease?.release();

  if (writeBookkeeping && !bookkeepingWritten) {
    const storeLap = _stopwatch(deps.clock);
    try {
      await deps.store.updateSources([bookkeeping]);
      bookkeepingWritten = true;
    } catch (error) {
      deps.logger.error("Cannot write bookkeeping of source {sourceId}: {error}", {
        ...log,
        error: errorMessage(error),
      });
    }
    timings.store_ms += storeLap();
  }
  timings.total_ms = Math.max(0, deps.clock().getTime() - startedAt.getTime());
  return { ...result, bookkeeping, bookkeeping_written: bookkeepingWritten };
}

/**
 * The diff of a change (text_diff.ts and jsdiff), loaded on the first change a worker sees:
 * most fetches find no change. A failed load is not remembered; its error fails that source
 * as `internal`.
 */
const _loadTextDiff = lazyImport(() => import("./text_diff.ts"));

/** Whether two bodies are the same bytes. */
function _sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Times the synchronous compute of a run into `timings.compute_ms`: `performance.now()`
 * spans that hold no await, so no other work of the isolate runs inside them.
 */
function _computeClock(timings: PipelineTimings) {
  return {
    /** A synchronous call: all of it. */
    sync<T>(f: () => T): T {
      const t = performance.now();
      try {
        return f();
      } finally {
        timings.compute_ms += performance.now() - t;
      }
    },
    /**
     * An async call: what runs before its first await (an async function runs that far
     * when called), or all of it when `whole(value)` says it awaits inside its own work
     * (then an upper bound: others' work may run in its awaits).
     */
    async stage<T>(start: () => Promise<T>, whole: (value: T) => boolean): Promise<T> {
      const t = performance.now();
      const pending = start();
      const sync = performance.now() - t;
      const value = await pending;
      timings.compute_ms += whole(value) ? performance.now() - t : sync;
      return value;
    },
  };
}

type ComputeClock = ReturnType<typeof _computeClock>;

/** A fetched body as text: the source's selector, the configured caps. */
function _extract(
  document: FetchedDocument,
  source: Source,
  config: PipelineConfig,
): Promise<Extracted> {
  return extractDocument({
    body: document.body,
    contentType: document.contentType,
    selector: source.css_selector,
    limits: extractLimits(config),
  });
}

/**
 * The text a source monitors and the hash that says whether it changed: the ignore
 * patterns run one at a time with a turn of the event loop between them, then the hash is
 * taken of the text's change fingerprint (layout, relative times and years left out).
 */
async function _monitoredText(
  extracted: Extracted,
  ignorePatterns: readonly IgnorePattern[],
  clock: ComputeClock,
): Promise<{ text: string; hash: string }> {
  // With patterns, the whole normalisation counts (it yields between them).
  const text = await clock.stage(
    () => normaliseTextYielding(extracted.text, ignorePatterns),
    () => ignorePatterns.length > 0,
  );
  return { text, hash: await clock.sync(() => sha256Hex(changeFingerprint(text))) };
}

/** Calls the store's transactional write; its failures are `internal` (not the site's fault). */
async function _record(
  store: PipelineStore,
  input: RecordSnapshotInput,
): Promise<RecordSnapshotResult> {
  try {
    return await store.recordSnapshot(input);
  } catch (error) {
    const detail = errorMessage(error);
    throw new PipelineError("internal", `recording the snapshot failed: ${detail}`, {
      cause: error,
    });
  }
}

function _internal(error: unknown): PipelineError {
  const detail = namedErrorMessage(error);
  return new PipelineError("internal", `unexpected error: ${detail}`, { cause: error });
}
