/**
 * Making keys and tokens the way Supabase does, for tests and the local stack: HS256 API
 * keys from the JWT secret, and an ES256/RS256 signing key pair whose public half goes in
 * the JWKS the gateway serves.
 * @module
 */
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

/** Supabase's local default JWT secret (public knowledge: never use it in production). */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** `exp` of Supabase's local demo keys (2032-11-11), so ours are the same strings. */
const DEMO_KEY_EXP = 1983812996;

/** Options of the signing helpers. */
export interface SignOptions {
  /** Sets `exp` to `now + expiresIn` seconds (unless the claims already have `exp`). */
  expiresIn?: number;
  /** "Now" for `expiresIn`; default the real time. */
  now?: Date;
}

/**
 * Signs `claims` as an HS256 JWT (header `{"alg":"HS256","typ":"JWT"}`). Claims are
 * written as given, so tests can make expired, future or odd tokens.
 * @example
 * const token = await signHs256({ sub: "u1", role: "authenticated", aud: "authenticated" },
 *   LOCAL_JWT_SECRET, { expiresIn: 3600 });
 */
export function signHs256(
  claims: Record<string, unknown>,
  secret: string | Uint8Array,
  options: SignOptions = {},
): Promise<string> {
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(_withExpiry(claims, options))
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(key);
}

/** A Supabase-style service-role key: `{iss:"supabase-demo", role:"service_role", exp}`. */
export function makeServiceRoleKey(secret: string): Promise<string> {
  return signHs256({ iss: "supabase-demo", role: "service_role", exp: DEMO_KEY_EXP }, secret);
}

/** A Supabase-style anon key: `{iss:"supabase-demo", role:"anon", exp}`. */
export function makeAnonKey(secret: string): Promise<string> {
  return signHs256({ iss: "supabase-demo", role: "anon", exp: DEMO_KEY_EXP }, secret);
}

/** An asymmetric signing key pair as JWKs; the public one is ready for a JWKS. */
export interface SigningKeyPair {
  /** Private key (keep it to sign); carries `kid` and `alg`. */
  privateJwk: JWK;
  /** Public key with `kid`, `alg` and `use: "sig"`: serve it as `{ keys: [publicJwk] }`. */
  publicJwk: JWK;
}

/**
 * Generates a signing key pair (ES256 by default, as Supabase's asymmetric keys are).
 * @example
 * const { privateJwk, publicJwk } = await generateSigningKeyPair();
 * const jwks = { keys: [publicJwk] };
 */
export async function generateSigningKeyPair(
  options: { alg?: "ES256" | "RS256"; kid?: string } = {},
): Promise<SigningKeyPair> {
  const alg = options.alg ?? "ES256";
  const kid = options.kid ?? crypto.randomUUID();
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { privateJwk, publicJwk };
}

/**
 * Signs `claims` with a private JWK from {@link generateSigningKeyPair}; the header carries
 * the key's `alg` and `kid`.
 */
export async function signWithJwk(
  claims: Record<string, unknown>,
  privateJwk: JWK,
  options: SignOptions = {},
): Promise<string> {
  const alg = privateJwk.alg;
  if (alg === undefined) throw new Error("Cannot sign with JWK: it has no alg");
  const key = await importJWK(privateJwk, alg);
  return new SignJWT(_withExpiry(claims, options))
    .setProtectedHeader({
      alg,
      typ: "JWT",
      ...(privateJwk.kid !== undefined ? { kid: privateJwk.kid } : {}),
    })
    .sign(key);
}

function _withExpiry(claims: Record<string, unknown>, options: SignOptions) {
  if (options.expiresIn === undefined || "exp" in claims) return claims;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return { ...claims, exp: now + options.expiresIn };
}

/**
 * A new-style Supabase API key: `sb_publishable_` / `sb_secret_`, 22 characters of
 * base64url randomness (128 bits), `_`, and an 8-character checksum of the rest (hosted
 * keys have this shape, e.g. the CLI's `sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz`).
 * @example
 * makeApiKey("secret"); // "sb_secret_…_…"
 */
export async function makeApiKey(kind: "publishable" | "secret"): Promise<string> {
  const b64url = (bytes: Uint8Array) =>
    btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replace(/\+/g, "-").replace(
      /\//g,
      "_",
    );
  const body = `sb_${kind}_${b64url(crypto.getRandomValues(new Uint8Array(16)))}`;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)),
  );
  return `${body}_${b64url(digest.slice(0, 6))}`;
}
