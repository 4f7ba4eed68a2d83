/**
 * Chooses the extractor for a response: HTML, PDF, plain text or JSON, by media type
 * (and by magic bytes when the server says nothing useful). Anything else is an
 * `unsupported_content` failure.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import { decodeBody, parseContentType } from "./charset.ts";
import { errorMessage } from "../errors.ts";
import { PipelineError } from "./errors.ts";
import { extractDefaultHtmlContent } from "./html_stream_extractor.ts";
import { jsonText } from "./json_text.ts";
import { DEFAULT_PDF_LIMITS, extractPdfText, type PdfLimits } from "./pdf_extractor.ts";

/** Limits of extraction (see docs/reliability.md, "Bounds"). */
export interface ExtractLimits extends PdfLimits {
  /** Deepest JSON nesting read. */
  maxJsonDepth: number;
}

/** The defaults of the FETCH_* variables. */
export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { ...DEFAULT_PDF_LIMITS, maxJsonDepth: 100 };

/** What {@link extractDocument} reads. */
export interface ExtractInput {
  body: Uint8Array;
  /** The Content-Type header, as received. */
  contentType: string | null;
  /** The source's CSS selector (HTML only). */
  selector?: string | null;
  /** Caps on inflated bytes, pages, text and time; default {@link DEFAULT_EXTRACT_LIMITS}. */
  limits?: ExtractLimits;
}

/** Kinds of document the pipeline reads. */
export type DocumentKind = "html" | "pdf" | "text" | "json";

/** Text of a document and what it was. */
export interface Extracted {
  kind: DocumentKind;
  /** Media type to store with the snapshot, e.g. `text/html`. */
  mediaType: string;
  text: string;
  /** Charset used to decode it (not for PDF). */
  encoding: string | null;
  /** A declared charset nobody knows; UTF-8 was used instead. */
  unknownCharset: string | null;
  /** How the text was found: the source's selector, the element taken as the content, or the document kind. */
  foundBy: string;
}

const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);
const PDF_TYPES = new Set(["application/pdf", "application/x-pdf", "application/acrobat"]);
const TEXT_TYPES = new Set(["text/plain", "text/markdown", "text/x-markdown", "text/csv"]);
const VAGUE_TYPES = new Set([
  null,
  "application/octet-stream",
  "binary/octet-stream",
  "application/unknown",
]);

/**
 * The DOM path (html_extractor.ts: cheerio, parse5 and their dependencies), loaded by the
 * first source with a CSS selector: most sources have none, and evaluating that module
 * graph cost ~150 ms of CPU in every worker's boot (docs/benchmarks.md, "Worker boot and
 * hot path"). A failed load is not remembered, so the next such source tries again.
 */
/** The DOM path's module, loaded on first use (the CSS selector checks of the API use it too). */
export const loadDomPath: () => Promise<typeof import("./html_extractor.ts")> = lazyImport(
  () => import("./html_extractor.ts"),
  (error) =>
    new PipelineError(
      "internal",
      `cannot load the CSS selector engine: ${errorMessage(error)}`,
      { cause: error },
    ),
);

/** Bytes the head of a body may start with before its magic: white space once decoded as windows-1252. */
const _LEADING_SPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]);
/** How far into a body {@link sniffDocumentKind} looks. */
const SNIFF_BYTES = 512;

/** Whether `bytes[at..end)` starts with the lower-case ASCII `word`, ASCII letters in any case. */
function _startsWithAscii(bytes: Uint8Array, at: number, end: number, word: string): boolean {
  if (end - at < word.length) return false;
  for (let k = 0; k < word.length; k++) {
    const want = word.charCodeAt(k);
    const b = bytes[at + k] as number;
    if (b !== want && !(want >= 0x61 && want <= 0x7a && b === want - 0x20)) return false;
  }
  return true;
}

/**
 * Looks at the first bytes when the media type does not say what the body is (and for a PDF
 * served as something else): the first 512 bytes read as windows-1252, a UTF-8 byte-order
 * mark and leading white space skipped, start with `%PDF-`, `<!doctype html` or `<html` in any
 * case. Read on the bytes (every check of every source runs it): windows-1252 gives ASCII to
 * ASCII bytes and no other byte lower-cases to an ASCII letter, and its white space is the
 * bytes of {@link _LEADING_SPACE} (tests/unit/pipeline/extract_test.ts checks it against
 * decoding).
 * @example
 * sniffDocumentKind(new TextEncoder().encode("  %PDF-1.7")); // "pdf"
 */
