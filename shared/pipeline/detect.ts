/**
 * Detector: the SHA-256 of the normalised text's change fingerprint decides whether a source
 * changed; stubs and page furniture are told from changes. A change's diff and summary are
 * text_diff.ts's (loaded on the first change).
 * @module
 */

/** Hex SHA-256 of a text's UTF-8 bytes. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// What the extractor adds for layout (heading marks, list prefixes, cell separators, quote
// marks, rules), and what a page generates from the clock of the request (relative times).
const LAYOUT_PREFIX = /^(?:#{1,6} |> ?|\s*(?:[*\-\u2022]|\d{1,4}[.)]|[a-z]{1,3}[.)]) +)/gm;
const CELL_SEPARATOR = / \| /g;
const _MONTH = String
  .raw`(?:jan(?:uary|uar)?|janv(?:ier)?|feb(?:ruary|ruar)?|f[ée]v(?:r(?:ier)?)?|m(?:ar(?:ch|s)?|ä(?:rz)?)|apr(?:il)?|avr(?:il)?|may|mai|ma[iy]o|jun[ei]?|juin|jul[iy]?|juil(?:let)?|aug(?:ust)?|ao[uû]t?|sep(?:t(?:ember|embre)?)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|de[cz](?:ember)?|d[ée]c(?:embre)?|enero|febrero|marzo|abril|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\.?`;
/**
 * A line that is nothing but a date ("29 avr. 2022", "March 3, 2024", "2024-03-03"): the
 * entries of changelog and news lists, which sites render in the reader's time zone.
 */
const DATE_LINE = new RegExp(
  String
    .raw`^(?:(?:\d{1,2}(?:er)?\.? ${_MONTH},? \d{4})|(?:${_MONTH} \d{1,2}(?:st|nd|rd|th)?,? \d{4})|(?:\d{4}-\d{2}-\d{2})|(?:\d{1,2}[/.]\d{1,2}[/.]\d{2,4}))$`,
  "iu",
);
/** Longest line {@link DATE_LINE} can match ("Wednesday 30 septiembre, 2026" is shorter). */
const DATE_LINE_MAX = 40;

/** True for a digit's char code. */
function _isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * True when `line` is only a date ({@link DATE_LINE}). The expression runs only on lines
 * whose ends allow one: every form ends in digits after a space (" 2024"), a `-` ("-03") or a
 * `/` or `.` ("/24", ".2024"); case folding never makes those characters.
 */
function _isDateLine(line: string): boolean {
  const n = line.length;
  if (n > DATE_LINE_MAX || n < 6 || !_isDigit(line.charCodeAt(n - 1))) return false;
  const spaceYear = line.charCodeAt(n - 5) === 32 && _isDigit(line.charCodeAt(n - 4)) &&
    _isDigit(line.charCodeAt(n - 3)) && _isDigit(line.charCodeAt(n - 2));
  let separator = line.charCodeAt(n - 3) === 45; // "-"
  for (let i = n - 5; !separator && i <= n - 3; i++) {
    const code = line.charCodeAt(i);
    separator = code === 47 || code === 46; // "/" or "."
  }
  return (spaceYear || separator) && DATE_LINE.test(line);
}

