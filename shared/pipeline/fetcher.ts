/**
 * Fetcher: one GET of a source's URL with everything a polite, safe monitor needs: a
 * total deadline, a body size cap, manual redirects checked hop by hop by the SSRF guard,
 * conditional GET, retries with backoff, a per-host limit and a User-Agent naming us.
 * @module
 */
import type { Config } from "../config.ts";
import type { Clock, FetchFn, Logger } from "../types.ts";
import { addressPolicy, checkUrl, type ResolveHost, sourceUrl } from "./address_guard.ts";
import { backoffDelayMs, parseRetryAfter } from "../backoff.ts";
import { classifyFetchError, DeadlineExceeded, isRetryable, PipelineError } from "./errors.ts";
import type { BudgetLease } from "./byte_budget.ts";
import type { HostLimiter } from "./host_limiter.ts";
import { IoDeadline, untilAborted } from "./io_deadline.ts";
import type { PinnedConnect } from "./pinned_connect.ts";
import { sleep as realSleep, type SleepFn } from "../sleep.ts";
import { errorMessage } from "../errors.ts";

/** The slice of {@link Config} the fetcher reads. */
export type FetcherConfig = Pick<
  Config,
  | "FETCH_TIMEOUT_MS"
  | "FETCH_MAX_BYTES"
  | "FETCH_MAX_REDIRECTS"
  | "FETCH_RETRIES"
  | "FETCH_RETRY_BASE_MS"
  | "FETCH_RETRY_MAX_WAIT_MS"
  | "FETCH_ALLOW_PRIVATE_NETWORKS"
  | "FETCH_ALLOW_LOOPBACK"
  | "FETCH_USER_AGENT"
>;

/** Dependencies of {@link fetchDocument}. */
export interface FetcherDeps {
  fetch: FetchFn;
  config: FetcherConfig;
  logger: Logger;
  clock: Clock;
  limiter?: HostLimiter;
  /** Resolver for the SSRF guard; without one only IP literals and well-known names are checked. */
  resolveHost?: ResolveHost;
  /**
   * Connects to the address the guard checked (no second DNS lookup: DNS rebinding). Used
   * for every hop whose host is a name the resolver answered; IP literals go through
   * `fetch`. Without it, `fetch` resolves names again (the pipeline always passes one).
   */
  connect?: PinnedConnect;
  /**
   * This fetch's share of the invocation's body budget (FETCH_BODY_BUDGET_BYTES): the
   * reader takes bytes as chunks arrive; the caller releases them when done with the body.
   */
  budgetLease?: BudgetLease;
  sleep?: SleepFn;
  random?: () => number;
  /** Aborts the whole fetch from outside (e.g. the invocation's budget ran out). */
  signal?: AbortSignal;
}

/** What to fetch, with the validators of the last stored response. */
export interface FetchRequest {
  url: string;
  /** Sent as If-None-Match. */
  etag?: string | null;
  /** Sent as If-Modified-Since. */
  lastModified?: string | null;
}

/** Fields common to both outcomes of {@link fetchDocument}. */
interface _FetchOutcomeBase {
  /** URL after redirects. */
  url: string;
  status: number;
  etag: string | null;
  lastModified: string | null;
  /** HTTP requests made, counting retries and redirect hops. */
  requests: number;
  redirects: number;
}

/** A 2xx response whose body was read in full (within the cap). */
export interface FetchedDocument extends _FetchOutcomeBase {
  notModified: false;
  contentType: string | null;
  body: Uint8Array;
}

/** A 304 to our conditional GET: the stored snapshot is still current. */
export interface NotModified extends _FetchOutcomeBase {
  notModified: true;
}

/** Outcome of {@link fetchDocument}. */
export type FetchOutcome = FetchedDocument | NotModified;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ACCEPT =
  "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,application/json;q=0.8,*/*;q=0.5";

