/**
 * Normaliser: turns extracted text into the canonical form that is hashed and diffed, so
 * that only real wording changes change the hash.
 *
 * Steps: Unicode NFC; one kind of line break; invisible format characters dropped;
 * generic noise removed (below); whitespace folded and trimmed per line; the source's
 * ignore patterns removed; runs of blank lines collapsed to one.
 *
 * Generic noise, removed for every source without configuration. Each rule targets text
 * that machines generate per request and that policy wording never contains, so real
 * dates in the content survive ("From 1 January 2026", "2026-01-01", "updated 28 Nov"):
 * - query strings and fragments of URLs written out in the text (session tokens,
 *   tracking and cache-busting parameters); the scheme, host and path stay;
 * - timestamps precise to the second (`2026-11-28T02:00:13Z`, `14:03:27 UTC`): clocks
 *   of page generation, not dates of rules;
 * - long random-looking tokens (32+ characters of letters and digits mixed: session ids,
 *   CSRF tokens, request ids, hashes);
 * - "page generated in 0.12 s" lines.
 * Page chrome (scripts, styles, footers, nav, adverts, link targets) is already gone:
 * the HTML extractor drops it.
 * @module
 */
import { PipelineError } from "./errors.ts";
import { errorMessage } from "../errors.ts";

/** Most ignore patterns a source may have. */
export const MAX_IGNORE_PATTERNS = 50;
/** Longest ignore pattern, in characters (the database checks the same). */
export const MAX_IGNORE_PATTERN_LENGTH = 500;

const ZERO_WIDTH = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g;
const LINE_BREAKS = /\r\n?|[\u2028\u2029\u0085\v\f]/g;
const URL_QUERY = /\b(https?:\/\/[^\s?#<>"']+)[?#][^\s<>"']*/gi;
const SECOND_TIMESTAMP =
  /\b(?:\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:\s?[AaPp]\.?[Mm]\.?(?![A-Za-z]))?(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}|[A-Z]{2,4}T)(?![A-Za-z]))?(?![\d:])/g;
const RANDOM_TOKEN = /(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{32,}(?![\w-])/g;
const GENERATED_IN =
  /^(?:this )?(?:page )?(?:was )?(?:generated|rendered|built|served) in \d+(?:[.,]\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?)\.?$/gim;

// Cheap tests that every match of the rule below them needs: when a test fails (the
// usual case), the rule's own scan over the whole text is skipped. They change no result.
/** Any character that LINE_BREAKS or ZERO_WIDTH rewrites. */
const ODD_CHARACTER = /[\r\u2028\u2029\u0085\v\f\u00AD\u200B-\u200D\u2060\uFEFF]/;
/** The time part of SECOND_TIMESTAMP. */
const TIME_HINT = /\d:\d\d:\d\d/;
/** The fixed part of GENERATED_IN. */
const GENERATED_HINT = / in \d/i;
/**
 * A whitespace run that is not a single space (what folding rewrites). The second class is
 * `\s` without the space, spelled out: V8 scans it 2.5 times faster than `[^\S ]`.
 */
const WHITESPACE_RUN =
  /\s{2,}|[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g;

/** Options of {@link normaliseText}. */
export interface NormaliseOptions {
  /** Compiled ignore patterns of the source ({@link compileIgnorePatterns}). */
  ignorePatterns?: RegExp[];
}

/** A whitespace run becomes a space, a line break (one line end) or a blank line (more). */
function _foldRun(run: string): string {
  const first = run.indexOf("\n");
  if (first < 0) return " ";
  return run.indexOf("\n", first + 1) < 0 ? "\n" : "\n\n";
}

/**
 * Folds whitespace within each line, trims lines and collapses blank-line runs, in one
 * pass: the run of whitespace between two words holds the ends of the lines between them,
 * and all lines inside it are blank.
 */
function _foldLines(text: string): string {
  return text.replace(WHITESPACE_RUN, _foldRun).trim();
}

/** True when `code` is a letter, digit, `_` or `-` (what RANDOM_TOKEN strings are made of). */
function _isTokenChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) || code === 95 || code === 45;
}

/**
 * True when the text has a run of 32 or more token characters (needed by RANDOM_TOKEN).
 * Such a run covers a whole 16-character block aligned at a multiple of 16, so only blocks
 * are looked at, each from its end until a character that is not a token character.
 */
