/**
 * Bytes to text: the charset comes from a byte-order mark, the Content-Type header or
 * (HTML only) a `<meta>` charset declaration in the first 1024 bytes, in that order, as
 * browsers do. Decoding never throws: invalid bytes become U+FFFD.
 * @module
 */

/** A parsed Content-Type header. */
export interface ContentType {
  /** Lower-case media type, e.g. `text/html`; null when absent or unreadable. */
  mediaType: string | null;
  /** The charset parameter as given, e.g. `ISO-8859-1`. */
  charset: string | null;
}

/**
 * Parses a Content-Type header value.
 * @example
 * parseContentType('text/html; charset="utf-8"'); // { mediaType: "text/html", charset: "utf-8" }
 */
export function parseContentType(header: string | null): ContentType {
  if (!header) return { mediaType: null, charset: null };
  const [type, ...params] = header.split(";");
  const mediaType = type?.trim().toLowerCase() || null;
  let charset: string | null = null;
  for (const param of params) {
    const m = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(param);
    if (m?.[1]) charset = m[1];
  }
  return {
    mediaType: mediaType && /^[\w.+-]+\/[\w.+-]+$/.test(mediaType) ? mediaType : null,
    charset,
  };
}

const META_CHARSET = /<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([\w.:-]+)/i;

/** The charset a BOM announces, if the bytes start with one. */
function _bomCharset(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return null;
}

/** Looks for `<meta charset=...>` or `<meta http-equiv=Content-Type content="...; charset=...">`. */
export function sniffMetaCharset(bytes: Uint8Array): string | null {
  const head = new TextDecoder("windows-1252").decode(bytes.subarray(0, 1024));
  return META_CHARSET.exec(head)?.[1] ?? null;
}

/** A `<meta>` that could be read as ASCII cannot really mean UTF-16 (HTML spec). */
function _metaLabel(label: string | null): string | null {
  return label && /^utf-16/i.test(label) ? "utf-8" : label;
}

/** A TextDecoder for a label, or null when the label is not a known encoding. */
function _decoder(label: string | null): TextDecoder | null {
  if (!label) return null;
  try {
    // Browsers decode a declared ISO-8859-1/ASCII as windows-1252; TextDecoder does the same.
    return new TextDecoder(label.trim(), { fatal: false, ignoreBOM: false });
  } catch {
    return null;
  }
}

/** Result of {@link decodeBody}. */
export interface Decoded {
  text: string;
  /** Encoding actually used (TextDecoder's canonical name). */
  encoding: string;
  /** A declared label that no decoder knows; UTF-8 was used instead. */
  unknownLabel: string | null;
}

/**
 * Decodes a body. `html` enables the `<meta>` prescan; an unknown label falls back to
 * UTF-8 (reported in `unknownLabel`).
 */
export function decodeBody(
  bytes: Uint8Array,
  options: { headerCharset: string | null; html: boolean },
): Decoded {
  // In order, the next one looked for only when none before it named a known encoding (most
  // pages declare theirs in the header: the `<meta>` prescan decodes and searches 1 KB).
  const labels = [
    () => _bomCharset(bytes),
    () => options.headerCharset,
    () => options.html ? _metaLabel(sniffMetaCharset(bytes)) : null,
  ];
  let unknownLabel: string | null = null;
  for (const labelOf of labels) {
    const label = labelOf();
    if (!label) continue;
    const decoder = _decoder(label);
    if (decoder) return { text: decoder.decode(bytes), encoding: decoder.encoding, unknownLabel };
    unknownLabel ??= label;
  }
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  return { text: utf8.decode(bytes), encoding: utf8.encoding, unknownLabel };
}