/** A URL safe to put in messages and logs: no credentials, no query, no fragment. */
export function displayUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Fetches a document. Resolves to the body or to "not modified"; rejects with a
 * classified {@link PipelineError} (timeout, dns, connect, tls, blocked, http_4xx,
 * http_5xx, too_large, too_many_redirects, parse).
 * @example
 * const outcome = await fetchDocument({ url, etag: source.etag }, deps);
 * if (!outcome.notModified) console.log(outcome.body.length);
 */
export async function fetchDocument(
  request: FetchRequest,
  deps: FetcherDeps,
): Promise<FetchOutcome> {
  const { config } = deps;
  const timeoutMs = config.FETCH_TIMEOUT_MS;
  const deadline = new AbortController();
  // I/O time, not wall time: another source's CPU work and our own queueing do not count.
  const timer = new IoDeadline(timeoutMs, () => deadline.abort(new DeadlineExceeded(timeoutMs)));
  // The caller's abort ends the fetch too, with its reason (what AbortSignal.any would give,
  // without a dependent signal per fetch).
  const outer = deps.signal;
  const onOuterAbort = () => deadline.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });
  const signal = deadline.signal;
  const deadlineAt = deps.clock().getTime() + timeoutMs;
  const sleep = deps.sleep ?? realSleep;
  const counters = { requests: 0 };
  try {
    for (let retry = 0;; retry++) {
      try {
        deps.budgetLease?.release(); // a failed try's bytes are gone
        return await _attempt(request, deps, signal, counters, timer);
      } catch (thrown) {
        const error = signal.aborted
          ? classifyFetchError(signal.reason)
          : classifyFetchError(thrown);
        const status = error instanceof _HttpError ? error.status : undefined;
        if (retry >= config.FETCH_RETRIES || !isRetryable(error, status)) throw error;
        if (
          error.retryAfterMs !== undefined && error.retryAfterMs > config.FETCH_RETRY_MAX_WAIT_MS
        ) {
          throw new PipelineError(
            error.errorClass,
            `${error.message} (server asked to retry after ${error.retryAfterMs} ms, more than ${config.FETCH_RETRY_MAX_WAIT_MS} ms)`,
            { cause: error },
          );
        }
        const waitMs = error.retryAfterMs ?? backoffDelayMs(retry, {
          baseMs: config.FETCH_RETRY_BASE_MS,
          maxMs: config.FETCH_RETRY_MAX_WAIT_MS,
          random: deps.random ?? Math.random,
        });
        if (deps.clock().getTime() + waitMs >= deadlineAt) throw error; // no time left to retry
        deps.logger.warn("Retrying {url} in {waitMs} ms after {errorClass}: {error}", {
          url: displayUrl(request.url),
          waitMs,
          errorClass: error.errorClass,
          error: error.message,
          retry: retry + 1,
        });
        try {
          await sleep(waitMs, signal);
        } catch (aborted) {
          throw classifyFetchError(signal.aborted ? signal.reason : aborted);
        }
      }
    }
  } finally {
    timer.clear();
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

/** An HTTP error status, remembered so 429 can be told from other 4xx. */
class _HttpError extends PipelineError {
  readonly status: number;
  constructor(status: number, message: string, retryAfterMs: number | undefined) {
    super(status >= 500 ? "http_5xx" : "http_4xx", message, { retryAfterMs });
    this.status = status;
  }
}

/** One try: follows redirects by hand, checking each hop with the SSRF guard. */
async function _attempt(
  request: FetchRequest,
  deps: FetcherDeps,
  signal: AbortSignal,
  counters: { requests: number },
  timer: IoDeadline,
): Promise<FetchOutcome> {
  const { config } = deps;
  let url = sourceUrl(request.url);
  // identity: Deno's fetch would otherwise inflate gzip ahead of the reader, so a gzip bomb
  // cost ~110 MB per fetch whatever the cap; a body encoded anyway is inflated here, one
  // chunk at a time, inside the cap (_readCapped).
  // A record, not a Headers: fetch validates a record's names and values once, and walks a
  // Headers object as a sequence of pairs after it was validated when built.
  const headers: Record<string, string> = {
    "user-agent": config.FETCH_USER_AGENT,
    accept: ACCEPT,
    "accept-encoding": "identity",
  };
  const conditional = Boolean(request.etag || request.lastModified);
  if (request.etag) headers["if-none-match"] = request.etag;
  if (request.lastModified) headers["if-modified-since"] = request.lastModified;
  const policy = addressPolicy(config);

  for (let redirects = 0;;) {
    const checked = await untilAborted(
      checkUrl(url, { policy, resolveHost: deps.resolveHost }),
      signal,
    );
    const literal = /^\[|^[\d.]+$/.test(url.hostname);
    const pinTo = deps.connect && checked.length > 0 && !literal ? checked[0]! : null;
    if (checked.length === 0) {
      deps.logger.debug("SSRF guard could not resolve {host} in this runtime; fetching unchecked", {
        host: url.hostname,
      });
    }
    const limiter = deps.limiter;
    const release = limiter
      ? limiter.tryAcquire(url.host) ??
        await timer.excluding(() => limiter.acquire(url.host, signal))
      : undefined;
    try {
      counters.requests++;
      const response = pinTo
        ? await deps.connect!(url, { method: "GET", headers, signal }, pinTo)
        : await deps.fetch(url.href, { method: "GET", redirect: "manual", headers, signal });
      const status = response.status;
      const base = {
        url: url.href,
        status,
        etag: response.headers.get("etag"),
        lastModified: response.headers.get("last-modified"),
        requests: counters.requests,
        redirects,
      };
      if (REDIRECTS.has(status)) {
        await _discard(response);
        const location = response.headers.get("location");
        if (!location) {
          throw new PipelineError(
            "parse",
            `HTTP ${status} redirect without a Location header from ${displayUrl(url)}`,
          );
        }
        redirects++;
        if (redirects > config.FETCH_MAX_REDIRECTS) {
          throw new PipelineError(
            "too_many_redirects",
            `more than ${config.FETCH_MAX_REDIRECTS} redirects (last from ${displayUrl(url)})`,
          );
        }
        try {
          url = new URL(location, url);
        } catch (error) {
          throw new PipelineError(
            "parse",
            `invalid redirect Location ${JSON.stringify(location)}`,
            { cause: error },
          );
        }
        deps.logger.debug("Following redirect {status} to {location}", {
          status,
          location: displayUrl(url),
        });
        continue;
      }
      if (status === 304) {
        await _discard(response);
        if (!conditional) {
          throw new PipelineError(
            "http_4xx",
            `HTTP 304 to an unconditional request from ${displayUrl(url)}`,
          );
        }
        return { ...base, notModified: true };
      }
      if (status >= 400) {
        await _discard(response);
        const retryAfterMs = status === 429 || status === 503
          ? parseRetryAfter(response.headers.get("retry-after"), deps.clock()) ?? undefined
          : undefined;
        const text = response.statusText ? ` ${response.statusText}` : "";
        throw new _HttpError(status, `HTTP ${status}${text} from ${displayUrl(url)}`, retryAfterMs);
      }
      if (status < 200 || status >= 300) {
        await _discard(response);
        throw new PipelineError("parse", `unexpected HTTP ${status} from ${displayUrl(url)}`);
      }
      const lease = deps.budgetLease;
      const take = lease
        ? (bytes: number) => timer.excluding(() => lease.take(bytes, signal))
        : undefined;
      const body = await _readCapped(response, config.FETCH_MAX_BYTES, signal, take);
      return {
        ...base,
        notModified: false,
        contentType: response.headers.get("content-type"),
        body,
      };
    } finally {
      release?.();
    }
  }
}

async function _discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // the connection is going away anyway; nothing to report
  }
}

