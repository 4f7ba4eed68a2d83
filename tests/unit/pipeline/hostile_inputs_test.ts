/**
 * Each hostile input class (generated here, not stored) through extract + normalise, as
 * the pipeline runs a fetched body: it ends in success or a classified failure, never
 * `internal`, never a crash. Times and memory: tests/bench/hostile_classes.ts.
 */
import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { DEFAULT_EXTRACT_LIMITS, extractDocument } from "../../../shared/pipeline/extract.ts";
import { compileIgnorePatterns, normaliseText } from "../../../shared/pipeline/normalise.ts";
import { scanPdf } from "../../../shared/pipeline/pdf_extractor.ts";
import {
  catastrophicPattern,
  deepHtml,
  deepJson,
  pdfInflateBomb,
  pdfManyPages,
  urlDenseText,
} from "../../fixtures/hostile_inputs.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function outcome(
  body: Uint8Array,
  contentType: string,
  options: { patterns?: string[]; selector?: string } = {},
): Promise<string> {
  try {
    const ignorePatterns = compileIgnorePatterns(options.patterns ?? []);
    const { text } = await extractDocument({ body, contentType, selector: options.selector });
    normaliseText(text, { ignorePatterns });
    return "ok";
  } catch (error) {
    assert.ok(error instanceof PipelineError, `not classified: ${error}`);
    assert.notEqual(error.errorClass, "internal", error.message);
    return `${error.errorClass}: ${error.message}`;
  }
}

Deno.test("normaliseText() keeps text full of http:// (280 KB) and strips queries as before", async () => {
  assert.equal(await outcome(enc(urlDenseText(280_000)), "text/plain"), "ok");
  assert.equal(
    normaliseText("see http://a.example/x?token=1 and https://b.example/http://c?d#e"),
    "see http://a.example/x and https://b.example/http://c",
  );
});

Deno.test("deeply nested JSON is refused (parse) or bounded (too_large), never printed to gigabytes", async () => {
  assert.match(
    await outcome(enc(deepJson(4_000, 12)), "application/json"),
    /^parse: JSON nested deeper/,
  );
  assert.match(
    await outcome(enc(deepJson(99, 3_000)), "application/json"),
    /^too_large: extracted text exceeds/,
  );
});

Deno.test("a PDF inflating past the cap is refused before PDF.js reads it", async () => {
  const bomb = await pdfInflateBomb(DEFAULT_EXTRACT_LIMITS.maxInflatedBytes + (1 << 20));
  // (at most ~4 MB may go uncounted when junk follows a stream: pdf_extractor.ts)
  assert.match(
    await outcome(bomb, "application/pdf"),
    /^too_large: PDF streams inflate to more than/,
  );
  const small = await pdfInflateBomb(1 << 20);
  assert.equal((await scanPdf(small, 2 << 20)).inflatedBytes >= 1 << 20, true);
  assert.equal(await outcome(small, "application/pdf"), "ok");
});

Deno.test("a PDF with more pages than the cap is refused by its page count", async () => {
  assert.match(
    await outcome(pdfManyPages(DEFAULT_EXTRACT_LIMITS.maxPages + 1), "application/pdf"),
    /^too_large: PDF has 2001 pages, more than the cap of 2000/,
  );
  const few = await extractDocument({ body: pdfManyPages(3), contentType: "application/pdf" });
  assert.equal(few.text.split("Fee 719 GBP").length - 1, 3);
});

Deno.test("a PDF whose text passes the text cap stops at the cap", async () => {
  const limits = { ...DEFAULT_EXTRACT_LIMITS, maxTextChars: 100 };
  await assert.rejects(
    extractDocument({ body: pdfManyPages(50), contentType: "application/pdf", limits }),
    (e) =>
      e instanceof PipelineError && e.errorClass === "too_large" &&
      /at page \d+ of 50/.test(e.message),
  );
});

Deno.test("plain text past the text cap is too_large", async () => {
  const limits = { ...DEFAULT_EXTRACT_LIMITS, maxTextChars: 1_000 };
  await assert.rejects(
    extractDocument({ body: enc("x ".repeat(1_000)), contentType: "text/plain", limits }),
    (e) => e instanceof PipelineError && e.errorClass === "too_large",
  );
});

Deno.test("an ignore pattern with nested quantifiers runs in linear time", async () => {
  const { pattern, text } = catastrophicPattern(100_000);
  assert.equal(await outcome(enc(text), "text/plain", { patterns: [pattern] }), "ok");
});

Deno.test("deeply nested HTML ends in success or a classified failure", async () => {
  assert.equal(await outcome(enc(deepHtml(5_000)), "text/html"), "ok");
});

Deno.test("deeply nested HTML with a CSS selector ends in success or a classified failure", async () => {
  assert.doesNotMatch(
    await outcome(enc(deepHtml(40_000)), "text/html", { selector: "body" }),
    /internal/,
  );
});
