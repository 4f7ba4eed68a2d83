import assert from "node:assert/strict";
import {
  applyIgnorePatterns,
  compileIgnorePatterns,
  ignorePatternErrors,
} from "../../../shared/pipeline/ignore_patterns.ts";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { catastrophicPattern } from "../../fixtures/hostile_inputs.ts";

Deno.test("ignorePatternErrors() accepts JavaScript patterns Postgres' regex rules refuse or read differently", () => {
  // Named groups, \d inside classes, lazy quantifiers, /i flag, \u escapes, [^] (JS only).
  const patterns = [
    "(?<stamp>\\d{2}:\\d{2})",
    "[\\d,]+ visitors",
    "Updated .*? ago",
    "/session: [a-f0-9]+/i",
    "\\u00a3\\d+ today",
    "Cookie[^]*?accept",
  ];
  assert.deepEqual(ignorePatternErrors(patterns), []);
});

Deno.test("ignorePatternErrors() names each invalid pattern by index, with the reason", () => {
  const errors = ignorePatternErrors([
    "ok",
    "(unclosed",
    "(a)\\1",
    "(?<=Fee )\\d+",
    "x(?!y)",
    "",
    "[\\s\\S]*",
    "/a/g",
  ]);
  assert.deepEqual(errors.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7]);
  assert.match(errors[0]!.message, /^ignore pattern 2 "\(unclosed" is not a valid JavaScript/);
  assert.match(errors[1]!.message, /backreference/);
  assert.match(errors[2]!.message, /lookahead or lookbehind/);
  assert.match(errors[3]!.message, /lookahead or lookbehind/);
  assert.match(errors[4]!.message, /1 to 500 characters/);
  assert.match(errors[5]!.message, /matches all text/);
  assert.match(errors[6]!.message, /unsupported flags/);
  assert.equal(ignorePatternErrors(Array(51).fill("a"))[0]?.index, -1);
});

Deno.test("compileIgnorePatterns() runs a nested-quantifier pattern in linear time", () => {
  // V8's backtracking engine takes ~40 s on n = 30 (doubling per character); RE2 is linear.
  const { pattern, text } = catastrophicPattern(200_000);
  const [compiled] = compileIgnorePatterns([pattern]);
  assert.equal(applyIgnorePatterns(text, [compiled!]), text);
  assert.equal(applyIgnorePatterns("Rules\naaa\nFee", [compiled!]), "Rules\n\nFee");
});

Deno.test("applyIgnorePatterns() removes matches as JavaScript would, flags included", () => {
  const patterns = compileIgnorePatterns([
    "Visitors: \\d+",
    "/^reviewed by .*$/i",
    "(?<h>\\d+):\\d+",
  ]);
  const text = "Rules\nVisitors: 12\nREVIEWED BY Ann\nOpen 9:30 daily";
  const js = [/Visitors: \d+/gm, /^reviewed by .*$/gim, /(?<h>\d+):\d+/gm].reduce(
    (t, re) => t.replace(re, ""),
    text,
  );
  assert.equal(applyIgnorePatterns(text, patterns), js);
});

Deno.test("compileIgnorePatterns() fails with parse on a pattern saved before validation", () => {
  assert.throws(
    () => compileIgnorePatterns(["ok", "(a+)\\1"]),
    (e) =>
      e instanceof PipelineError && e.errorClass === "parse" && /backreference/.test(e.message),
  );
});
