/**
 * A change described: a unified diff of two normalised texts (jsdiff) and a short summary.
 * Only a fetch whose text changed needs it, so the pipeline loads this module (and jsdiff)
 * on its first change rather than in every worker's boot.
 * @module
 */
import { formatPatch, type StructuredPatch, structuredPatch } from "diff";
import type { ChangeSummary } from "../types.ts";

/** Options of {@link diffTexts}. */
export interface DiffOptions {
  /** Unchanged lines shown around each change (FETCH_DIFF_CONTEXT_LINES). */
  contextLines: number;
  /** Longest diff stored; longer ones are cut at a line end with a note (FETCH_DIFF_MAX_CHARS). */
  maxChars: number;
  /** Time budget of the line diff; past it the change is shown as a whole replacement (FETCH_DIFF_TIMEOUT_MS). */
  timeoutMs: number;
  /** Header of the old side, e.g. the previous snapshot's time. */
  oldHeader?: string;
  /** Header of the new side. */
  newHeader?: string;
}

/** A change: its unified diff and summary. */
export interface TextChange {
  diff: string;
  summary: ChangeSummary;
  /** True when the diff was cut at `maxChars`. */
  truncated: boolean;
  /** True when the line diff ran out of time and the texts are shown replaced wholesale. */
  coarse: boolean;
}

/** Changed lines listed in the summary, and the longest one kept. */
const SUMMARY_LINES = 5;
const SUMMARY_LINE_CHARS = 200;

/** A single hunk replacing all of `oldText` by all of `newText`. */
function _wholesale(oldText: string, newText: string, options: DiffOptions): StructuredPatch {
  const oldLines = oldText === "" ? [] : oldText.split("\n");
  const newLines = newText === "" ? [] : newText.split("\n");
  return {
    oldFileName: "previous",
    newFileName: "current",
    oldHeader: options.oldHeader ?? "",
    newHeader: options.newHeader ?? "",
    hunks: [{
      oldStart: oldLines.length ? 1 : 0,
      oldLines: oldLines.length,
      newStart: newLines.length ? 1 : 0,
      newLines: newLines.length,
      lines: [...oldLines.map((l) => `-${l}`), ...newLines.map((l) => `+${l}`)],
    }],
  };
}

/**
 * Diffs two normalised texts line by line.
 * @example
 * const { diff, summary } = diffTexts("a\nb", "a\nc", { contextLines: 3, maxChars: 1e5, timeoutMs: 1000 });
 * // summary: { lines_added: 1, lines_removed: 1, first_changed_lines: ["-b", "+c"] }
 */
export function diffTexts(oldText: string, newText: string, options: DiffOptions): TextChange {
  // A final newline on both sides keeps "\ No newline at end of file" out of the diff.
  const oldSide = oldText === "" ? "" : `${oldText}\n`;
  const newSide = newText === "" ? "" : `${newText}\n`;
  const fine = structuredPatch(
    "previous",
    "current",
    oldSide,
    newSide,
    options.oldHeader,
    options.newHeader,
    { context: options.contextLines, timeout: options.timeoutMs },
  );
  const patch = fine ?? _wholesale(oldText, newText, options);
  let added = 0;
  let removed = 0;
  const first: string[] = [];
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      const sign = line[0];
      if (sign !== "+" && sign !== "-") continue;
      if (sign === "+") added++;
      else removed++;
      if (first.length < SUMMARY_LINES && line.trim().length > 1) {
        first.push(
          line.length > SUMMARY_LINE_CHARS ? `${line.slice(0, SUMMARY_LINE_CHARS - 1)}…` : line,
        );
      }
    }
  }
  let diff = formatPatch(patch, {
    includeIndex: false,
    includeUnderline: false,
    includeFileHeaders: true,
  });
  let truncated = false;
  if (diff.length > options.maxChars) {
    const cut = diff.lastIndexOf("\n", options.maxChars);
    const kept = diff.slice(0, cut > 0 ? cut + 1 : options.maxChars);
    diff = `${kept}... diff truncated: ${diff.length - kept.length} more characters\n`;
    truncated = true;
  }
  return {
    diff,
    summary: { lines_added: added, lines_removed: removed, first_changed_lines: first },
    truncated,
    coarse: fine === undefined,
  };
}
