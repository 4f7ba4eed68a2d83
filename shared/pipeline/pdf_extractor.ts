/**
 * PDF to text with unpdf (a serverless build of Mozilla's PDF.js): all pages merged, one
 * line per text line of the PDF, so a changed paragraph shows as changed lines.
 * @module
 */
import { extractText, getDocumentProxy } from "unpdf";
import { PipelineError } from "./errors.ts";

/**
 * Extracts the text of a PDF. Rejects with a `parse` {@link PipelineError} when the
 * bytes are not a readable PDF (corrupt, encrypted).
 * @example
 * const text = await extractPdfText(bytes);
 */
export async function extractPdfText(bytes: Uint8Array): Promise<string> {
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>> | undefined;
  try {
    // PDF.js may transfer (detach) the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(bytes.slice(), { verbosity: 0 });
    const { text } = await extractText(pdf, { mergePages: true });
    return text;
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const detail = error instanceof Error ? error.message : String(error);
    const what = name === "PasswordException" ? "PDF is encrypted" : "cannot read PDF";
    throw new PipelineError("parse", `${what}: ${detail}`, { cause: error });
  } finally {
    await pdf?.loadingTask.destroy().catch(() => {});
  }
}
