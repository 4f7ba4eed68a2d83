/**
 * The one error type of token verification, classified so the HTTP layer can map it to a
 * status without parsing messages.
 * @module
 */

/**
 * Classes of an authentication failure:
 * - `unauthorized` (401): no usable credentials — missing, malformed, expired, badly signed,
 *   unknown key, wrong issuer or audience.
 * - `forbidden` (403): a genuine token whose holder may not do this (anon key, plain user,
 *   no or unknown role).
 * - `auth_unavailable` (503): the token could not be checked because the signing keys (JWKS)
 *   could not be loaded. Not the caller's fault, so not a 401.
 */
export type AuthErrorCode = "unauthorized" | "forbidden" | "auth_unavailable";

/** HTTP status of each {@link AuthErrorCode}. */
export const AUTH_ERROR_STATUS = {
  unauthorized: 401,
  forbidden: 403,
  auth_unavailable: 503,
} as const satisfies Record<AuthErrorCode, number>;

/**
 * A classified authentication failure. `message` is safe to return to the caller: it never
 * contains the token or key material. Details for operators go in `cause`.
 * @example
 * throw new AuthError("unauthorized", "Invalid token: signature verification failed");
 */
export class AuthError extends Error {
  /** What kind of failure this is; decides the HTTP status. */
  readonly code: AuthErrorCode;

  /** Creates an error of class `code` with a caller-safe `message`. */
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuthError";
    this.code = code;
  }

  /** The HTTP status for this error (401, 403 or 503). */
  get status(): 401 | 403 | 503 {
    return AUTH_ERROR_STATUS[this.code];
  }
}
