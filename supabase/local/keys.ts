/**
 * Keys of the local stack, as a hosted project has them: the new API keys (a publishable and
 * a secret key, `sb_publishable_…` / `sb_secret_…`), an ES256 signing key whose public half
 * the gateway serves as the project's JWKS, and the legacy HS256 anon / service-role JWTs
 * signed with the local JWT secret. Generated once and kept in the state folder.
 *
 * `STACK_KEYS` says which keys the project has enabled: `both` (default; a project created
 * in 2025–26), `new` (legacy keys disabled) or `legacy` (a project that never moved).
 * @module
 */
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { makeApiKey } from "../../shared/auth/keys.ts";
import { JWT_SECRET, STATE_DIR, SUPABASE_URL } from "./ports.ts";

/** Which keys the local project has enabled (STACK_KEYS). */
export type KeyWorld = "both" | "new" | "legacy";

/** The key world from `STACK_KEYS` (default `both`). */
export function keyWorld(env: Record<string, string | undefined> = Deno.env.toObject()): KeyWorld {
  const value = env.STACK_KEYS ?? "both";
  if (value !== "both" && value !== "new" && value !== "legacy") {
    throw new Error(`Cannot use STACK_KEYS=${value}: expected both, new or legacy`);
  }
  return value;
}

/** What `keys.json` holds. */
export interface StackKeys {
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
  /** ES256 private key (JWK) for signing user tokens in tests and `stack:token`. */
  signingJwk: JsonWebKey & { kid: string; alg: string };
  /** The JWKS the gateway serves at /auth/v1/.well-known/jwks.json (new keys enabled). */
  jwks: { keys: Array<JsonWebKey & { kid: string; alg: string; use: string }> };
}

const KEYS_FILE = `${STATE_DIR}/keys.json`;

async function supabaseKey(role: "anon" | "service_role"): Promise<string> {
  // Same claims as the keys `supabase start` prints: long-lived, issuer supabase-demo.
  return await new SignJWT({ iss: "supabase-demo", role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setExpirationTime(1983812996)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Reads the stack's keys, creating them on first use (and the new ones on an old file). */
export async function ensureKeys(): Promise<StackKeys> {
  let keys: Partial<StackKeys> | null = null;
  try {
    keys = JSON.parse(await Deno.readTextFile(KEYS_FILE)) as Partial<StackKeys>;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (keys?.publishableKey && keys.secretKey && keys.signingJwk && keys.jwks) {
    return keys as StackKeys;
  }
  let { signingJwk, jwks } = keys ?? {};
  if (signingJwk === undefined || jwks === undefined) {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = crypto.randomUUID();
    signingJwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256" };
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  }
  const full: StackKeys = {
    anonKey: keys?.anonKey ?? await supabaseKey("anon"),
    serviceRoleKey: keys?.serviceRoleKey ?? await supabaseKey("service_role"),
    publishableKey: keys?.publishableKey ?? await makeApiKey("publishable"),
    secretKey: keys?.secretKey ?? await makeApiKey("secret"),
    signingJwk,
    jwks,
  };
  await Deno.mkdir(STATE_DIR, { recursive: true });
  await Deno.writeTextFile(KEYS_FILE, JSON.stringify(full, null, 2), { mode: 0o600 });
  return full;
}

/** Reads the stack's keys; throws when the stack was never started. */
export async function readKeys(): Promise<StackKeys> {
  try {
    return JSON.parse(await Deno.readTextFile(KEYS_FILE)) as StackKeys;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot read the local stack's keys: run \`deno task stack:start\` first`);
    }
    throw e;
  }
}

/** The JWKS the project publishes: its asymmetric key, or none while it has legacy keys only. */
export function publishedJwks(keys: StackKeys, world: KeyWorld): StackKeys["jwks"] {
  return world === "legacy" ? { keys: [] } : keys.jwks;
}

/**
 * PostgREST's `jwt-secret`: a JWKS of what the project's tokens may be signed with (the
 * legacy HS256 secret while legacy keys are on, the ES256 key while new keys are on).
 */
export function postgrestJwks(keys: StackKeys, world: KeyWorld): string {
  const set: unknown[] = [...publishedJwks(keys, world).keys];
  if (world !== "new") {
    const k = btoa(JWT_SECRET).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    set.push({ kty: "oct", k, alg: "HS256" });
  }
  return JSON.stringify({ keys: set });
}

/**
 * Signs an access token as Supabase Auth issues them (ES256 with the project's signing key;
 * HS256 with the JWT secret when the project has legacy keys only).
 */
export async function signAccessToken(
  keys: StackKeys,
  world: KeyWorld,
  claims: Record<string, unknown>,
  expiresInS = 3600,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const body = new SignJWT({ iss: `${SUPABASE_URL}/auth/v1`, aud: "authenticated", ...claims })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInS);
  if (world === "legacy") {
    return await body.setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(JWT_SECRET));
  }
  const key = await importJWK(keys.signingJwk, "ES256");
  return await body.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.signingJwk.kid })
    .sign(key);
}