/** Drops the lines that are only a date. */
function _withoutDateLines(text: string): string {
  const lines = text.split("\n");
  let dropped = false;
  for (let i = 0; i < lines.length; i++) {
    if (_isDateLine(lines[i] as string)) {
      lines[i] = "";
      dropped = true;
    }
  }
  return dropped ? lines.join("\n") : text;
}
const RULE_LINE = /^-{3,}$/gm;
/** {@link LAYOUT_PREFIX} of one line (no line terminator inside). */
const LAYOUT_LINE_PREFIX = /^(?:#{1,6} |> ?|\s*(?:[*\-\u2022]|\d{1,4}[.)]|[a-z]{1,3}[.)]) +)/;
/** {@link RULE_LINE} of one line. */
const RULE_ONE_LINE = /^-{3,}$/;

/**
 * True when a line starting with `code` may have a {@link LAYOUT_PREFIX}: `#`, `>`, `*`, `-`, a
 * digit, a lowercase letter, or what may be whitespace (control characters, space, anything
 * past ASCII: `•` and the Unicode spaces).
 */
function _mayStartLayout(code: number): boolean {
  return code <= 32 || code >= 128 || code === 35 || code === 62 || code === 42 ||
    code === 45 || _isDigit(code) || (code >= 97 && code <= 122);
}

/**
 * The layout prefixes, date lines and rules of {@link changeFingerprint} dropped line by line
 * in one pass (the whole-text expressions of the same rules scanned every position of the
 * text: 0.14 ms of a 38 KB page's 0.75 ms). For texts whose only line terminator is `\n`
 * (what the normaliser writes). A prefix after blank lines is dropped with them by the
 * whole-text expression (its `\s*` crosses line ends) and here without them: the texts
 * differ in whitespace only, which the fingerprint folds to one space in the end.
 */
function _withoutLayoutLines(text: string): string {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (line === "") continue;
    if (_mayStartLayout(line.charCodeAt(0))) line = line.replace(LAYOUT_LINE_PREFIX, "");
    if (_isDateLine(line) || (line.charCodeAt(0) === 45 && RULE_ONE_LINE.test(line))) line = "";
    lines[i] = line;
  }
  return lines.join("\n");
}
const RELATIVE_TIME = new RegExp(
  [
    // English: "yesterday", "this week", "3 days ago", "over a week ago", "a few minutes ago"
    String
      .raw`\b(?:just now|today|yesterday|(?:this|last) (?:week|month|year)|(?:(?:over|about|almost|nearly|less than|more than) )?(?:an?|one|two|three|few|a few|several|\d+) (?:second|minute|hour|day|week|month|year)s? ago)\b`,
    // French: "hier", "aujourd'hui", "cette semaine", "il y a 3 jours", "il y a plus d'une semaine"
    String
      .raw`\b(?:aujourd[’']hui|hier|cette (?:semaine|année)|ce mois-ci|il y a (?:(?:plus d[’']|plus de |environ |moins d[’']|moins de |quelques )?(?:une?|\d+|quelques)? ?(?:secondes?|minutes?|heures?|jours?|semaines?|mois|ans?)))(?![\p{L}])`,
  ].join("|"),
  "giu",
);
/** "© 2025", "Copyright 2019-2025", "(c) 2024 Acme": the year follows the calendar. */
const COPYRIGHT_YEAR = /((?:©|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?)\d{4}/giu;
// Cheap tests that every match of the rule they guard needs: most texts skip the rule's scan.
/**
 * Words one of which every match of RELATIVE_TIME holds, as one expression over the text in
 * lower case: "ago", "just now", "today", "yesterday", "this/last week|month|year",
 * "aujourd", "hier", "cette semaine", "cette année", "ce mois", "il y a". A literal
 * alternation (no flags) matches where one of the words is a substring, so this says what
 * sixteen `includes` said, in one scan: 0.15 ms instead of 0.5 ms on a 38 KB text under the
 * workers' Deno 2.1.4 (tests/bench/stages.ts).
 */
const RELATIVE_WORDS =
  /ago|just now|today|yesterday|(?:this|last) (?:week|month|year)|aujourd|hier|cette (?:semaine|année)|ce mois|il y a/;
/** The fixed parts of COPYRIGHT_YEAR (lowercase). */
const COPYRIGHT_WORDS = ["©", "(c)", "copyright"];
/** Whitespace other than a single space: what folding to one space rewrites. */
const SPACE_RUN =
  /\s{2,}|[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g;

/**
 * The part of a normalised text whose change is a change of the policy: its words. Layout
 * (line breaks, heading levels, list numbering, table cell separators) is left out, so a
 * page that turns a paragraph into a heading or a `<br>` into a new paragraph has not
 * changed; relative times ("Updated yesterday" → "Updated this week") are the clock of the
 * request, not of the rules, and become one placeholder, as does the year of a copyright
 * notice; a line that is only a date (a changelog entry) is left out. The source's hash is this
 * fingerprint's; the stored text and its diffs keep the layout.
 * @example
 * changeFingerprint("# Terms\n\nUpdated yesterday") === changeFingerprint("Terms Updated this week"); // true
 */
export function changeFingerprint(text: string): string {
  let out: string;
  if (text.includes("\r") || text.includes("\u2028") || text.includes("\u2029")) {
    // Other line terminators (the expressions' `^` and `$` see them too): whole-text rules.
    out = _withoutDateLines(text.replace(LAYOUT_PREFIX, ""));
    if (out.includes("---")) out = out.replace(RULE_LINE, "");
  } else {
    out = _withoutLayoutLines(text);
  }
  // "|" first: a one-character search is a memchr, " | " starts with the commonest character.
  if (out.includes("|") && out.includes(" | ")) out = out.replace(CELL_SEPARATOR, " ");
  const lower = out.toLowerCase();
  if (RELATIVE_WORDS.test(lower)) {
    out = out.replace(RELATIVE_TIME, "\u2039time\u203a");
  }
  if (COPYRIGHT_WORDS.some((word) => lower.includes(word))) {
    out = out.replace(COPYRIGHT_YEAR, "$1\u2039year\u203a");
  }
  return out.replace(SPACE_RUN, " ").trim();
}

/** A text under this share of its predecessor's length is a stub, not the policy. */
const STUB_RATIO = 0.2;
/** Shorter predecessors are not judged: a short page may well be replaced by a shorter one. */
const STUB_MIN_PREVIOUS = 1_000;
/** The same stub seen on this many fetches in a row is the page's new text after all. */
export const STUB_CONFIRMATIONS = 5;

/**
 * Why a fetched text should not replace the previous one, or null when it may: a text
 * under a fifth of its predecessor is an error, rate-limit, block or consent page served
 * instead of the policy (a policy does not lose four fifths of its words overnight). The
 * caller records such a fetch as a failure, not as a change, until the same text has come
 * back {@link STUB_CONFIRMATIONS} times.
 * @example
 * stubReason("a long policy ...".repeat(100), "Too many requests"); // "the text shrank ..."
 */
export function stubReason(previous: string, current: string): string | null {
  if (previous.length < STUB_MIN_PREVIOUS) return null; // fewer characters without spaces too
  // The previous text has at most its length without spaces: most fetches stop here, and
  // the count stops as soon as it is reached (a fifth of the text or so, not all of it: a
  // fresh worker's first counts run unoptimised, ~1-4 ms for 38 KB under Deno 2.1.4).
  const after = nonSpaceLength(current, previous.length * STUB_RATIO);
  if (after >= previous.length * STUB_RATIO) return null;
  const before = nonSpaceLength(previous);
  if (before < STUB_MIN_PREVIOUS || after >= before * STUB_RATIO) return null;
  return `the text shrank from ${before} to ${after} characters: an error, block or consent ` +
    `page rather than the policy; not recorded as a change`;
}

/**
 * The length of a text without its white space, `text.replace(/\s+/g, "").length`, without
 * building that text (the replace took 0.29 ms of a 38 KB page under the workers' Deno 2.1.4).
 * With `enough`, the count stops once it reaches that: the result is then `>= enough` (and
 * at most the length without white space), else the length without white space.
 * @example
 * nonSpaceLength("a b\u00a0c\n"); // 3
 * nonSpaceLength("a b c d", 2); // 2
 */
export function nonSpaceLength(text: string, enough = Infinity): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // The common case first: no space below U+00A0 but these.
    if ((c > 0x20 && c < 0xa0) || !_isJsSpace(c)) {
      if (++count >= enough) return count;
    }
  }
  return count;
}

