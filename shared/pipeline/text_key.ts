/**
 * The key of a check's extracted text, stored beside the source's hash (`sources.text_key`),
 * so that a check whose page extracts to the same text as the last one skips normalisation
 * and the change fingerprint: most checks of a change run find their page unchanged, and the
 * noise of a page (scripts, session links, footers' clocks) is mostly outside the text the
 * extractor keeps.
 *
 * The key is the SHA-256 of the extracted text together with everything else that shapes the
 * hash it normalises to: {@link TEXT_KEY_VERSION} (the normaliser's and the fingerprint's
 * code), the source's ignore patterns, and that hash itself. A check computes the key of its
 * text with the source's current `last_hash`: equal to the stored key only when the stored
 * key's text normalised to that very hash, so a `last_hash` moved by any other writer (or a
 * key written by a check whose change was not recorded) is a miss, never a wrong answer.
 * The stored value is `<key>:<chars>`, chars being the normalised text's length (what the
 * job reports as the monitored text's size).
 * @module
 */
import { sha256Hex } from "./detect.ts";

/**
 * Version of what turns an extracted text into its hash: normalise.ts, the ignore-pattern
 * engine, detect.ts's `changeFingerprint` and `sha256Hex`. Bump it with any change of their
 * output: every stored key then misses once (the next check normalises and stores a new one).
 * tests/unit/pipeline/text_key_test.ts fails when their output changes under this version.
 */
export const TEXT_KEY_VERSION = 1;

/**
 * The key of an extracted text that normalises to `hash` under the source's ignore patterns.
 * @example
 * await textKey(extracted.text, source.ignore_patterns, source.last_hash); // 64 hex digits
 */
export function textKey(
  extractedText: string,
  ignorePatterns: readonly string[],
  hash: string,
): Promise<string> {
  const patterns = ignorePatterns.length === 0 ? "" : JSON.stringify(ignorePatterns);
  return sha256Hex(`${TEXT_KEY_VERSION}\u0000${hash}\u0000${patterns}\u0000${extractedText}`);
}

/** The stored form (`sources.text_key`) of a key and the normalised text's length. */
export function storedTextKey(key: string, chars: number): string {
  return `${key}:${chars}`;
}

/** A stored text key's parts, or null when there is none (or it is not one). */
export function parseTextKey(
  stored: string | null | undefined,
): { key: string; chars: number } | null {
  if (!stored || stored.length < 66 || stored.charCodeAt(64) !== 58) return null; // ":"
  const chars = Number(stored.slice(65));
  return Number.isSafeInteger(chars) && chars > 0 ? { key: stored.slice(0, 64), chars } : null;
}