function _hasLongRun(text: string): boolean {
  const n = text.length;
  for (let block = 0; block + 16 <= n; block += 16) {
    let i = block + 15;
    while (i >= block && _isTokenChar(text.charCodeAt(i))) i--;
    if (i >= block) continue;
    let left = block;
    while (left > 0 && _isTokenChar(text.charCodeAt(left - 1))) left--;
    let right = block + 16;
    while (right < n && _isTokenChar(text.charCodeAt(right))) right++;
    if (right - left >= 32) return true;
    block = right - (right % 16); // the run ends before the next block that can hold another
  }
  return false;
}

/**
 * Normalises text for hashing and diffing.
 * @example
 * normaliseText("  Fee:\u00a0£719 \r\n\r\n\r\nNext"); // "Fee: £719\n\nNext"
 */
export function normaliseText(text: string, options: NormaliseOptions = {}): string {
  let out = text.normalize("NFC");
  if (ODD_CHARACTER.test(out)) out = out.replace(LINE_BREAKS, "\n").replace(ZERO_WIDTH, "");
  if (out.includes("://")) out = out.replace(URL_QUERY, "$1");
  if (TIME_HINT.test(out)) out = out.replace(SECOND_TIMESTAMP, "");
  if (_hasLongRun(out)) out = out.replace(RANDOM_TOKEN, "");
  if (GENERATED_HINT.test(out)) out = out.replace(GENERATED_IN, "");
  out = _foldLines(out);
  const patterns = options.ignorePatterns ?? [];
  if (patterns.length === 0) return out;
  for (const pattern of patterns) out = out.replace(pattern, "");
  return _foldLines(out);
}

/** Splits `/body/flags` into its parts; a plain string is a body without flags. */
function _parts(pattern: string): { body: string; flags: string } {
  const m = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  return m ? { body: m[1] ?? "", flags: m[2] ?? "" } : { body: pattern, flags: "" };
}

/** Compiles one pattern with `g` and `m` added; throws a SyntaxError when invalid. */
function _compile(pattern: string): RegExp {
  const { body, flags } = _parts(pattern);
  const extra = flags.replace(/[^imsu]/g, "");
  if (extra.length !== flags.length) {
    throw new SyntaxError(`unsupported flags "${flags}" (use i, m, s, u)`);
  }
  const all = new Set(["g", "m", ...extra]);
  return new RegExp(body, [...all].join(""));
}

/**
 * Checks ignore patterns before they are saved: each a JavaScript regular expression
 * (optionally written `/body/flags` with flags i, m, s, u), 1 to 500 characters, at most
 * 50, and not matching every line (which would hide every change). Returns one message
 * per problem; an empty array means valid.
 * @example
 * validateIgnorePatterns(["Last updated: .*", "(unclosed"]);
 * // ["ignore pattern 2 \"(unclosed\" is not a valid regular expression: ..."]
 */
export function validateIgnorePatterns(patterns: unknown): string[] {
  if (!Array.isArray(patterns)) return ["ignore patterns must be an array of strings"];
  const errors: string[] = [];
  if (patterns.length > MAX_IGNORE_PATTERNS) {
    errors.push(
      `at most ${MAX_IGNORE_PATTERNS} ignore patterns are allowed, got ${patterns.length}`,
    );
  }
  patterns.forEach((pattern, i) => {
    const label = `ignore pattern ${i + 1}`;
    if (typeof pattern !== "string") return errors.push(`${label} must be a string`);
    if (pattern.length === 0 || pattern.length > MAX_IGNORE_PATTERN_LENGTH) {
      return errors.push(`${label} must be 1 to ${MAX_IGNORE_PATTERN_LENGTH} characters`);
    }
    let compiled: RegExp;
    try {
      compiled = _compile(pattern);
    } catch (error) {
      const detail = errorMessage(error);
      return errors.push(
        `${label} ${JSON.stringify(pattern)} is not a valid regular expression: ${detail}`,
      );
    }
    const probe = "Eligibility\nThe fee is £719 from 1 January 2026.\n";
    if (probe.replace(compiled, "").trim() === "") {
      errors.push(
        `${label} ${JSON.stringify(pattern)} matches all text, which would hide every change`,
      );
    }
  });
  return errors;
}

/**
 * Compiles a source's ignore patterns; throws a `parse` {@link PipelineError} naming the
 * first invalid one (patterns saved before validation existed).
 */
export function compileIgnorePatterns(patterns: readonly string[] | null | undefined): RegExp[] {
  if (!patterns || patterns.length === 0) return [];
  const errors = validateIgnorePatterns(patterns);
  if (errors.length > 0) {
    throw new PipelineError("parse", `invalid ignore patterns: ${errors.join("; ")}`);
  }
  return patterns.map(_compile);
}
