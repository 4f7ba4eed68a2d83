import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { extractDocument, sniffDocumentKind } from "../../../shared/pipeline/extract.ts";
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

/** What sniffDocumentKind computed before it read bytes: the head decoded as windows-1252. */
function sniffByDecoding(body: Uint8Array): string | null {
  const head = new TextDecoder("windows-1252").decode(body.subarray(0, 512)).replace(
    /^\uFEFF|^ï»¿/,
    "",
  )
    .trimStart().toLowerCase();
  if (head.startsWith("%pdf-")) return "pdf";
  if (head.startsWith("<!doctype html") || head.startsWith("<html")) return "html";
  return null;
}

Deno.test("sniffDocumentKind() reads the bytes as decoding the head as windows-1252 did", () => {
  // Heads made of the pieces that matter (a BOM, every byte that decodes to white space or
  // near it, the magics in mixed case, bytes that lower-case to non-ASCII letters) at random,
  // and every single byte before each magic.
  const pieces = [
    [0xef, 0xbb, 0xbf],
    [0xef, 0xbb],
    [0x09],
    [0x0a],
    [0x0b],
    [0x0c],
    [0x0d],
    [0x20],
    [0xa0],
    [0x85],
    [0x1c],
    [0x00],
    [0xc0],
    [0x8a],
    ...[
      "%PDF-",
      "%pdf-",
      "%PdF-",
      "%PD",
      "<!DOCTYPE html",
      "<!doctype HTML",
      "<!doctype  html",
      "<HTML",
      "<html",
      "<htm",
      "<Html>",
    ]
      .map((w) => [...utf8(w)]),
    [...utf8("x")],
  ];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const bodies: Uint8Array[] = [new Uint8Array(0)];
  for (let i = 0; i < 20_000; i++) {
    const bytes: number[] = [];
    for (let k = random(6); k >= 0; k--) bytes.push(...pieces[random(pieces.length)]!);
    bodies.push(new Uint8Array(bytes));
  }
  for (let b = 0; b < 256; b++) {
    for (const magic of ["%PDF-1", "<html>", "<!doctype html>"]) {
      bodies.push(new Uint8Array([b, ...utf8(magic)]));
      bodies.push(new Uint8Array([0xef, 0xbb, 0xbf, b, ...utf8(magic)]));
    }
  }
  // The 512-byte window: a magic that starts or ends past it is not seen.
  for (const pad of [500, 506, 507, 508, 512]) {
    bodies.push(new Uint8Array([...new Array(pad).fill(0x20), ...utf8("%PDF-1.7")]));
  }
  let kinds = 0;
  for (const body of bodies) {
    const want = sniffByDecoding(body);
    if (want !== null) kinds++;
    assert.equal(sniffDocumentKind(body), want, `bytes ${[...body].join(",")}`);
  }
  assert.ok(kinds > 1_000, `only ${kinds} heads had a kind`);
});
