/**
 * Verification of the bearer tokens the API accepts: Supabase API keys and user access
 * tokens, signed either HS256 with the project's JWT secret or ES256/RS256 with a key from
 * the project's JWKS.
 *
 * Decisions:
 * - The algorithm is taken from the token header but only from an allow-list, and each
 *   algorithm has exactly one key source: HS256 → the secret, ES256/RS256 → the JWKS. So a
 *   token "HS256-signed with the public key" is checked against the secret and fails
 *   (no algorithm confusion), and `alg: none` is refused outright.
 * - `exp` is required: a token without it would never expire. Supabase's keys carry one.
 * - `aud`: user tokens (role `authenticated`) must have the audience `audience` (default
 *   `"authenticated"`, what Supabase Auth issues). The anon and service-role keys carry no
 *   `aud`, so none is required of them; this is safe because they are told apart by the
 *   role claim, which only the holder of the secret or a project key can set.
 * - `iss` is checked only when `issuer` is configured. Give every accepted issuer: user
 *   tokens say `<SUPABASE_URL>/auth/v1`, the legacy keys `supabase` (hosted) or
 *   `supabase-demo` (local).
 * - Tokens longer than {@link MAX_TOKEN_LENGTH} are refused before any decoding.
 * @module
 */
import { decodeProtectedHeader, errors, jwtVerify, type JWTVerifyOptions } from "jose";
import type { Clock, FetchFn, Logger } from "../types.ts";
import { AuthError } from "./auth_error.ts";
import { type Caller, classifyClaims } from "./caller.ts";
import { createJwksCache, type JwksCache } from "./jwks_cache.ts";

export { AuthError, type AuthErrorCode } from "./auth_error.ts";
export type { Caller, CallerKind } from "./caller.ts";

/** Longest token accepted (characters); real Supabase tokens are about 1 KB. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** Algorithms whose keys come from the JWKS. */
const ASYMMETRIC_ALGS = ["ES256", "RS256"] as const;

/** What {@link verifyToken} needs; build it once per process (the JWKS cache hangs on it). */
export interface AuthDeps {
  /** The project's JWT secret, for HS256 tokens. */
  jwtSecret: string;
  /** `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`; without it ES256/RS256 tokens fail. */
  jwksUrl?: string;
  /** Used only to fetch the JWKS. */
  fetch: FetchFn;
  /** Time for `exp`/`nbf` checks and the JWKS cache. */
  clock: Clock;
  /** Accepted `iss` value(s); unset means `iss` is not checked. */
  issuer?: string | string[];
  /** Required `aud` of user tokens; default `"authenticated"`. */
  audience?: string;
  /** How long fetched JWKS keys are trusted; see `JWKS_DEFAULTS`. */
  jwksCacheMs?: number;
  /** Limit for one JWKS fetch; see `JWKS_DEFAULTS`. */
  jwksTimeoutMs?: number;
  /** Least time between refetches caused by an unknown `kid`; see `JWKS_DEFAULTS`. */
  jwksCooldownMs?: number;
  /** Gets warnings when the JWKS cannot be loaded. Never given tokens. */
  logger?: Logger;
}

const jwksCaches = new WeakMap<AuthDeps, JwksCache>();

/**
 * Verifies a bearer token and says who is calling. Throws an {@link AuthError}:
 * `unauthorized` for anything that is not a valid token of this project, `forbidden` for a
 * valid token without a usable role, `auth_unavailable` when the JWKS cannot be loaded.
 * Whether the caller may use an endpoint is the middleware's decision (an anon key
 * verifies fine and comes back as kind `anon`).
 * @example
 * const deps = { jwtSecret, jwksUrl, fetch, clock: () => new Date() };
 * const caller = await verifyToken(token, deps); // caller.kind === "service_role"
 */
