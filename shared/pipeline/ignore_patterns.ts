/**
 * A source's ignore patterns: regular expressions whose matches are removed from its text
 * before hashing. Operators write them; third parties write the text they run on, so they
 * run on RE2 (re2js, a pure-JavaScript port of Google's RE2), whose matching time is linear
 * in the text whatever the pattern: `(a+)+$` on a page of `a`s cannot take 72 s as
 * V8's backtracking engine does.
 *
 * Syntax: JavaScript's (a pattern must also compile as a JavaScript `RegExp`), written
 * plainly or as `/body/flags` with flags i, m, s, u; translated to RE2's syntax by
 * `RE2JS.translateRegExp`. What needs backtracking is refused at save time with a field
 * error: backreferences (`\1`, `\k<name>`) and lookaround (`(?=…)`, `(?!…)`, `(?<=…)`,
 * `(?<!…)`). Differences that remain: `\s`, `\d`, `\w` and `\b` are ASCII (the normaliser
 * has already folded every Unicode space to a plain space when patterns run), and `^`/`$`
 * always mean line starts/ends (flag m is always on, as before).
 *
 * The same functions validate (the API's 400 field errors, via {@link ignorePatternErrors})
 * and compile (the pipeline, via {@link compileIgnorePatterns}), so what was accepted runs.
 * @module
 */
import { errorMessage } from "../errors.ts";
import { RE2JS } from "re2js";
import { PipelineError } from "./errors.ts";

/** Most ignore patterns a source may have (the database checks the same). */
export const MAX_IGNORE_PATTERNS = 50;
/** Longest ignore pattern, in characters (the database checks the same). */
export const MAX_IGNORE_PATTERN_LENGTH = 500;
/** Largest compiled RE2 program of one pattern (instructions): bounds matching memory. */
export const MAX_IGNORE_PROGRAM_SIZE = 20_000;

/** A compiled ignore pattern, ready for {@link applyIgnorePatterns}. */
export interface IgnorePattern {
  /** The pattern as the operator wrote it. */
  readonly source: string;
  /** The RE2 program. */
  readonly re2: RE2JS;
}

/** One invalid pattern: its index in the list (0-based) and why. */
export interface IgnorePatternError {
  index: number;
  message: string;
}

const _PROBE = "Eligibility\nThe fee is £719 from 1 January 2026.\n";

/** Splits `/body/flags` into its parts; a plain string is a body without flags. */
function _parts(pattern: string): { body: string; flags: string } {
  const m = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  return m ? { body: m[1] ?? "", flags: m[2] ?? "" } : { body: pattern, flags: "" };
}

function _message(error: unknown): string {
  const text = errorMessage(error);
  return text.replace(/^error parsing regexp: /, "");
}

/** Compiles one pattern or throws an Error whose message says why it cannot run. */
function _compile(pattern: string): IgnorePattern {
  const { body, flags } = _parts(pattern);
  if (flags.replace(/[imsu]/g, "") !== "" || new Set(flags).size !== flags.length) {
    throw new Error(`unsupported flags "${flags}" (use i, m, s, u)`);
  }
  try {
    new RegExp(body, `gm${flags.replace("m", "")}`);
  } catch (error) {
    throw new Error(`is not a valid JavaScript regular expression: ${_message(error)}`);
  }
  if (/\\[1-9]|\\k</.test(body.replace(/\\\\/g, ""))) {
    throw new Error("uses a backreference, which needs a backtracking engine: not supported");
  }
  if (/\(\?<?[=!]/.test(body.replace(/\\\\|\\\(/g, ""))) {
    throw new Error("uses lookahead or lookbehind, which is not supported (linear-time engine)");
  }
  let re2: RE2JS;
  try {
    let f = RE2JS.MULTILINE;
    if (flags.includes("i")) f |= RE2JS.CASE_INSENSITIVE;
    if (flags.includes("s")) f |= RE2JS.DOTALL;
    re2 = RE2JS.compile(RE2JS.translateRegExp(body), f);
  } catch (error) {
    throw new Error(`cannot be run by the linear-time engine: ${_message(error)}`);
  }
  if (re2.programSize() > MAX_IGNORE_PROGRAM_SIZE) {
    throw new Error(
      `is too complex (${re2.programSize()} instructions, at most ${MAX_IGNORE_PROGRAM_SIZE})`,
    );
  }
  if (re2.matcher(_PROBE).replaceAll("").trim() === "") {
    throw new Error("matches all text, which would hide every change");
  }
  return { source: pattern, re2 };
}

/**
 * Checks ignore patterns before they are saved, with the engine that will run them.
 * Returns one error per invalid pattern (and index -1 for too many patterns); an empty
 * array means all are valid.
 * @example
 * ignorePatternErrors(["Last updated: .*", "(unclosed"]);
 * // [{ index: 1, message: 'ignore pattern 2 "(unclosed" is not a valid JavaScript regular expression: …' }]
 */
export function ignorePatternErrors(patterns: readonly string[]): IgnorePatternError[] {
  const errors: IgnorePatternError[] = [];
  if (patterns.length > MAX_IGNORE_PATTERNS) {
    errors.push({
      index: -1,
      message: `at most ${MAX_IGNORE_PATTERNS} ignore patterns are allowed, got ${patterns.length}`,
    });
  }
  patterns.forEach((pattern, index) => {
    const label = `ignore pattern ${index + 1}`;
    if (typeof pattern !== "string") {
      return errors.push({ index, message: `${label} must be a string` });
    }
    if (pattern.length === 0 || pattern.length > MAX_IGNORE_PATTERN_LENGTH) {
      return errors.push({
        index,
        message: `${label} must be 1 to ${MAX_IGNORE_PATTERN_LENGTH} characters`,
      });
    }
    try {
      _compile(pattern);
    } catch (error) {
      errors.push({ index, message: `${label} ${JSON.stringify(pattern)} ${_message(error)}` });
    }
  });
  return errors;
}

/**
 * Compiles a source's ignore patterns for the pipeline; throws a `parse`
 * {@link PipelineError} listing the invalid ones (saved before validation existed).
 */
export function compileIgnorePatterns(
  patterns: readonly string[] | null | undefined,
): IgnorePattern[] {
  if (!patterns || patterns.length === 0) return [];
  const errors = ignorePatternErrors(patterns);
  if (errors.length > 0) {
    throw new PipelineError(
      "parse",
      `invalid ignore patterns: ${errors.map((e) => e.message).join("; ")}`,
    );
  }
  return patterns.map(_compile);
}

/** Removes every match of every pattern, in order; time linear in the text per pattern. */
export function applyIgnorePatterns(text: string, patterns: readonly IgnorePattern[]): string {
  let out = text;
  for (const pattern of patterns) out = pattern.re2.matcher(out).replaceAll("");
  return out;
}
