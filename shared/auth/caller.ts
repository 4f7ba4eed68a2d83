/**
 * Who is calling: the classification of verified JWT claims into the kinds of caller the
 * API distinguishes.
 * @module
 */
import { AuthError } from "./auth_error.ts";

/** The kinds of caller, from most to least privileged. */
export const CALLER_KINDS = ["service_role", "admin", "user", "anon"] as const;

/** One of {@link CALLER_KINDS}. */
export type CallerKind = typeof CALLER_KINDS[number];

/** A verified caller: what the auth middleware puts in the Hono context as `caller`. */
export interface Caller {
  /**
   * `service_role`: a secret key (`sb_secret_…`) or the legacy service-role key.
   * `admin`: a signed-in user whose `app_metadata.role` is `"admin"`.
   * `user`: any other signed-in user (role claim `authenticated`).
   * `anon`: a publishable key (`sb_publishable_…`) or the legacy anon key.
   */
  kind: CallerKind;
  /** The `sub` claim (the user id), or null for the API keys, which have none. */
  subject: string | null;
  /** The `role` claim, i.e. the Postgres role the token maps to. */
  role: string;
  /** All verified claims, for handlers that need more (e.g. `email`). */
  claims: Record<string, unknown>;
}

/**
 * Classifies verified claims. Admin rights come only from `app_metadata.role`, which only
 * the service role can write; `user_metadata` is editable by the user and is ignored.
 * Throws a `forbidden` {@link AuthError} for a genuine token without a usable role, since
 * no endpoint can allow such a caller.
 * @example
 * classifyClaims({ role: "authenticated", sub: "u1", app_metadata: { role: "admin" } }).kind
 * // → "admin"
 */
export function classifyClaims(claims: Record<string, unknown>): Caller {
  const role = claims.role;
  const subject = typeof claims.sub === "string" && claims.sub !== "" ? claims.sub : null;
  if (typeof role !== "string" || role === "") {
    throw new AuthError("forbidden", "Token not allowed: it has no role claim");
  }
  switch (role) {
    case "service_role":
      return { kind: "service_role", subject, role, claims };
    case "anon":
      return { kind: "anon", subject, role, claims };
    case "authenticated": {
      if (subject === null) {
        throw new AuthError("forbidden", "Token not allowed: a user token must have a subject");
      }
      const kind = _appMetadataRole(claims) === "admin" ? "admin" : "user";
      return { kind, subject, role, claims };
    }
    default:
      throw new AuthError("forbidden", "Token not allowed: its role is not accepted by this API");
  }
}

function _appMetadataRole(claims: Record<string, unknown>): unknown {
  const meta = claims.app_metadata;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return undefined;
  return (meta as Record<string, unknown>).role;
}
