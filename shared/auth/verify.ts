/**
 * Who is calling, from the credentials a request carries, in every key world of a Supabase
 * project:
 * - new API keys: `apikey: sb_secret_…` (the service role) or `sb_publishable_…` (anon),
 *   compared in constant time, and user access tokens signed with the project's asymmetric
 *   signing keys (ES256/RS256, verified through the JWKS) — both by Supabase's own
 *   `@supabase/server` (`verifyCredentials`, the core of its Hono adapter);
 * - legacy keys, while the project has them: the anon / service-role JWTs and HS256 user
 *   tokens signed with the JWT secret. `@supabase/server` verifies HS256 only against a
 *   symmetric key published in the JWKS with a `kid`, which hosted projects do not publish
 *   and legacy tokens do not carry, so those are checked here: the legacy keys by constant-
 *   time comparison with SUPABASE_SERVICE_ROLE_KEY / SUPABASE_ANON_KEY, other HS256 tokens
 *   with the JWT secret (when the function is given one).
 *
 * Decisions: `exp` is required of every JWT; user tokens must have `aud` = `authenticated`
 * and a `sub`; `alg: none` and unknown algorithms are refused; a token or key longer than
 * {@link MAX_TOKEN_LENGTH} is refused unread. Error messages never contain the credential.
 * @module
 */
import { verifyCredentials } from "@supabase/server/core";
import { decodeProtectedHeader, errors, type JSONWebKeySet, jwtVerify } from "jose";
import type { Clock } from "../types.ts";
import { AuthError } from "./auth_error.ts";
import { type Caller, classifyClaims } from "./caller.ts";

export { AuthError, type AuthErrorCode } from "./auth_error.ts";
export type { Caller, CallerKind } from "./caller.ts";

/** Longest token or key accepted (characters); real Supabase tokens are about 1 KB. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** What a request carries: the bearer token and the `apikey` header, each null if absent. */
export interface Credentials {
  token: string | null;
  apikey: string | null;
}

/** What {@link createVerifier} needs; build it once per process. */
export interface AuthDeps {
  /** SUPABASE_URL (the JWKS defaults to `<url>/auth/v1/.well-known/jwks.json`). */
  url: string;
  /** SUPABASE_SECRET_KEYS: named secret keys (`{"default": "sb_secret_…"}`); may be empty. */
  secretKeys?: Record<string, string>;
  /** SUPABASE_PUBLISHABLE_KEYS: named publishable keys; may be empty. */
  publishableKeys?: Record<string, string>;
  /** SUPABASE_JWKS (inline key set) or the URL to fetch it from; null: no user JWTs. */
  jwks?: JSONWebKeySet | URL | null;
  /** Legacy keys, present only while the project has them enabled. */
  legacy?: {
    /** SUPABASE_SERVICE_ROLE_KEY. */
    serviceRoleKey?: string;
    /** SUPABASE_ANON_KEY. */
    anonKey?: string;
    /** SUPABASE_JWT_SECRET / JWT_SECRET: verifies other HS256 tokens (legacy user tokens). */
    jwtSecret?: string;
  };
  /** Required `aud` of user tokens; default `"authenticated"`. */
  audience?: string;
  /** Time for the legacy tokens' `exp`/`nbf` checks; default the real time. */
  clock?: Clock;
}

/**
 * A verifier bound to `deps`: says who is calling or throws an {@link AuthError}
 * (`unauthorized` for anything that is not a valid credential of this project,
 * `forbidden` for a valid one without a usable role, `auth_unavailable` when the signing
 * keys cannot be loaded). Whether the caller may use an endpoint is the middleware's
 * decision (a publishable key verifies fine and comes back as kind `anon`).
 * @example
 * const verify = createVerifier({ url, secretKeys: { default: sk }, jwks: { keys: [] } });
 * (await verify({ token: null, apikey: sk })).kind; // "service_role"
 */