/** Whether a UTF-16 code unit is matched by `\s` (WhiteSpace and LineTerminator of ECMAScript). */
function _isJsSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x1680) return c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Snapshots of a source read to tell its furniture from its policy. */
export const HISTORY_SNAPSHOTS = 12;

/**
 * {@link changeFingerprint} of lines, each distinct line computed once: the texts one
 * {@link isFurnitureChange} compares (the fetch, the previous text, up to
 * {@link HISTORY_SNAPSHOTS} snapshots) are mostly the same lines, and a 38 KB page has about
 * half as many distinct lines as lines.
 */
function _lineKeys(): (line: string) => string {
  const keys = new Map<string, string>();
  return (line) => {
    let key = keys.get(line);
    if (key === undefined) {
      key = changeFingerprint(line);
      keys.set(line, key);
    }
    return key;
  };
}

/** A text's lines, each by its {@link changeFingerprint} (`keyOf`), with how often each occurs. */
function _lineCounts(text: string, keyOf: (line: string) => string): Map<string, number> {
  const lines = new Map<string, number>();
  for (const line of text.split("\n")) {
    const key = keyOf(line);
    if (key !== "") lines.set(key, (lines.get(key) ?? 0) + 1);
  }
  return lines;
}

/** Longest line (in words) that counts as a control's label for {@link isFurnitureChange}. */
const LABEL_MAX_WORDS = 4;
/**
 * Times a line must have come or gone, over the source's snapshots and this fetch, to be
 * furniture: once is a change (a new line, a line removed), twice may be a change undone
 * (a typo fixed back), three times is a block that flips.
 */
