import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { extractHtmlText } from "../../../shared/pipeline/html_extractor.ts";
import {
  compileIgnorePatterns,
  normaliseText,
  validateIgnorePatterns,
} from "../../../shared/pipeline/normalise.ts";
import { seeded } from "../../fixtures/pipeline_pages.ts";
import { sloppyPage, SUITE_FIXTURES } from "./_html_pages.ts";

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
  assert.match(
    errors[0] ?? "",
    /ignore pattern 1 "\(unclosed" is not a valid JavaScript regular expression/,
  );
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

/** normaliseText() as it was before the single-pass folding (the behaviour to keep). */
function _previousNormalise(text: string, patterns: string[] = []): string {
  const ignorePatterns = patterns.map((p) => {
    const m = /^\/(.+)\/([a-z]*)$/s.exec(p);
    return m ? new RegExp(m[1]!, `gm${m[2]!.replace("m", "")}`) : new RegExp(p, "gm");
  });
  const fold = (input: string) => {
    const out: string[] = [];
    for (const raw of input.split("\n")) {
      const line = raw.replace(/\s+/g, " ").trim();
      if (line === "" && (out.length === 0 || out[out.length - 1] === "")) continue;
      out.push(line);
    }
    while (out.length > 0 && out[out.length - 1] === "") out.pop();
    return out.join("\n");
  };
  let out = text.normalize("NFC").replace(/\r\n?|[\u2028\u2029\u0085\v\f]/g, "\n")
    .replace(/[\u00AD\u200B-\u200D\u2060\uFEFF]/g, "");
  out = out
    .replace(/\b(https?:\/\/[^\s?#<>"']+)[?#][^\s<>"']*/gi, "$1")
    .replace(
      /\b(?:\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:\s?[AaPp]\.?[Mm]\.?(?![A-Za-z]))?(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}|[A-Z]{2,4}T)(?![A-Za-z]))?(?![\d:])/g,
      "",
    )
    .replace(/(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{32,}(?![\w-])/g, "")
    .replace(
      /^(?:this )?(?:page )?(?:was )?(?:generated|rendered|built|served) in \d+(?:[.,]\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?)\.?$/gim,
      "",
    );
  out = fold(out);
  if (ignorePatterns.length === 0) return out;
  for (const pattern of ignorePatterns) out = out.replace(pattern, "");
  return fold(out);
}

Deno.test("normaliseText() gives the same text as before its passes were merged, on varied input", () => {
  const random = seeded(2026);
  const pieces = [
    "Fee",
    "£719",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\n \n\t\n",
    "\r\n",
    "\r",
    "\u00a0",
    "\u2003",
    "\u3000",
    "\u1680",
    "\u202f",
    "\u205f",
    "\u2009",
    "\u180e",
    "\u2028",
    "\u0085",
    "\v",
    "\f",
    "\u200b",
    "\ufeff",
    "\u00ad",
    "e\u0301",
    "14:03:27",
    " UTC",
    "2026-11-28T02:00:13.123Z",
    "9:05:00 pm",
    "https://gov.example/a?b=c#d",
    "HTTP://X.EXAMPLE/P#top",
    "http://",
    "https://",
    "Xhttp://a",
    "ftp://",
    "://",
    "?q=1",
    "#",
    "'",
    "<",
    "/path",
    "9f8a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a",
    "abcdefghijklmnopqrstuvwxyzabcdefghij",
    "a1-b2_c3".repeat(5),
    "Page generated in 0.12 s",
    "Rendered in 12ms.",
    "0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcde",
    "f",
    "7",
    "word",
    "-",
    "x".repeat(40),
  ];
  const sources = ["Visitors: \\d+", "/^fee$/im"];
  const patterns = compileIgnorePatterns(sources);
  for (let i = 0; i < 3_000; i++) {
    const n = 1 + Math.floor(random() * 30);
    const text = Array.from({ length: n }, () => pieces[Math.floor(random() * pieces.length)])
      .join("");
    assert.equal(normaliseText(text), _previousNormalise(text), JSON.stringify(text));
    assert.equal(
      normaliseText(`${text}\nVisitors: 12`, { ignorePatterns: patterns }),
      _previousNormalise(`${text}\nVisitors: 12`, sources),
      JSON.stringify(text),
    );
  }
});

Deno.test("normaliseText() gives the same text as before on extracted pages", () => {
  for (const html of Object.values(SUITE_FIXTURES)) {
    const text = extractHtmlText(html);
    assert.equal(normaliseText(text), _previousNormalise(text));
  }
  for (let seed = 1; seed <= 100; seed++) {
    const text = extractHtmlText(sloppyPage(seed));
    assert.equal(normaliseText(text), _previousNormalise(text));
  }
});