export function createVerifier(deps: AuthDeps): (credentials: Credentials) => Promise<Caller> {
  const secretKeys = deps.secretKeys ?? {};
  const publishableKeys = deps.publishableKeys ?? {};
  const env = {
    url: deps.url,
    secretKeys,
    publishableKeys,
    jwks: deps.jwks === undefined
      ? new URL(`${deps.url}/auth/v1/.well-known/jwks.json`)
      : deps.jwks,
  };
  const audience = deps.audience ?? "authenticated";
  const legacy = deps.legacy ?? {};
  const hasSecret = Object.keys(secretKeys).length > 0;
  const hasPublishable = Object.keys(publishableKeys).length > 0;

  return async ({ token, apikey }) => {
    for (const value of [token, apikey]) {
      if (value !== null && value.length > MAX_TOKEN_LENGTH) {
        throw new AuthError(
          "unauthorized",
          `Invalid credentials: longer than ${MAX_TOKEN_LENGTH} characters`,
        );
      }
    }
    // Supabase's gateway reads a legacy JWT sent only as `apikey` as the bearer token.
    if (token === null && apikey !== null && _isJwt(apikey)) {
      token = apikey;
      apikey = null;
    }
    if (token === "") throw new AuthError("unauthorized", "Invalid token: it is empty");
    if (token === null && apikey === null) {
      throw new AuthError(
        "unauthorized",
        "Missing credentials: send apikey or Authorization: Bearer <token>",
      );
    }

    // 1. A secret key in `apikey` (the bearer may carry the same key, as supabase-js sends it).
    if (apikey !== null && hasSecret) {
      const { data } = await verifyCredentials({ token: null, apikey }, { auth: "secret:*", env });
      if (data !== null) {
        return { kind: "service_role", subject: null, role: "service_role", claims: {} };
      }
    }
    // 2. Legacy JWTs (HS256).
    if (token !== null && _isJwt(token) && _alg(token) === "HS256") {
      return await _verifyLegacy(token, legacy, audience, deps.clock);
    }
    // 3. A user access token (asymmetric, via the JWKS), else a publishable key.
    const modes: Array<"user" | "publishable:*"> = [];
    if (token !== null && !token.startsWith("sb_")) modes.push("user");
    if (apikey !== null && hasPublishable) modes.push("publishable:*");
    if (modes.length === 0) {
      throw new AuthError(
        "unauthorized",
        apikey !== null
          ? "Invalid API key: it is not a key of this project"
          : "Invalid token: an API key belongs in the apikey header",
      );
    }
    if (modes[0] === "user" && env.jwks === null) {
      throw new AuthError(
        "unauthorized",
        "Invalid token: asymmetric algorithms are not accepted (no JWKS configured)",
      );
    }
    const { data, error } = await verifyCredentials({ token, apikey }, {
      auth: modes,
      env,
      audience,
    });
    if (error !== null) throw _fromLibrary(error);
    if (data.authMode === "publishable") {
      return { kind: "anon", subject: null, role: "anon", claims: {} };
    }
    const claims = data.jwtClaims as unknown as Record<string, unknown>;
    if (typeof claims.exp !== "number") {
      throw new AuthError("unauthorized", "Invalid token: it has no valid expiry");
    }
    return classifyClaims(claims);
  };
}

function _isJwt(value: string): boolean {
  return /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/.test(value);
}

function _alg(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two strings (HMAC both with a fresh key, compare digests). */
async function _sameKey(a: string, b: string): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([
    crypto.subtle.sign("HMAC", key, enc.encode(a)),
    crypto.subtle.sign("HMAC", key, enc.encode(b)),
  ]);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i]! ^ v[i]!;
  return diff === 0;
}

async function _verifyLegacy(
  token: string,
  legacy: NonNullable<AuthDeps["legacy"]>,
  audience: string,
  clock: Clock | undefined,
): Promise<Caller> {
  if (legacy.serviceRoleKey !== undefined && await _sameKey(token, legacy.serviceRoleKey)) {
    return {
      kind: "service_role",
      subject: null,
      role: "service_role",
      claims: { role: "service_role" },
    };
  }
  if (legacy.anonKey !== undefined && await _sameKey(token, legacy.anonKey)) {
    return { kind: "anon", subject: null, role: "anon", claims: { role: "anon" } };
  }
  if (legacy.jwtSecret === undefined) {
    throw new AuthError(
      "unauthorized",
      "Invalid token: legacy JWT keys are not enabled on this project",
    );
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(legacy.jwtSecret), {
      algorithms: ["HS256"],
      requiredClaims: ["exp"],
      ...(clock !== undefined ? { currentDate: clock() } : {}),
    }));
  } catch (error) {
    throw _classifyJose(error);
  }
  if (payload.role === "authenticated") {
    const aud = payload.aud;
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) {
      throw new AuthError("unauthorized", "Invalid token: wrong audience");
    }
  }
  return classifyClaims(payload);
}

/** Maps @supabase/server's errors to ours; its messages name no credential. */
function _fromLibrary(error: { code: string; message: string }): AuthError {
  const message = error.message.replace(/^\[@supabase\/server\]\s*/, "");
  switch (error.code) {
    case "JWKS_FETCH_FAILED":
    case "JWKS_NOT_CONFIGURED":
      return new AuthError(
        "auth_unavailable",
        "Cannot verify token: signing keys are unavailable",
        {
          cause: error,
        },
      );
    case "INVALID_JWT":
      return new AuthError("unauthorized", `Invalid token: ${_reason(message)}`, { cause: error });
    case "INVALID_API_KEY":
      return new AuthError("unauthorized", "Invalid API key: it is not a key of this project", {
        cause: error,
      });
    default:
      return new AuthError("unauthorized", "Invalid credentials", { cause: error });
  }
}

/** "The JWT … failed verification: the token has expired." → "the token has expired". */
function _reason(message: string): string {
  const i = message.indexOf(": ");
  const reason = (i >= 0 ? message.slice(i + 2) : message).replace(/\.$/, "");
  return /^[\w "'()/,.-]{1,200}$/.test(reason) ? reason : "verification failed";
}

/** Maps jose's errors (legacy tokens) to caller-safe messages. */
function _classifyJose(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const because = (message: string) => new AuthError("unauthorized", message, { cause: error });
  if (error instanceof errors.JWTExpired) return because("Invalid token: it has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return because("Invalid token: it is not valid yet");
    if (error.claim === "exp") return because("Invalid token: it has no valid expiry");
    return because("Invalid token: a claim is invalid");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return because("Invalid token: signature verification failed");
  }
  if (error instanceof errors.JOSEError) return because("Invalid token: not a well-formed JWT");
  throw error;
}