export async function verifyToken(token: string, deps: AuthDeps): Promise<Caller> {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError(
      "unauthorized",
      `Invalid token: longer than ${MAX_TOKEN_LENGTH} characters`,
    );
  }
  if (token === "") throw new AuthError("unauthorized", "Invalid token: it is empty");

  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (error) {
    throw new AuthError("unauthorized", "Invalid token: not a JWT", { cause: error });
  }
  if (typeof alg !== "string") {
    throw new AuthError("unauthorized", "Invalid token: its header has no algorithm");
  }

  const options: JWTVerifyOptions = {
    algorithms: [alg],
    currentDate: deps.clock(),
    requiredClaims: ["exp"],
    ...(deps.issuer !== undefined ? { issuer: deps.issuer } : {}),
  };
  let payload: Record<string, unknown>;
  try {
    if (alg === "HS256") {
      ({ payload } = await jwtVerify(token, new TextEncoder().encode(deps.jwtSecret), options));
    } else if ((ASYMMETRIC_ALGS as readonly string[]).includes(alg)) {
      const jwks = _jwksFor(deps);
      ({ payload } = await jwtVerify(token, (header) => jwks.getKey(header), options));
    } else {
      throw new AuthError("unauthorized", `Invalid token: algorithm ${_safe(alg)} is not accepted`);
    }
  } catch (error) {
    throw _classify(error);
  }

  // Audience is a validity check (401), so it runs before the role decides 403s.
  if (payload.role === "authenticated") _checkAudience(payload.aud, deps.audience);
  return classifyClaims(payload);
}

/**
 * A verifier bound to `deps`, in the shape the middleware's `verify` option takes.
 * @example
 * app.use("/api/jobs/*", requireCaller({ verify: createVerifier(deps), allow: ["service_role", "admin"] }));
 */
export function createVerifier(deps: AuthDeps): (token: string) => Promise<Caller> {
  return (token) => verifyToken(token, deps);
}

function _jwksFor(deps: AuthDeps): JwksCache {
  if (deps.jwksUrl === undefined || deps.jwksUrl === "") {
    throw new AuthError(
      "unauthorized",
      "Invalid token: asymmetric algorithms are not accepted (no JWKS configured)",
    );
  }
  let cache = jwksCaches.get(deps);
  if (cache === undefined) {
    cache = createJwksCache({
      url: deps.jwksUrl,
      fetch: deps.fetch,
      clock: deps.clock,
      ...(deps.jwksCacheMs !== undefined ? { cacheMs: deps.jwksCacheMs } : {}),
      ...(deps.jwksTimeoutMs !== undefined ? { timeoutMs: deps.jwksTimeoutMs } : {}),
      ...(deps.jwksCooldownMs !== undefined ? { cooldownMs: deps.jwksCooldownMs } : {}),
      ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    });
    jwksCaches.set(deps, cache);
  }
  return cache;
}

function _checkAudience(aud: unknown, expected = "authenticated"): void {
  const ok = aud === expected || (Array.isArray(aud) && aud.includes(expected));
  if (!ok) throw new AuthError("unauthorized", "Invalid token: wrong audience");
}

/** Maps jose's errors to caller-safe messages; jose's own messages are not shown. */
function _classify(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const because = (message: string) => new AuthError("unauthorized", message, { cause: error });
  if (error instanceof errors.JWTExpired) return because("Invalid token: it has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return because("Invalid token: it is not valid yet");
      case "iss":
        return because("Invalid token: wrong issuer");
      case "exp":
        return because("Invalid token: it has no valid expiry");
      default:
        return because(`Invalid token: claim ${_safe(error.claim)} is invalid`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return because("Invalid token: signature verification failed");
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return because("Invalid token: its algorithm is not accepted");
  }
  if (error instanceof errors.JOSEError) return because("Invalid token: not a well-formed JWT");
  // A programming or runtime error, not a verdict about the token: let the app answer 500.
  throw error;
}

/** Algorithm names and claim names come from the token: show them only if short and plain. */
function _safe(value: string): string {
  return /^[A-Za-z0-9_]{1,20}$/.test(value) ? value : "(unprintable)";
}
