/**
 * Preview of a source before it is saved: the pipeline's own fetch (network policy,
 * redirects, caps, retries), extraction (selector) and normalisation (ignore patterns),
 * without storing anything, so the answer is what the nightly run would hash. Also says
 * what each ignore pattern removed.
 * @module
 */
import { applyIgnorePatterns, type IgnorePattern } from "../pipeline/ignore_patterns.ts";
import type { Clock, FetchFn, Logger } from "../types.ts";
import { defaultResolveHost, type ResolveHost } from "../pipeline/address_guard.ts";
import { sha256Hex } from "../pipeline/detect.ts";
import { PipelineError } from "../pipeline/errors.ts";
import { extractDocument } from "../pipeline/extract.ts";
import { fetchDocument, type FetcherConfig } from "../pipeline/fetcher.ts";
import {
  type BrowserConfig,
  type BrowserSeam,
  renderedFetch,
} from "../pipeline/browser_fetcher.ts";
import { compileIgnorePatterns, normaliseText } from "../pipeline/normalise.ts";
import type { PreviewResult } from "./schemas.ts";

/** Longest text a preview returns (the whole text is still hashed). */
export const PREVIEW_MAX_TEXT_CHARS = 20_000;
/** Removed texts shown per pattern, and the longest of each. */
const MAX_SAMPLES = 5;
const MAX_SAMPLE_CHARS = 200;

/** What to preview. */
export interface PreviewInput {
  url: string;
  css_selector?: string | null;
  ignore_patterns?: readonly string[];
  render?: "static" | "browser";
}

/** Dependencies of {@link previewSource}. */
export interface PreviewDeps {
  fetch: FetchFn;
  clock: Clock;
  logger: Logger;
  config: FetcherConfig & BrowserConfig;
  resolveHost?: ResolveHost;
  /** The browser of `render: "browser"` previews; absent: they fail as `browser`. */
  browser?: BrowserSeam;
}

/**
 * Fetches and reads `input.url` now. Never throws for what the site does: failures are
 * `ok: false` with the pipeline's error class.
 * @example
 * const result = await previewSource({ url, ignore_patterns: ["Updated: .*"] }, deps);
 * console.log(result.text, result.ignore_patterns[0]?.matches);
 */
export async function previewSource(
  input: PreviewInput,
  deps: PreviewDeps,
): Promise<PreviewResult> {
  const started = deps.clock().getTime();
  let mark = started;
  const lap = () => {
    const now = deps.clock().getTime();
    const ms = Math.max(0, now - mark);
    mark = now;
    return ms;
  };
  const result: PreviewResult = {
    ok: false,
    url: input.url,
    final_url: null,
    http_status: null,
    content_type: null,
    text: "",
    text_chars: 0,
    text_truncated: false,
    content_hash: null,
    ignore_patterns: [],
    timings: { total_ms: 0, fetch_ms: 0, extract_ms: 0, normalise_ms: 0 },
    error: null,
  };
  try {
    const patterns = input.ignore_patterns ?? [];
    const compiled = compileIgnorePatterns(patterns);
    // The pipeline's own dispatch: render 'browser' goes through a real browser.
    const fetchSource = input.render === "browser"
      ? renderedFetch(deps.browser, deps.config)
      : fetchDocument;
    const outcome = await fetchSource({ url: input.url }, {
      fetch: deps.fetch,
      config: deps.config,
      logger: deps.logger,
      clock: deps.clock,
      resolveHost: deps.resolveHost ?? defaultResolveHost(),
    });
    result.timings.fetch_ms = lap();
    result.final_url = outcome.url;
    result.http_status = outcome.status;
    if (outcome.notModified) {
      throw new PipelineError("internal", "the server answered 304 to an unconditional GET");
    }
    const extracted = await extractDocument({
      body: outcome.body,
      contentType: outcome.contentType,
      selector: input.css_selector ?? null,
    });
    result.content_type = extracted.mediaType;
    result.timings.extract_ms = lap();
    // What the pipeline hashes, exactly: the same call with the same compiled patterns.
    const text = normaliseText(extracted.text, { ignorePatterns: compiled });
    result.ignore_patterns = _effects(normaliseText(extracted.text), patterns, compiled);
    result.timings.normalise_ms = lap();
    if (text === "") {
      throw new PipelineError("parse", `no text found in the ${extracted.mediaType} document`);
    }
    result.text_chars = text.length;
    result.text_truncated = text.length > PREVIEW_MAX_TEXT_CHARS;
    result.text = result.text_truncated ? text.slice(0, PREVIEW_MAX_TEXT_CHARS) : text;
    result.content_hash = await sha256Hex(text);
    result.ok = true;
  } catch (thrown) {
    const error = thrown instanceof PipelineError
      ? thrown
      : new PipelineError("internal", `unexpected error: ${String(thrown)}`, { cause: thrown });
    if (error.errorClass === "internal") {
      deps.logger.error("Preview of {url} failed: {error}", {
        url: input.url,
        error: error.message,
      });
    }
    result.error = { class: error.errorClass, message: error.message.replace(/\.+$/, "") };
  }
  result.timings.total_ms = Math.max(0, deps.clock().getTime() - started);
  return result;
}

/** Matches of each pattern, applied in order as the normaliser applies them. */
function _effects(base: string, patterns: readonly string[], compiled: readonly IgnorePattern[]) {
  let text = base;
  return compiled.map((pattern, i) => {
    const samples: string[] = [];
    let matches = 0;
    // The engine that runs the patterns (RE2: linear in the text).
    const m = pattern.re2.matcher(text);
    while (m.find()) {
      const found = m.group() ?? "";
      if (found === "") continue;
      matches++;
      if (samples.length < MAX_SAMPLES) samples.push(found.slice(0, MAX_SAMPLE_CHARS));
    }
    text = applyIgnorePatterns(text, [pattern]);
    return { pattern: patterns[i] ?? "", matches, samples };
  });
}
