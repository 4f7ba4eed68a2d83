/**
 * Extract + normalise + hash of typical documents: a 40 KB and a 1 MB HTML page and a
 * 10-page PDF. `deno bench -A tests/bench/pipeline_bench.ts`
 * @module
 */
import { sha256Hex } from "../../shared/pipeline/detect.ts";
import { extractDocument } from "../../shared/pipeline/extract.ts";
import { normaliseText } from "../../shared/pipeline/normalise.ts";
import { policyPage, policyPdf } from "../fixtures/pipeline_pages.ts";

const encoder = new TextEncoder();
const page40k = encoder.encode(policyPage({ bytes: 40 * 1024 }));
const page1m = encoder.encode(policyPage({ bytes: 1024 * 1024 }));
const pdf10 = await policyPdf({ pages: 10 });

async function process(body: Uint8Array, contentType: string): Promise<string> {
  const { text } = await extractDocument({ body, contentType });
  return await sha256Hex(normaliseText(text));
}

Deno.bench({
  name: `HTML 40 KB (${page40k.byteLength} bytes): extract + normalise + hash`,
  group: "pipeline",
  baseline: true,
  async fn() {
    await process(page40k, "text/html; charset=utf-8");
  },
});

Deno.bench({
  name: `HTML 1 MB (${page1m.byteLength} bytes): extract + normalise + hash`,
  group: "pipeline",
  async fn() {
    await process(page1m, "text/html; charset=utf-8");
  },
});

Deno.bench({
  name: `PDF 10 pages (${pdf10.byteLength} bytes): extract + normalise + hash`,
  group: "pipeline",
  async fn() {
    await process(pdf10, "application/pdf");
  },
});
