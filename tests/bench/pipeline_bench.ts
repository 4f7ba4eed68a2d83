/**
 * Extract + normalise + hash of typical documents: a 40 KB and a 1 MB HTML page on both
 * HTML paths, and a 10-page PDF. `deno bench -A tests/bench/pipeline_bench.ts`
 *
 * - "streaming (default)": a source without a CSS selector, what almost every source is.
 * - "cheerio, selector main": a source with a CSS selector (the DOM path).
 * - "cheerio, no selector (before)": the DOM path without a selector, which was the
 *   default before the streaming extractor; each group's summary shows the ratio.
 * @module
 */
import { sha256Hex } from "../../shared/pipeline/detect.ts";
import { extractDocument } from "../../shared/pipeline/extract.ts";
import { extractHtmlTextWithCheerio } from "../../shared/pipeline/html_extractor.ts";
import { normaliseText } from "../../shared/pipeline/normalise.ts";
import { decodeBody } from "../../shared/pipeline/charset.ts";
import { policyPage, policyPdf } from "../fixtures/pipeline_pages.ts";

const encoder = new TextEncoder();
const page40k = encoder.encode(policyPage({ bytes: 40 * 1024 }));
const page1m = encoder.encode(policyPage({ bytes: 1024 * 1024 }));
const pdf10 = await policyPdf({ pages: 10 });
const HTML = "text/html; charset=utf-8";

async function process(body: Uint8Array, contentType: string, selector?: string) {
  const { text } = await extractDocument({ body, contentType, selector });
  return await sha256Hex(normaliseText(text));
}

/** The pre-streaming default: decode, cheerio + html-to-text without a selector. */
async function processBefore(body: Uint8Array): Promise<string> {
  const { text } = decodeBody(body, { headerCharset: "utf-8", html: true });
  return await sha256Hex(normaliseText(extractHtmlTextWithCheerio(text)));
}

for (const [label, page] of [["40 KB", page40k], ["1 MB", page1m]] as const) {
  const group = `HTML ${label}`;
  const size = `${page.byteLength} bytes`;
  Deno.bench({
    name: `HTML ${label} (${size}) streaming (default): extract + normalise + hash`,
    group,
    baseline: true,
    async fn() {
      await process(page, HTML);
    },
  });
  Deno.bench({
    name: `HTML ${label} (${size}) cheerio, selector main: extract + normalise + hash`,
    group,
    async fn() {
      await process(page, HTML, "main");
    },
  });
  Deno.bench({
    name: `HTML ${label} (${size}) cheerio, no selector (before): extract + normalise + hash`,
    group,
    async fn() {
      await processBefore(page);
    },
  });
}

Deno.bench({
  name: `PDF 10 pages (${pdf10.byteLength} bytes): extract + normalise + hash`,
  group: "pdf",
  async fn() {
    await process(pdf10, "application/pdf");
  },
});
