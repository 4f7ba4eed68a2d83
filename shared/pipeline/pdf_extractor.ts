/**
 * PDF to text with unpdf (a serverless build of Mozilla's PDF.js): all pages merged, one
 * line per text line of the PDF, so a changed paragraph shows as changed lines. unpdf is
 * imported on the first PDF only.
 *
 * Bounded, because a PDF's size says little about its cost (issue 11: a 510 KB PDF
 * inflating to 500 MB took 1.6 GB; 10,000 pages took 26 s and 1.3 GB; 60,000 pages killed
 * the worker):
 * - **inflated bytes**: PDF.js has no limit of its own on what a FlateDecode stream
 *   inflates to (it decodes a content stream whole when a page is read), so before PDF.js
 *   sees the file, every FlateDecode stream is inflated by a `DecompressionStream` fed
 *   4 KB at a time, whose output is counted and dropped as it is read; past `maxInflatedBytes` in all, the
 *   PDF is refused (`too_large`) without keeping any inflated byte;
 * - **pages**: a page count above `maxPages` is refused (`too_large`): the page tree's
 *   `/Count` read by the same scan (in the file and in inflated object streams), before
 *   PDF.js walks the tree, and PDF.js's `numPages` before any page is parsed;
 * - **text**: pages are read one at a time (unpdf's `extractText` reads them all at once),
 *   each page's objects freed after it; extraction stops as soon as the text passes
 *   `maxTextChars` (`too_large`) or `timeoutMs` passes (`timeout`), checked after every
 *   page, and the event loop gets a turn between pages (other sources' I/O goes on).
 * Not pre-scanned: LZWDecode streams (rare since PDF 1.2) and encrypted PDFs' streams
 * (their bytes only inflate after decryption); the page, text and time caps still apply.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import type { getDocumentProxy } from "unpdf";
import { PipelineError } from "./errors.ts";
import { errorMessage } from "../errors.ts";

/** Limits of {@link extractPdfText}. */
export interface PdfLimits {
  /** Most bytes all FlateDecode streams may inflate to, together. */
  maxInflatedBytes: number;
  /** Most pages. */
  maxPages: number;
  /** Longest extracted text, in characters. */
  maxTextChars: number;
  /** Longest extraction, in ms (between pages). */
  timeoutMs: number;
}

/** The defaults (FETCH_PDF_MAX_INFLATED_BYTES, FETCH_PDF_MAX_PAGES, FETCH_MAX_TEXT_CHARS). */
export const DEFAULT_PDF_LIMITS: PdfLimits = {
  maxInflatedBytes: 32 * 1024 * 1024,
  maxPages: 2_000,
  maxTextChars: 4_000_000,
  timeoutMs: 20_000,
};

/** The functions of unpdf the extractor uses. */
interface _Unpdf {
  getDocumentProxy: typeof getDocumentProxy;
}

/**
 * unpdf (pdf.js, several MB of code) is loaded on the first PDF, not when the pipeline
 * starts: a function invocation that fetches no PDF pays neither its start-up time nor
 * its memory. A failed load is not remembered, so the next PDF tries again.
 */
const _loadUnpdf: () => Promise<_Unpdf> = lazyImport(
  () => import("unpdf"),
  (error) =>
    new PipelineError("internal", `cannot load the PDF reader: ${errorMessage(error)}`, {
      cause: error,
    }),
);

const _yield = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** What {@link scanPdf} found. */
export interface PdfScan {
  /** Bytes all FlateDecode streams inflate to, together. */
  inflatedBytes: number;
  /** Largest page-tree `/Count` written in the file or in its object streams (0: none). */
  pageCount: number;
}

const _COUNT = /\/Count\s+(\d{1,9})/g;

function _maxCount(text: string, max: number): number {
  for (const m of text.matchAll(_COUNT)) max = Math.max(max, Number(m[1]));
  return max;
}

/**
 * Inflates every FlateDecode stream of the file, counting and dropping the output, and
 * throws `too_large` once the total passes `maxBytes`; reads the page tree's `/Count`
 * from the file and from inflated object streams on the way (PDF.js walks the whole page
 * tree when it opens a file: 60,000 pages cost 335 MB before a page was read). A stream
 * that does not inflate is left to PDF.js (it reports corrupt files better).
 */
export async function scanPdf(bytes: Uint8Array, maxBytes: number): Promise<PdfScan> {
  const text = new TextDecoder("latin1").decode(bytes);
  const scan: PdfScan = { inflatedBytes: 0, pageCount: 0 };
  let from = 0;
  for (;;) {
    const at = text.indexOf("stream", from);
    if (at < 0) break;
    from = at + 6;
    if (text.startsWith("endstream", at - 3)) continue;
    let start = at + 6;
    if (text[start] === "\r") start++;
    if (text[start] !== "\n") continue;
    start++;
    const dictFrom = Math.max(0, text.lastIndexOf("obj", at));
    const dict = text.slice(Math.max(dictFrom, at - 4096), at);
    let end = text.indexOf("endstream", start);
    if (end < 0) end = text.length;
    scan.pageCount = _maxCount(text.slice(from, start), _maxCount(dict, scan.pageCount));
    from = end;
    if (!/\/FlateDecode\b|\/Fl\b/.test(dict)) continue;
    const objects = /\/ObjStm\b/.test(dict);
    // The end-of-line before `endstream` is not stream data.
    let dataEnd = end;
    while (dataEnd > start && (bytes[dataEnd - 1] === 0x0a || bytes[dataEnd - 1] === 0x0d)) {
      dataEnd--;
    }
    scan.inflatedBytes = await _inflatedSize(
      bytes.subarray(start, dataEnd),
      scan.inflatedBytes,
      maxBytes,
      objects ? (chunk) => (scan.pageCount = _maxCount(chunk, scan.pageCount)) : undefined,
    );
    await _yield();
  }
  // Objects outside streams (the usual place of the page tree).
  scan.pageCount = _maxCount(text.replace(/stream[\r\n][\s\S]*?endstream/g, ""), scan.pageCount);
  return scan;
}

