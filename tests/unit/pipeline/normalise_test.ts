import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import {
  compileIgnorePatterns,
  normaliseText,
  validateIgnorePatterns,
} from "../../../shared/pipeline/normalise.ts";

Deno.test("normaliseText() composes Unicode to NFC", () => {
  assert.equal(normaliseText("Cafe\u0301"), "Café");
  assert.equal(normaliseText("Cafe\u0301"), normaliseText("Caf\u00e9"));
});

Deno.test("normaliseText() folds whitespace per line, trims lines and collapses blank-line runs", () => {
  const text = "  Fee:\u00a0\t£719  \r\n\r\n\r\n   \nNext\u2028line\n\n\n";
  assert.equal(normaliseText(text), "Fee: £719\n\nNext\nline");
});

Deno.test("normaliseText() drops zero-width and soft-hyphen characters", () => {
  assert.equal(normaliseText("sur\u00adcharge\u200b \ufeffapplies"), "surcharge applies");
});

Deno.test("normaliseText() removes per-request noise but keeps the dates of the policy text", () => {
  const text = [
    "From 1 January 2026 the fee is £719.",
    "Decisions from 2026-01-01 onwards, offices open 09:00 to 17:00.",
    "Last updated: 28 November 2026",
    "Rendered 2026-11-28T02:00:13.123Z for you",
    "Server time 14:03:27 UTC",
    "Session 9f8a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a",
    "See https://gov.example/rules/fees?session=abc&ts=1732752000#top for details",
    "Page generated in 0.123 seconds",
  ].join("\n");
  assert.equal(
    normaliseText(text),
    [
      "From 1 January 2026 the fee is £719.",
      "Decisions from 2026-01-01 onwards, offices open 09:00 to 17:00.",
      "Last updated: 28 November 2026",
      "Rendered for you",
      "Server time",
      "Session",
      "See https://gov.example/rules/fees for details",
    ].join("\n"),
  );
});

Deno.test("normaliseText() keeps ordinary long words, numbers and reference codes", () => {
  const text =
    "Counterterrorism and antidisestablishmentarianism; reference HC 1154, ISBN 978-1-5286-4567-8.";
  assert.equal(normaliseText(text), text);
});

Deno.test("normaliseText() removes the source's ignore patterns and tidies what is left", () => {
  const patterns = compileIgnorePatterns(["Visitors today: \\d+", "/^reviewed by .*$/i"]);
  const text = "Rules\nVisitors today: 1234\nReviewed by J. Smith\n\n\nFee £719";
  assert.equal(normaliseText(text, { ignorePatterns: patterns }), "Rules\n\nFee £719");
});

Deno.test("validateIgnorePatterns() accepts valid patterns", () => {
  assert.deepEqual(validateIgnorePatterns([]), []);
  assert.deepEqual(validateIgnorePatterns(["Last updated: .*", "/visitors: \\d+/i"]), []);
});

Deno.test("validateIgnorePatterns() explains each invalid pattern", () => {
  assert.deepEqual(validateIgnorePatterns("x"), ["ignore patterns must be an array of strings"]);
  const errors = validateIgnorePatterns([
    "(unclosed",
    42,
    "",
    "x".repeat(501),
    "[\\s\\S]*",
    "/a/g",
  ]);
  assert.equal(errors.length, 6);
  assert.match(errors[0] ?? "", /ignore pattern 1 "\(unclosed" is not a valid regular expression/);
  assert.match(errors[1] ?? "", /ignore pattern 2 must be a string/);
  assert.match(errors[2] ?? "", /ignore pattern 3 must be 1 to 500 characters/);
  assert.match(errors[3] ?? "", /ignore pattern 4 must be 1 to 500 characters/);
  assert.match(errors[4] ?? "", /matches all text/);
  assert.match(errors[5] ?? "", /unsupported flags/);
  assert.match(validateIgnorePatterns(Array(51).fill("a"))[0] ?? "", /at most 50/);
});

Deno.test("compileIgnorePatterns() fails with parse on a pattern saved before validation", () => {
  assert.throws(
    () => compileIgnorePatterns(["ok", "(bad"]),
    (error) =>
      error instanceof PipelineError && error.errorClass === "parse" && /\(bad/.test(error.message),
  );
});