/**
 * Largest declared body read in one piece (_readCapped); a larger one is read chunk by
 * chunk, each chunk taken from the body budget as it arrives.
 */
const WHOLE_READ_MAX_BYTES = 1024 * 1024;

/** Largest piece of a compressed body given to the inflater at once (see _readCapped). */
const INFLATE_PIECE_BYTES = 2048;

/** Splits a byte stream's chunks into pieces of at most `size` bytes. */
function _smallPieces(size: number): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      for (let at = 0; at < chunk.byteLength; at += size) {
        controller.enqueue(chunk.subarray(at, Math.min(at + size, chunk.byteLength)));
      }
    },
  });
}

/**
 * Reads a body up to `maxBytes`; past that, cancels the stream (the rest is never
 * downloaded) and throws `too_large`. Honours the deadline between chunks, so a server
 * dripping one byte a second cannot outlive it.
 */
async function _readCapped(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
  take?: (bytes: number) => Promise<void>,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await _discard(response);
    throw new PipelineError(
      "too_large",
      `body of ${declared} bytes exceeds the cap of ${maxBytes} bytes`,
    );
  }
  if (!response.body) return new Uint8Array(0);
  const encoding = (response.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  let stream: ReadableStream<Uint8Array> = response.body;
  if (encoding === "gzip" || encoding === "x-gzip" || encoding === "deflate") {
    const format = encoding === "deflate" ? "deflate" : "gzip";
    // DecompressionStream inflates a written chunk whole: one 64 KB network chunk of a gzip
    // bomb would come out as one 66 MB chunk, past any cap. Fed 2 KB at a time, no chunk it
    // gives is larger than ~2 MB (deflate's ratio is at most 1032:1).
    stream = response.body.pipeThrough(_smallPieces(INFLATE_PIECE_BYTES)).pipeThrough(
      new DecompressionStream(format) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>,
    );
  } else if (encoding !== "identity" && encoding !== "") {
    await _discard(response);
    throw new PipelineError("unsupported_content", `content-encoding ${encoding} is not supported`);
  }
  const decoding = stream !== response.body;
  if (!decoding && Number.isFinite(declared) && declared <= WHOLE_READ_MAX_BYTES) {
    // A declared length within the cap (checked above): the body in one read, one call into
    // the runtime instead of a read, a promise and a copy per chunk; the runtime's reader
    // ends it at that length. The body budget takes the declared bytes before it is read; an
    // abort (the deadline, the invocation's signal) fails the read as it fails a chunk's.
    if (take) await take(declared);
    const whole = new Uint8Array(await response.arrayBuffer());
    if (signal.aborted) throw signal.reason;
    if (whole.byteLength > maxBytes) {
      throw new PipelineError("too_large", `body exceeds the cap of ${maxBytes} bytes`);
    }
    return whole;
  }
  const reader = stream.getReader();
  // An abort cancels the reader, which ends a pending read. (Not a Promise.race of each
  // read with one never-settling abort promise: every race stays subscribed to it and keeps
  // its chunk alive, so a 10 MB body held 160 MB until the fetch ended.)
  const onAbort = () => void reader.cancel(signal.reason).catch(() => {});
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        throw new PipelineError("too_large", `body exceeds the cap of ${maxBytes} bytes`);
      }
      if (take) await take(value.byteLength);
      // Deno 2.1.4's fetch (the hosted runtime's) hands out 4 KB views of 64 KB buffers when
      // it inflates a body itself: kept as they come, 10 MB of text held 160 MB (two gzip
      // bombs ended a 256 MB worker). A view of a much larger buffer is copied to its size.
      chunks.push(value.buffer.byteLength > 2 * value.byteLength ? value.slice() : value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (decoding && !(error instanceof PipelineError) && !signal.aborted) {
      // A body that does not inflate is the site's fault, not ours.
      throw new PipelineError(
        "parse",
        `${encoding} body does not decode: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
