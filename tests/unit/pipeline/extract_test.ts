import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { extractDocument } from "../../../shared/pipeline/extract.ts";
import { policyPdf } from "../../fixtures/pipeline_pages.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
/** Extracts `text` served as `contentType`. */
const extractText = (text: string, contentType: string) =>
  extractDocument({ body: utf8(text), contentType });
const isClass = (errorClass: string) => (error: unknown) =>
  error instanceof PipelineError && error.errorClass === errorClass;

// [test name, body, Content-Type, kind, media type, text]: each kind through its extractor.
const KINDS: Array<[string, string, string, string, string, string]> = [
  [
    "extractDocument() reads HTML through the HTML extractor",
    "<html><body><nav>Menu</nav><main><p>Rule</p></main></body></html>",
    "text/html; charset=utf-8",
    "html",
    "text/html",
    "Rule",
  ],
  [
    "extractDocument() reads plain text as it is",
    "Rule 1\nRule 2",
    "text/plain",
    "text",
    "text/plain",
    "Rule 1\nRule 2",
  ],
  [
    "extractDocument() pretty-prints JSON so a diff shows the changed field",
    '{"fees":{"visa":719},"updated":"2026-11-28"}',
    "application/vnd.api+json",
    "json",
    "application/vnd.api+json",
    '{\n  "fees": {\n    "visa": 719\n  },\n  "updated": "2026-11-28"\n}',
  ],
];
for (const [name, body, contentType, kind, mediaType, text] of KINDS) {
  Deno.test(name, async () => {
    const out = await extractText(body, contentType);
    assert.equal(out.kind, kind);
    assert.equal(out.mediaType, mediaType);
    assert.equal(out.text, text);
  });
}

Deno.test("extractDocument() refuses JSON it cannot parse as parse", async () => {
  await assert.rejects(extractText("{oops", "application/json"), isClass("parse"));
});

Deno.test("extractDocument() recognises a PDF by its magic bytes whatever the server calls it", async () => {
  const pdf = await policyPdf({ pages: 1 });
  for (const contentType of ["application/octet-stream", null, "text/html"]) {
    const out = await extractDocument({ body: pdf, contentType });
    assert.equal(out.kind, "pdf", String(contentType));
    assert.match(out.text, /Part 1: rules for applicants/);
  }
});

Deno.test("extractDocument() recognises HTML without a content type by its doctype", async () => {
  const out = await extractDocument({
    body: utf8("<!DOCTYPE html><main><p>Rule</p></main>"),
    contentType: null,
  });
  assert.equal(out.kind, "html");
});

Deno.test("extractDocument() refuses other content as unsupported_content", async () => {
  await assert.rejects(
    extractDocument({ body: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), contentType: "image/png" }),
    (error) => isClass("unsupported_content")(error) && /image\/png/.test((error as Error).message),
  );
  await assert.rejects(
    extractText("just bytes", "application/octet-stream"),
    isClass("unsupported_content"),
  );
});
