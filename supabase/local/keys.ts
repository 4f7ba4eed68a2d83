/**
 * Keys of the local stack: Supabase-style anon and service-role keys (HS256 JWTs signed
 * with the local JWT secret) and an ES256 signing key pair whose public half the gateway
 * serves as the project's JWKS. Generated once and kept in the state folder.
 * @module
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { JWT_SECRET, STATE_DIR } from "./ports.ts";

/** What `keys.json` holds. */
export interface StackKeys {
  anonKey: string;
  serviceRoleKey: string;
  /** ES256 private key (JWK) for signing user tokens in tests. */
  signingJwk: JsonWebKey & { kid: string; alg: string };
  /** The JWKS the gateway serves at /auth/v1/.well-known/jwks.json. */
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

/** Reads the stack's keys, creating them on first use. */
export async function ensureKeys(): Promise<StackKeys> {
  try {
    return JSON.parse(await Deno.readTextFile(KEYS_FILE)) as StackKeys;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = crypto.randomUUID();
  const priv = { ...(await exportJWK(privateKey)), kid, alg: "ES256" };
  const pub = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const keys: StackKeys = {
    anonKey: await supabaseKey("anon"),
    serviceRoleKey: await supabaseKey("service_role"),
    signingJwk: priv,
    jwks: { keys: [pub] },
  };
  await Deno.mkdir(STATE_DIR, { recursive: true });
  await Deno.writeTextFile(KEYS_FILE, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
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