/**
 * Adds what one zlib stream inflates to onto `total`; throws past `maxBytes`. Deno's
 * `DecompressionStream` is fed 4 KB at a time and its output is counted and dropped as it
 * is read. Fed in one piece, it refuses the whole input when bytes follow the end of the
 * zlib stream ("failed to write whole buffer"), so a bomb followed by junk would count as
 * nothing; in 4 KB pieces only the last piece is refused, which leaves at most ~4 MB
 * (4 KB at deflate's 1032:1 ratio) uncounted. (fflate's streaming inflater was tried
 * first: same counting, but 67 MB more RSS than this on a 500 MB bomb.)
 */
async function _inflatedSize(
  data: Uint8Array,
  total: number,
  maxBytes: number,
  onText?: (latin1: string) => void,
): Promise<number> {
  const step = 4096;
  const inflater = new DecompressionStream("deflate");
  const writer = inflater.writable.getWriter();
  const reader = inflater.readable.getReader();
  const decoder = new TextDecoder("latin1");
  const writing = (async () => {
    for (let at = 0; at < data.byteLength; at += step) {
      await writer.write(data.slice(at, at + step));
    }
    await writer.close();
  })();
  writing.catch(() => {}); // a corrupt stream shows on the reader too
  let sum = total;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return sum;
      sum += value.byteLength;
      if (sum > maxBytes) {
        throw new PipelineError(
          "too_large",
          `PDF streams inflate to more than the cap of ${maxBytes} bytes`,
        );
      }
      onText?.(decoder.decode(value));
    }
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    return sum; // corrupt or trailing bytes: what inflated so far counts, PDF.js judges the rest
  } finally {
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
  }
}

/**
 * Extracts the text of a PDF within `limits`. Rejects with a `parse` {@link PipelineError}
 * when the bytes are not a readable PDF (corrupt, encrypted), `too_large` past a cap,
 * `timeout` past the time limit.
 * @example
 * const text = await extractPdfText(bytes);
 */
export async function extractPdfText(
  bytes: Uint8Array,
  limits: PdfLimits = DEFAULT_PDF_LIMITS,
): Promise<string> {
  const startedAt = performance.now();
  const scan = await scanPdf(bytes, limits.maxInflatedBytes);
  if (scan.pageCount > limits.maxPages) {
    throw new PipelineError(
      "too_large",
      `PDF has ${scan.pageCount} pages, more than the cap of ${limits.maxPages}`,
    );
  }
  const { getDocumentProxy } = await _loadUnpdf();
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>> | undefined;
  try {
    try {
      // PDF.js may transfer (detach) the buffer it is given: hand it a copy.
      pdf = await getDocumentProxy(bytes.slice(), {
        verbosity: 0,
        disableFontFace: true,
      });
    } catch (error) {
      throw _parseError(error);
    }
    if (pdf.numPages > limits.maxPages) {
      throw new PipelineError(
        "too_large",
        `PDF has ${pdf.numPages} pages, more than the cap of ${limits.maxPages}`,
      );
    }
    const texts: string[] = [];
    let chars = 0;
    for (let n = 1; n <= pdf.numPages; n++) {
      let pageText: string;
      try {
        const page = await pdf.getPage(n);
        const content = await page.getTextContent();
        pageText = content.items
          .filter((item) => "str" in item && item.str != null)
          .map((item) => {
            const { str, hasEOL } = item as { str: string; hasEOL: boolean };
            return str + (hasEOL ? "\n" : "");
          })
          .join("");
        page.cleanup();
      } catch (error) {
        throw _parseError(error);
      }
      chars += pageText.length + 1;
      if (chars > limits.maxTextChars) {
        throw new PipelineError(
          "too_large",
          `extracted text exceeds the cap of ${limits.maxTextChars} characters (at page ${n} of ${pdf.numPages})`,
        );
      }
      texts.push(pageText);
      if (performance.now() - startedAt > limits.timeoutMs) {
        throw new PipelineError(
          "timeout",
          `PDF extraction took more than ${limits.timeoutMs} ms (at page ${n} of ${pdf.numPages})`,
        );
      }
      await _yield();
    }
    // As unpdf's extractText({ mergePages: true }), so stored hashes stay comparable.
    return texts.join("\n").replace(/[^\S\n]+/g, " ").replace(/ ?\n ?/g, "\n").replace(
      /\n{3,}/g,
      "\n\n",
    );
  } finally {
    await pdf?.loadingTask.destroy().catch(() => {});
  }
}

function _parseError(error: unknown): PipelineError {
  if (error instanceof PipelineError) return error;
  const name = error instanceof Error ? error.name : "Error";
  const detail = errorMessage(error);
  const what = name === "PasswordException" ? "PDF is encrypted" : "cannot read PDF";
  return new PipelineError("parse", `${what}: ${detail}`, { cause: error });
}
