/**
 * Hono middleware that admits only the listed kinds of caller and puts the verified caller
 * in the context as `caller`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { AuthError, type AuthErrorCode } from "./auth_error.ts";
import type { Caller, CallerKind } from "./caller.ts";
import { type Credentials, MAX_TOKEN_LENGTH } from "./verify.ts";

/** Hono environment of routes behind {@link requireCaller}: `c.get("caller")` is typed. */
export type AuthEnv = { Variables: { caller: Caller } };

/** Options of {@link requireCaller}. */
export interface RequireCallerOptions {
  /** Verifies the request's credentials, e.g. `createVerifier(deps)`; throws `AuthError`. */
  verify: (credentials: Credentials) => Promise<Caller>;
  /** Kinds of caller that may pass; everyone else gets 403. */
  allow: CallerKind[];
}

/**
 * The refusal {@link requireCaller} throws: an `HTTPException` (so `onError` treats it like
 * any other) with the machine-readable `code` for the error body and the `AuthError` as
 * `cause`. Its `getResponse()` carries `WWW-Authenticate` on 401.
 */
export class AuthHttpException extends HTTPException {
  /** `unauthorized` (401), `forbidden` (403) or `auth_unavailable` (503). */
  readonly code: AuthErrorCode;

  /** Wraps `error`; `headers` go on the exception's response. */
  constructor(error: AuthError, headers: Headers) {
    super(error.status, {
      message: error.message,
      cause: error,
      res: new Response(error.message, { status: error.status, headers }),
    });
    this.name = "AuthHttpException";
    this.code = error.code;
  }
}

// "Bearer" + separator + the longest token we accept; longer headers are refused unread.
const MAX_HEADER_LENGTH = MAX_TOKEN_LENGTH + 64;
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Requires credentials of an allowed kind of caller: an `apikey` header (a secret or
 * publishable key, or a legacy key) and/or `Authorization: Bearer <token>`.
 * Refusals are {@link AuthHttpException}s (an `HTTPException` with `code` =
 * `unauthorized`, `forbidden` or `auth_unavailable`, for the app's error body): 401 with
 * `WWW-Authenticate: Bearer …` for missing or invalid tokens, 403 for callers not in
 * `allow`, 503 when the signing keys cannot be loaded.
 * @example
 * app.post("/jobs/daily-fetch",
 *   requireCaller({ verify: createVerifier(deps), allow: ["service_role", "admin"] }),
 *   (c) => c.json({ by: c.get("caller").kind }));
 */
export function requireCaller(options: RequireCallerOptions): MiddlewareHandler<AuthEnv> {
  const allowed = new Set<CallerKind>(options.allow);
  return async (c, next) => {
    let caller: Caller;
    try {
      caller = await options.verify(
        _credentials(c.req.header("Authorization"), c.req.header("apikey")),
      );
      if (!allowed.has(caller.kind)) {
        throw new AuthError(
          "forbidden",
          `Caller not allowed: requires ${[...allowed].join(" or ")}`,
        );
      }
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      const headers = new Headers();
      if (error.status === 401) {
        // RFC 6750: no error attribute when the request had no credentials at all.
        const value = c.req.header("Authorization") === undefined &&
            c.req.header("apikey") === undefined
          ? "Bearer"
          : 'Bearer error="invalid_token"';
        headers.set("WWW-Authenticate", value);
        c.header("WWW-Authenticate", value);
      }
      throw new AuthHttpException(error, headers);
    }
    c.set("caller", caller);
    await next();
  };
}

function _credentials(authorization: string | undefined, apikey: string | undefined): Credentials {
  if (apikey !== undefined && apikey.length > MAX_HEADER_LENGTH) {
    throw new AuthError("unauthorized", "Invalid apikey header: too long");
  }
  const key = apikey === undefined || apikey.trim() === "" ? null : apikey.trim();
  if (authorization === undefined) {
    if (key === null) {
      throw new AuthError(
        "unauthorized",
        "Missing credentials: send apikey or Authorization: Bearer <token>",
      );
    }
    return { token: null, apikey: key };
  }
  if (authorization.length > MAX_HEADER_LENGTH) {
    throw new AuthError("unauthorized", "Invalid Authorization header: too long");
  }
  const match = BEARER.exec(authorization);
  if (match === null || match[1] === undefined) {
    throw new AuthError(
      "unauthorized",
      "Invalid Authorization header: expected Bearer followed by a token",
    );
  }
  return { token: match[1], apikey: key };
}