export const FURNITURE_FLIPS = 3;

/**
 * True when a change is page furniture rather than a change of the policy:
 *
 * - only the number of copies of a short line changed, and it is repeated on both sides:
 *   the labels of cards and steps ("Next", "Read more") when one card goes;
 * - or, by the source's own history, every line it adds or removes has flipped (come or
 *   gone) at least {@link FURNITURE_FLIPS} times over the source's snapshots and this
 *   fetch: rotating banners, blocks shown on some fetches only. New wording is never
 *   furniture, and neither is a line that came once and went once (a change undone).
 *
 * `history` is the source's latest snapshots, newest first (the first is `previous`).
 * @example
 * isFurnitureChange("P\nBanner A", "P\nBanner B", ["P\nBanner A", "P\nBanner B", "P\nBanner A"]); // true
 */
export function isFurnitureChange(previous: string, current: string, history: string[]): boolean {
  const keyOf = _lineKeys();
  const before = _lineCounts(previous, keyOf);
  const after = _lineCounts(current, keyOf);
  if (_onlyLabelCopiesChanged(before, after)) return true;
  if (history.length < FURNITURE_FLIPS - 1) return false; // too few snapshots to flip
  let older: Map<string, number>[] | null = null;
  let changed = 0;
  for (const [line, present] of [[after, before], [before, after]] as const) {
    for (const key of line.keys()) {
      if (present.has(key)) continue;
      changed++;
      older ??= history.map((text) => _lineCounts(text, keyOf));
      if (_flips(key, older, after.has(key)) < FURNITURE_FLIPS) return false;
    }
  }
  return changed > 0;
}

/** How often `line` came or went from the oldest snapshot of `older` to the current text. */
function _flips(line: string, older: Map<string, number>[], inCurrent: boolean): number {
  let flips = 0;
  let was: boolean | null = null;
  for (let i = older.length - 1; i >= 0; i--) {
    const has = (older[i] as Map<string, number>).has(line);
    if (was !== null && has !== was) flips++;
    was = has;
  }
  return was !== null && inCurrent !== was ? flips + 1 : flips;
}

/**
 * True when the two texts have the same distinct lines and only short lines repeated on
 * both sides (at least twice each) changed their number of copies.
 */
function _onlyLabelCopiesChanged(before: Map<string, number>, after: Map<string, number>): boolean {
  if (before.size !== after.size) return false;
  let changed = false;
  for (const [line, count] of before) {
    const now = after.get(line);
    if (now === undefined) return false;
    if (now === count) continue;
    if (Math.min(now, count) < 2 || line.split(" ").length > LABEL_MAX_WORDS) return false;
    changed = true;
  }
  return changed;
}
