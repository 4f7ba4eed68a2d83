/**
 * JSON documents as text: pretty-printed (one value per line, key order kept) so that a
 * diff shows the fields that changed, within limits. Pretty-printing turns nesting depth
 * into size (each line is indented by its depth: 100 KB of nested arrays printed to
 * 400 MB, issue 11), so depth is checked by a linear scan before parsing, and the
 * printer is iterative (no recursion a document can drive) and stops at the text cap.
 * The output is the same as `JSON.stringify(JSON.parse(text), null, 2)`.
 * @module
 */
import { PipelineError } from "./errors.ts";

/** Limits of {@link jsonText}. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects (FETCH_JSON_MAX_DEPTH). */
  maxDepth: number;
  /** Longest output, in characters (FETCH_MAX_TEXT_CHARS). */
  maxTextChars: number;
}

/** Deepest nesting outside strings, in one pass; stops counting past `limit`. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

type _Frame = { items: unknown[]; keys: string[] | null; next: number; indent: string };

/**
 * Parses and pretty-prints a JSON document; `parse` when it is not JSON or nests deeper
 * than `maxDepth`, `too_large` when the output would pass `maxTextChars`.
 * @example
 * jsonText('{"fee":719}', { maxDepth: 64, maxTextChars: 1e6 }); // '{\n  "fee": 719\n}'
 */
export function jsonText(text: string, limits: JsonLimits): string {
  const depth = jsonDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) {
    throw new PipelineError(
      "parse",
      `JSON nested deeper than ${limits.maxDepth} levels is not read`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PipelineError(
      "parse",
      `invalid JSON: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const out: string[] = [];
  let size = 0;
  const emit = (s: string) => {
    size += s.length;
    if (size > limits.maxTextChars) {
      throw new PipelineError(
        "too_large",
        `extracted text exceeds the cap of ${limits.maxTextChars} characters (pretty-printed JSON)`,
      );
    }
    out.push(s);
  };
  const stack: _Frame[] = [];
  /** Writes a scalar, or opens a container (pushes a frame). */
  const open = (v: unknown, indent: string) => {
    if (v === null || typeof v !== "object") return emit(JSON.stringify(v) ?? "null");
    if (Array.isArray(v)) {
      if (v.length === 0) return emit("[]");
      emit("[");
      stack.push({ items: v, keys: null, next: 0, indent });
    } else {
      const keys = Object.keys(v);
      if (keys.length === 0) return emit("{}");
      emit("{");
      const record = v as Record<string, unknown>;
      stack.push({ items: keys.map((k) => record[k]), keys, next: 0, indent });
    }
  };
  open(value, "");
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next === frame.items.length) {
      stack.pop();
      emit(`\n${frame.indent}${frame.keys ? "}" : "]"}`);
      continue;
    }
    const i = frame.next++;
    const inner = frame.indent + "  ";
    emit(`${i === 0 ? "" : ","}\n${inner}`);
    if (frame.keys) emit(`${JSON.stringify(frame.keys[i])}: `);
    open(frame.items[i], inner);
  }
  return out.join("");
}
