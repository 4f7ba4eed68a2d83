/**
 * The key of a check's extracted text, stored beside the source's hash (`sources.text_key`),
 * so that a check whose page extracts to the same text as the last one skips normalisation
 * and the change fingerprint: most checks of a change run find their page unchanged, and the
 * noise of a page (scripts, session links, footers' clocks) is mostly outside the text the
 * extractor keeps.
 *
 * The key is the 64-bit xxHash (XXH64, xxhash-wasm) of the extracted text together with
 * everything else that shapes the hash it normalises to: {@link TEXT_KEY_VERSION} (the
 * normaliser's and the fingerprint's code), the source's ignore patterns, and that hash itself.
 * A check computes the key of its text with the source's current `last_hash`: equal to the
 * stored key only when the stored key's text normalised to that very hash, so a `last_hash`
 * moved by any other writer (or a key written by a check whose change was not recorded) is a
 * miss, never a wrong answer. The stored value is `<key>:<chars>` (16 hex digits), chars being
 * the normalised text's length (what the job reports as the monitored text's size).
 *
 * Why not SHA-256 (the key until 2026-12-02, 64 hex digits; such keys now miss once): the key
 * is computed for every check, and `crypto.subtle.digest` of a 38 KB text cost 73–190 µs of
 * the worker's main thread in Deno 2.1.4 (the async op, the copy and the encoding), 6–10 % of
 * a change run's main-thread CPU; XXH64 in WebAssembly takes 14–39 µs (docs/benchmarks.md,
 * session 12). A key only ever lets a check skip work for its own source, compared with that
 * source's last key: two different texts of one source sharing a key by chance has a
 * probability of 2^-64 per check. A site could craft two texts whose XXH64 keys collide (it is
 * not a cryptographic hash), and so make one change of its own page go unrecorded until its
 * text changes again; a site can hide its changes from any monitor more simply by answering
 * the monitor differently, so the key is not where that is defended, and no other source is
 * touched by it.
 *
 * The text is hashed in slices of {@link SLICE_CHARS} characters through the streaming
 * hasher, so the WebAssembly memory it encodes into (which never shrinks) stays under 200 KB
 * whatever the text's length.
 * @module
 */
import xxhash from "xxhash-wasm";
import { lazyImport } from "../lazy_import.ts";

/** Characters hashed per update: UTF-8 needs at most 3 bytes for each UTF-16 unit. */
const SLICE_CHARS = 64 * 1024;

/** The hasher, instantiated on the first key (its WebAssembly module is ~2 KB). */
const loadHasher = lazyImport(() => xxhash());

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
 * await textKey(extracted.text, source.ignore_patterns, source.last_hash); // 16 hex digits
 */
export async function textKey(
  extractedText: string,
  ignorePatterns: readonly string[],
  hash: string,
): Promise<string> {
  const { create64 } = await loadHasher();
  const patterns = ignorePatterns.length === 0 ? "" : JSON.stringify(ignorePatterns);
  const hasher = create64().update(`${TEXT_KEY_VERSION}\u0000${hash}\u0000${patterns}\u0000`);
  for (let at = 0; at < extractedText.length;) {
    let end = Math.min(at + SLICE_CHARS, extractedText.length);
    // A slice never ends between the two halves of a surrogate pair (each would encode as
    // U+FFFD): the key is of the text's real UTF-8.
    const last = extractedText.charCodeAt(end - 1);
    if (end < extractedText.length && last >= 0xd800 && last <= 0xdbff) end++;
    hasher.update(extractedText.slice(at, end));
    at = end;
  }
  return hasher.digest().toString(16).padStart(16, "0");
}

/** The stored form (`sources.text_key`) of a key and the normalised text's length. */
export function storedTextKey(key: string, chars: number): string {
  return `${key}:${chars}`;
}

/** A stored text key's parts, or null when there is none (or it is not one). */
export function parseTextKey(
  stored: string | null | undefined,
): { key: string; chars: number } | null {
  // A key of the SHA-256 era (64 hex digits) has no ":" at 16: a miss, once.
  if (!stored || stored.length < 18 || stored.charCodeAt(16) !== 58) return null; // ":"
  const chars = Number(stored.slice(17));
  return Number.isSafeInteger(chars) && chars > 0 ? { key: stored.slice(0, 16), chars } : null;
}
