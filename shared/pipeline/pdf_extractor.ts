/**
 * PDF to text with unpdf (a serverless build of Mozilla's PDF.js): all pages merged, one
 * line per text line of the PDF, so a changed paragraph shows as changed lines. unpdf is
 * imported on the first PDF only.
 * @module
 */
import type { extractText, getDocumentProxy } from "unpdf";
import { PipelineError } from "./errors.ts";
import { errorMessage } from "../errors.ts";

/** The two functions of unpdf the extractor uses. */
interface _Unpdf {
  getDocumentProxy: typeof getDocumentProxy;
  extractText: typeof extractText;
}

let _loading: Promise<_Unpdf> | null = null;

/**
 * unpdf (pdf.js, several MB of code) is loaded on the first PDF, not when the pipeline
 * starts: a function invocation that fetches no PDF pays neither its start-up time nor
 * its memory. A failed load is not remembered, so the next PDF tries again.
 */
function _loadUnpdf(): Promise<_Unpdf> {
  _loading ??= import("unpdf").catch((error) => {
    _loading = null;
    const detail = errorMessage(error);
    throw new PipelineError("internal", `cannot load the PDF reader: ${detail}`, {
      cause: error,
    });
  });
  return _loading;
}

/**
 * Extracts the text of a PDF. Rejects with a `parse` {@link PipelineError} when the
 * bytes are not a readable PDF (corrupt, encrypted).
 * @example
 * const text = await extractPdfText(bytes);
 */
export async function extractPdfText(bytes: Uint8Array): Promise<string> {
  const { extractText, getDocumentProxy } = await _loadUnpdf();
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>> | undefined;
  try {
    // PDF.js may transfer (detach) the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(bytes.slice(), { verbosity: 0 });
    const { text } = await extractText(pdf, { mergePages: true });
    return text;
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const detail = errorMessage(error);
    const what = name === "PasswordException" ? "PDF is encrypted" : "cannot read PDF";
    throw new PipelineError("parse", `${what}: ${detail}`, { cause: error });
  } finally {
    await pdf?.loadingTask.destroy().catch(() => {});
  }
}
