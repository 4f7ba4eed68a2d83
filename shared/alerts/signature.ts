/**
 * Webhook signatures: `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. The
 * body carries a `timestamp` (unix seconds), repeated in `X-Signature-Timestamp`, so the
 * signature covers it and receivers can refuse replays. The real store signs inside the
 * database (secrets never leave it); this module is what receivers, tests and the
 * in-memory store use.
 * @module
 */

/** Header carrying the signature. */
export const SIGNATURE_HEADER = "X-Signature-256";
/** Header repeating the signed body's `timestamp` (unix seconds). */
export const TIMESTAMP_HEADER = "X-Signature-Timestamp";

const ENCODER = new TextEncoder();

/** Hex HMAC-SHA256 of `body` (UTF-8) keyed with `secret` (UTF-8). */
export async function hmacSha256Hex(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    ENCODER.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, ENCODER.encode(body)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Options of {@link verifyWebhookSignature}. */
export interface VerifyOptions {
  /** Current time, to check the timestamp. */
  now?: Date;
  /** Oldest accepted timestamp age; default 300 s. */
  toleranceSeconds?: number;
}

/**
 * What a receiver does: checks the signature header against the raw body and the
 * secret, then that the body's `timestamp` equals the timestamp header and is recent.
 * Returns null when valid, else the reason.
 * @example
 * const reason = await verifyWebhookSignature(rawBody, req.headers, secret);
 * if (reason) return new Response(reason, { status: 401 });
 */
export async function verifyWebhookSignature(
  rawBody: string,
  headers: Headers,
  secret: string,
  options: VerifyOptions = {},
): Promise<string | null> {
  const header = headers.get(SIGNATURE_HEADER);
  if (!header?.startsWith("sha256=")) return "missing or malformed signature header";
  const expected = await hmacSha256Hex(secret, rawBody);
  if (!_timingSafeEqual(header.slice("sha256=".length), expected)) {
    return "signature does not match";
  }
  let timestamp: unknown;
  try {
    timestamp = (JSON.parse(rawBody) as { timestamp?: unknown }).timestamp;
  } catch {
    return "body is not JSON";
  }
  if (typeof timestamp !== "number" || !Number.isInteger(timestamp)) {
    return "body has no integer timestamp";
  }
  if (headers.get(TIMESTAMP_HEADER) !== String(timestamp)) {
    return "timestamp header does not match the signed body";
  }
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance) return "timestamp is outside the tolerance";
  return null;
}

function _timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
