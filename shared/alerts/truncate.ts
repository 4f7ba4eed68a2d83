/**
 * Safe truncation of long text (diffs) for channels with size limits: never cuts inside
 * a UTF-16 surrogate pair, a UTF-8 sequence or a grapheme cluster (emoji with skin tones,
 * ZWJ sequences, flags, combining marks).
 * @module
 */

/** How a limit is measured: UTF-16 code units (JavaScript/Slack length) or UTF-8 bytes. */
export type TextMeasure = "utf16" | "utf8";

/** Options of {@link truncateText}. */
export interface TruncateOptions {
  measure?: TextMeasure;
  /** Appended when text was cut; counted in the limit. Default `"\n… (truncated)"`. */
  marker?: string;
  /** Cut at the last line break when one is in the last half of the kept text. */
  preferLineBreak?: boolean;
}

/** Result of {@link truncateText}. */
export interface Truncated {
  text: string;
  truncated: boolean;
}

const ENCODER = new TextEncoder();
/** Made on first use: building a segmenter loads ICU's break rules (~12 ms of a worker's boot). */
let _graphemes: Intl.Segmenter | null = null;
/**
 * How far back a safe place to start segmenting is looked for (segmenting is fast: about
 * 10 ms for 400,000 units of emoji).
 */
const SEGMENT_LOOKBACK = 1_000_000;

/** Length of `text` in the given measure. */
export function measureText(text: string, measure: TextMeasure = "utf16"): number {
  if (measure === "utf16") return text.length;
  return ENCODER.encode(text).byteLength;
}

/**
 * Cuts `text` so that it, plus the marker, fits in `max` units of `measure`.
 * @example
 * truncateText("a".repeat(5000), 3000).text.length <= 3000 // true
 */
export function truncateText(text: string, max: number, options: TruncateOptions = {}): Truncated {
  const measure = options.measure ?? "utf16";
  if (measureText(text, measure) <= max) return { text, truncated: false };
  const marker = options.marker ?? "\n… (truncated)";
  const budget = max - measureText(marker, measure);
  if (budget <= 0) {
    // No room for any text: return as much of the marker as fits.
    return { text: truncateText(marker, max, { measure, marker: "" }).text, truncated: true };
  }
  let cut = _codePointCut(text, budget, measure);
  cut = _graphemeCut(text, cut);
  if (options.preferLineBreak) {
    const nl = text.lastIndexOf("\n", cut - 1);
    if (nl > 0 && nl >= cut / 2) cut = nl;
  }
  return { text: text.slice(0, cut) + marker, truncated: true };
}

/** Largest UTF-16 index ≤ the budget that does not split a code point. */
function _codePointCut(text: string, budget: number, measure: TextMeasure): number {
  if (measure === "utf8") {
    // encodeInto writes whole code points only; `read` is the UTF-16 index reached.
    const { read } = ENCODER.encodeInto(text, new Uint8Array(budget));
    return read;
  }
  let cut = Math.min(budget, text.length);
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return cut;
}

/** Moves a code-point-safe cut back to the last grapheme boundary at or before it. */
function _graphemeCut(text: string, cut: number): number {
  if (cut <= 0 || cut >= text.length) return cut;
  const start = _segmentStart(text, cut);
  const trusted = start === 0 || text.charCodeAt(start) < 0x80;
  const windowText = text.slice(start, Math.min(text.length, cut + 64));
  let best = -1;
  _graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (const { index } of _graphemes.segment(windowText)) {
    const at = start + index;
    if (at > cut) break;
    // A window that starts mid-cluster makes its first segment unreliable.
    if (index === 0 && !trusted) continue;
    best = at;
  }
  return best > 0 ? best : cut;
}

/**
 * Where to start segmenting so boundaries near the cut are right: an ASCII character
 * always starts a cluster (a CR LF pair counts as one), and starting mid-sequence would
 * pair regional-indicator flags wrongly all the way to the cut.
 */
function _segmentStart(text: string, cut: number): number {
  const floor = Math.max(0, cut - SEGMENT_LOOKBACK);
  for (let i = cut; i > floor; i--) {
    const code = text.charCodeAt(i);
    if (code < 0x80) return code === 0x0a && text.charCodeAt(i - 1) === 0x0d ? i - 1 : i;
  }
  return floor;
}
