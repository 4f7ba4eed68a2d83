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

Deno.test("extractPdfText() loads unpdf only when a PDF comes: no module imports it statically", async () => {
  const entry = new URL("../../../shared/pipeline/pipeline.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.success, true, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const edges = graph.modules.flatMap((module) =>
    (module.dependencies ?? [])
      .filter((dependency) => dependency.code?.specifier.startsWith("npm:unpdf@"))
      .map((dependency) => ({ from: module.specifier, isDynamic: dependency.isDynamic === true }))
  );
  assert.deepEqual(edges.map((edge) => edge.from.replace(/^.*\/shared\//, "shared/")), [
    "shared/pipeline/pdf_extractor.ts",
  ]);
  assert.ok(edges.every((edge) => edge.isDynamic), JSON.stringify(edges));
});
