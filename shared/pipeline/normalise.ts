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
import {
  applyIgnorePatterns,
  compileIgnorePatterns,
  type IgnorePattern,
  ignorePatternErrors,
  MAX_IGNORE_PATTERN_LENGTH,
  MAX_IGNORE_PATTERNS,
} from "./ignore_patterns.ts";

// Ignore patterns live in ignore_patterns.ts (linear-time engine); these names stay here
// for the callers written before it.
export { compileIgnorePatterns, MAX_IGNORE_PATTERN_LENGTH, MAX_IGNORE_PATTERNS };

const ZERO_WIDTH = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g;
const LINE_BREAKS = /\r\n?|[\u2028\u2029\u0085\v\f]/g;
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
  ignorePatterns?: readonly IgnorePattern[];
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
  if (out.includes("://")) out = _stripUrlQueries(out);
  if (TIME_HINT.test(out)) out = out.replace(SECOND_TIMESTAMP, "");
  if (_hasLongRun(out)) out = out.replace(RANDOM_TOKEN, "");
  if (GENERATED_HINT.test(out)) out = out.replace(GENERATED_IN, "");
  out = _foldLines(out);
  const patterns = options.ignorePatterns ?? [];
  if (patterns.length === 0) return out;
  return _foldLines(applyIgnorePatterns(out, patterns));
}

/**
 * {@link normaliseText} with the ignore patterns applied one at a time, the event loop
 * getting a turn before each (50 patterns over a long text would otherwise hold it for
 * seconds while other sources' I/O waits). Same result.
 */
export async function normaliseTextYielding(
  text: string,
  ignorePatterns: readonly IgnorePattern[],
): Promise<string> {
  let out = normaliseText(text);
  if (ignorePatterns.length === 0) return out;
  for (const pattern of ignorePatterns) {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    out = applyIgnorePatterns(out, [pattern]);
  }
  return _foldLines(out);
}

/** True for what `\w` matches (ASCII letters, digits, `_`). */
function _isWord(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) || code === 95;
}

/** True for what `\s` matches. */
function _isSpace(code: number): boolean {
  return (code >= 9 && code <= 13) || code === 32 || code === 0xa0 || code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff;
}

/** Ends a URL's path (`[^\s?#<>"']` stops here). */
function _endsPath(code: number): boolean {
  return _isSpace(code) || code === 63 || code === 35 || code === 60 || code === 62 ||
    code === 34 || code === 39;
}

/** Ends a URL's query (`[^\s<>"']` stops here). */
function _endsQuery(code: number): boolean {
  return _isSpace(code) || code === 60 || code === 62 || code === 34 || code === 39;
}

/** True when `text` has `word` (lowercase ASCII) at `at`, in any case. */
function _hasWordAt(text: string, at: number, word: string): boolean {
  if (at < 0) return false;
  for (let i = 0; i < word.length; i++) {
    if ((text.charCodeAt(at + i) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Drops the query string and fragment of every http(s) URL written out in the text: what
 * `/\b(https?:\/\/[^\s?#<>"']+)[?#][^\s<>"']*\/gi` replaced by `$1` did, in one pass.
 * The regex was quadratic on text full of `http://` (each start rescanned the rest of the
 * run: 280 KB took 14 s); here a run that ends without `?` or `#` is scanned once, for
 * every URL start inside it.
 */
function _stripUrlQueries(text: string): string {
  const parts: string[] = [];
  let last = 0; // text before this is copied or dropped
  let failedUpTo = -1; // starts before this end in a run already known to have no query
  for (let at = text.indexOf("://"); at >= 0; at = text.indexOf("://", at + 1)) {
    let start = -1;
    if (_hasWordAt(text, at - 5, "https") && !_isWord(text.charCodeAt(at - 6))) start = at - 5;
    else if (_hasWordAt(text, at - 4, "http") && !_isWord(text.charCodeAt(at - 5))) {
      start = at - 4;
    }
    if (start < 0 || start < last || start < failedUpTo) continue;
    let end = at + 3;
    while (end < text.length && !_endsPath(text.charCodeAt(end))) end++;
    const stop = text.charCodeAt(end);
    if (end === at + 3 || (stop !== 63 && stop !== 35)) {
      failedUpTo = end;
      continue;
    }
    let queryEnd = end + 1;
    while (queryEnd < text.length && !_endsQuery(text.charCodeAt(queryEnd))) queryEnd++;
    parts.push(text.slice(last, end));
    last = queryEnd;
    at = queryEnd - 1;
  }
  if (last === 0) return text;
  parts.push(text.slice(last));
  return parts.join("");
}

/**
 * Checks ignore patterns before they are saved (see {@link ignorePatternErrors}, which
 * the API uses); one message per problem, an empty array when valid.
 */
export function validateIgnorePatterns(patterns: unknown): string[] {
  if (!Array.isArray(patterns)) return ["ignore patterns must be an array of strings"];
  return ignorePatternErrors(patterns).map((e) => e.message);
}