export function sniffDocumentKind(body: Uint8Array): DocumentKind | null {
  const end = Math.min(body.length, SNIFF_BYTES);
  let at = end >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (at < end && _LEADING_SPACE.has(body[at] as number)) at++;
  if (_startsWithAscii(body, at, end, "%pdf-")) return "pdf";
  if (
    _startsWithAscii(body, at, end, "<!doctype html") || _startsWithAscii(body, at, end, "<html")
  ) {
    return "html";
  }
  return null;
}

/** The kind of document a media type names, or null. */
export function documentKind(mediaType: string | null): DocumentKind | null {
  if (!mediaType) return null;
  if (HTML_TYPES.has(mediaType)) return "html";
  if (PDF_TYPES.has(mediaType)) return "pdf";
  if (TEXT_TYPES.has(mediaType)) return "text";
  if (
    mediaType === "application/json" || mediaType === "text/json" || mediaType.endsWith("+json")
  ) return "json";
  return null;
}

/**
 * Extracts the text of a fetched document.
 * @example
 * const { text, kind } = await extractDocument({ body, contentType: "text/html; charset=utf-8" });
 */
export async function extractDocument(input: ExtractInput): Promise<Extracted> {
  const extracted = await _extract(input, input.limits ?? DEFAULT_EXTRACT_LIMITS);
  const max = (input.limits ?? DEFAULT_EXTRACT_LIMITS).maxTextChars;
  if (extracted.text.length > max) {
    throw new PipelineError(
      "too_large",
      `extracted text of ${extracted.text.length} characters exceeds the cap of ${max} characters`,
    );
  }
  return extracted;
}

async function _extract(input: ExtractInput, limits: ExtractLimits): Promise<Extracted> {
  const { mediaType, charset } = parseContentType(input.contentType);
  const sniffed = sniffDocumentKind(input.body);
  // A PDF served as text/html or octet-stream is still a PDF: trust its magic bytes.
  const kind = sniffed === "pdf"
    ? "pdf"
    : documentKind(mediaType) ?? (VAGUE_TYPES.has(mediaType) ? sniffed : null);
  if (!kind) {
    throw new PipelineError(
      "unsupported_content",
      `unsupported content type ${
        mediaType ?? "(none)"
      }: only HTML, PDF, plain text and JSON are read`,
    );
  }
  if (kind === "pdf") {
    // NUL characters (some PDF fonts map glyphs to U+0000) cannot be stored by Postgres.
    const text = _withoutNul(await extractPdfText(input.body, limits));
    return {
      kind,
      mediaType: "application/pdf",
      text,
      encoding: null,
      unknownCharset: null,
      foundBy: "the PDF's text",
    };
  }
  const decoded = decodeBody(input.body, { headerCharset: charset, html: kind === "html" });
  const base = { kind, encoding: decoded.encoding, unknownCharset: decoded.unknownLabel };
  if (kind === "html") {
    const selector = input.selector?.trim() || null;
    const { text, foundBy } = selector
      ? (await loadDomPath()).extractHtmlContent(decoded.text, { selector })
      : extractDefaultHtmlContent(decoded.text);
    return {
      ...base,
      mediaType: mediaType === "application/xhtml+xml" ? mediaType : "text/html",
      text,
      foundBy,
    };
  }
  if (kind === "json") {
    return {
      ...base,
      mediaType: mediaType ?? "application/json",
      text: jsonText(decoded.text, {
        maxDepth: limits.maxJsonDepth,
        maxTextChars: limits.maxTextChars,
      }),
      foundBy: "the whole JSON document",
    };
  }
  return {
    ...base,
    mediaType: mediaType ?? "text/plain",
    text: _withoutNul(decoded.text),
    foundBy: "the whole text document",
  };
}

/** Drops U+0000, which Postgres text cannot hold (22P05); HTML5 drops it from HTML too. */
function _withoutNul(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}
