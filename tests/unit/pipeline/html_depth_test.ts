/**
 * Depth safety of both HTML paths: pages generated here nest elements far deeper than any
 * browser keeps (Blink stops at 512). The streaming path reads them in linear time with
 * their text; the selector path refuses them with a classified failure instead of a
 * quadratic parse and a stack overflow. Speed figures are in the pipeline bench, not here.
 */
import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { extractHtmlText } from "../../../shared/pipeline/html_extractor.ts";
import {
  extractHtmlTextStreaming,
  MAX_HTML_DEPTH,
  nestsTooDeep,
} from "../../../shared/pipeline/html_stream_extractor.ts";

const N = 60_000;
const SHAPES: Record<string, string> = {
  "closed divs": "<div>x".repeat(N) + "</div>".repeat(N),
  "unclosed divs": "<div>x".repeat(N),
  "stray end tags": "<div>x".repeat(N / 2) + "</span>".repeat(N / 2),
  "paragraphs of spans": "<p><span>x".repeat(N / 2),
  "formatting elements": "<b>x".repeat(N),
  "formatting around blocks": "<b><div>x".repeat(N / 2),
  "tables in cells": "<table><tr><td>x".repeat(N / 4),
  "nested lists": "<ul><li>x".repeat(N / 2),
  "nested links": "<a href=#>x".repeat(N),
};

Deno.test("extractHtmlTextStreaming() reads pages nested 60,000 deep with all their text", async (t) => {
  for (const [name, body] of Object.entries(SHAPES)) {
    await t.step(name, () => {
      const html = `<main>${body}<p>end</p></main>`;
      // <p> and <a> close their predecessor (HTML5): those two shapes stay shallow.
      assert.equal(nestsTooDeep(html), !/paragraphs|links/.test(name));
      const text = extractHtmlTextStreaming(html);
      assert.ok(text.replace(/[^x]/g, "").length >= N / 4, `${name}: text kept`);
      assert.match(text, /end/);
    });
  }
});

Deno.test("extractHtmlTextStreaming() keeps the layout of pages under the depth limit", () => {
  const depth = MAX_HTML_DEPTH - 10;
  const html = `<main>${"<div>".repeat(depth)}<h2>Deep</h2><p>text</p>${
    "</div>".repeat(depth)
  }</main>`;
  assert.equal(nestsTooDeep(html), false);
  assert.equal(extractHtmlTextStreaming(html), "## Deep\n\ntext");
});

Deno.test("extractHtmlText() with a CSS selector refuses a page nested past the limit as parse", () => {
  const html = `<main id="policy">${"<div>x".repeat(N)}</main>`;
  assert.throws(
    () => extractHtmlText(html, { selector: "#policy" }),
    (error: unknown) =>
      error instanceof PipelineError && error.errorClass === "parse" &&
      /more than 512 deep/.test(error.message),
  );
  const shallow = `<main id="policy">${"<div>".repeat(100)}x</main>`;
  assert.equal(extractHtmlText(shallow, { selector: "#policy" }), "x");
});
