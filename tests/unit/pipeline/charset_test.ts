import assert from "node:assert/strict";
import {
  decodeBody,
  parseContentType,
  sniffMetaCharset,
} from "../../../shared/pipeline/charset.ts";

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

Deno.test("parseContentType() splits the media type and the charset parameter", () => {
  assert.deepEqual(parseContentType('Text/HTML; Charset="ISO-8859-1"'), {
    mediaType: "text/html",
    charset: "ISO-8859-1",
  });
  assert.deepEqual(parseContentType("application/pdf"), {
    mediaType: "application/pdf",
    charset: null,
  });
  assert.deepEqual(parseContentType(null), { mediaType: null, charset: null });
  assert.deepEqual(parseContentType("garbage"), { mediaType: null, charset: null });
});

Deno.test("decodeBody() uses the charset of the header", () => {
  const bytes = new Uint8Array([...ascii("Geb"), 0xfc, ...ascii("hr")]);
  const decoded = decodeBody(bytes, { headerCharset: "iso-8859-1", html: false });
  assert.equal(decoded.text, "Gebühr");
  assert.equal(decoded.encoding, "windows-1252");
});

Deno.test("decodeBody() finds the charset of an HTML page in its meta tags", () => {
  const page = new Uint8Array([
    ...ascii(
      '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
    ),
    ...ascii("</head><body>"),
    0x80,
    ...ascii("719</body></html>"),
  ]);
  assert.equal(sniffMetaCharset(page), "windows-1252");
  assert.match(decodeBody(page, { headerCharset: null, html: true }).text, /€719/);
  // Plain text is not sniffed for <meta>.
  assert.match(decodeBody(page, { headerCharset: null, html: false }).text, /\uFFFD719/);
});

Deno.test("decodeBody() lets a byte-order mark win over the header", () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("£719")]);
  assert.equal(decodeBody(bytes, { headerCharset: "iso-8859-1", html: false }).text, "£719");
});

Deno.test("decodeBody() replaces invalid bytes instead of throwing", () => {
  const bytes = new Uint8Array([...ascii("Fee "), 0xff, 0xfe, 0xc3, ...ascii(" 719")]);
  const decoded = decodeBody(bytes, { headerCharset: "utf-8", html: false });
  assert.equal(decoded.text, "Fee \uFFFD\uFFFD\uFFFD 719");
});

Deno.test("decodeBody() falls back to UTF-8 for an unknown charset label and reports it", () => {
  const decoded = decodeBody(new TextEncoder().encode("£719"), {
    headerCharset: "klingon-8",
    html: false,
  });
  assert.equal(decoded.text, "£719");
  assert.equal(decoded.unknownLabel, "klingon-8");
});

Deno.test("decodeBody() lets the header win over <meta>, and reads <meta> when the header's label is unknown", () => {
  const page = new Uint8Array([
    ...ascii('<html><head><meta charset="utf-8"></head><body>'),
    0xa3,
    ...ascii("719</body></html>"),
  ]);
  const byHeader = decodeBody(page, { headerCharset: "iso-8859-1", html: true });
  assert.equal(byHeader.encoding, "windows-1252");
  assert.match(byHeader.text, /£719/);
  assert.equal(byHeader.unknownLabel, null);
  const byMeta = decodeBody(page, { headerCharset: "klingon-8", html: true });
  assert.equal(byMeta.encoding, "utf-8");
  assert.match(byMeta.text, /\uFFFD719/);
  assert.equal(byMeta.unknownLabel, "klingon-8");
});
