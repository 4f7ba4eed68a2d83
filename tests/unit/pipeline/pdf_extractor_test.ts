import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { extractPdfText } from "../../../shared/pipeline/pdf_extractor.ts";
import { PDF_PARAGRAPH, policyPdf } from "../../fixtures/pipeline_pages.ts";

Deno.test("extractPdfText() returns the text of every page, one PDF line per line", async () => {
  const text = await extractPdfText(await policyPdf({ pages: 3 }));
  const lines = text.split("\n");
  assert.ok(lines.includes("Part 1: rules for applicants"));
  assert.ok(lines.includes("Part 3: rules for applicants"));
  assert.ok(lines.includes(PDF_PARAGRAPH));
});

Deno.test("extractPdfText() leaves the caller's bytes usable", async () => {
  const bytes = await policyPdf({ pages: 1 });
  await extractPdfText(bytes);
  assert.equal(bytes.byteLength > 0, true);
  assert.match(await extractPdfText(bytes), /Part 1/);
});

Deno.test("extractPdfText() fails with parse on bytes that are not a PDF", async () => {
  await assert.rejects(
    extractPdfText(new TextEncoder().encode("%PDF-1.7\nnot really\n%%EOF")),
    (error) =>
      error instanceof PipelineError && error.errorClass === "parse" &&
      /cannot read PDF/.test(error.message),
  );
});
