/**
 * Tokens an attacker would try against the API, forged for the local stack: unsigned,
 * algorithm confusion with the project's public key, tampered payloads, tokens of another
 * project, privilege claims in the wrong place, headers pointing at foreign keys.
 * @module
 */
import { exportSPKI, importJWK, type JWK, type JWTHeaderParameters, SignJWT } from "jose";
import { hmacSha256Hex } from "../../../shared/alerts/signature.ts";
import { generateSigningKeyPair, signHs256 } from "../../../shared/auth/keys.ts";
import { readKeys } from "../../../supabase/local/keys.ts";
import { JWT_SECRET, stackKeys } from "../_stack.ts";

/** Every token the hostile-input table uses, by name. */
export interface HostileTokens {
  service: string;
  anon: string;
  admin: string;
  user: string;
  algNone: string;
  algNoneNoSignatureDot: string;
  hs256WithPublicJwk: string;
  hs256WithPublicPem: string;
  hs512: string;
  expired: string;
  notYetValid: string;
  noExpiry: string;
  tamperedAnonAsService: string;
  tamperedUserAsAdmin: string;
  missingRole: string;
  postgresRole: string;
  userMetadataAdmin: string;
  userWithoutAudience: string;
  otherProjectSecret: string;
  otherProjectEs256: string;
  stackKidForeignKey: string;
  jkuToAttacker: string;
  kidTraversal: string;
  critHeader: string;
}

const b64url = (text: string) =>
  btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

const nowSeconds = () => Math.floor(Date.now() / 1000);

function _user(appRole: string | null, extra: Record<string, unknown> = {}) {
  const now = nowSeconds();
  return {
    sub: crypto.randomUUID(),
    role: "authenticated",
    aud: "authenticated",
    iss: "http://127.0.0.1:54321/auth/v1",
    app_metadata: appRole === null ? {} : { role: appRole },
    iat: now - 60,
    exp: now + 600,
    ...extra,
  };
}

async function _signEs256(
  claims: Record<string, unknown>,
  privateJwk: JWK,
  header: Partial<JWTHeaderParameters>,
): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "JWT", ...header })
    .sign(await importJWK(privateJwk, "ES256"));
}

/** HS256 over any header, with the stack's secret (for headers jose will not write). */
async function _hs256Raw(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const mac = (await hmacSha256Hex(JWT_SECRET, input)).match(/../g)!.map((h) => parseInt(h, 16));
  return `${input}.${b64url(String.fromCharCode(...mac))}`;
}

/** Replaces the payload of `token`, keeping its header and signature. */
function _withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split(".");
  return `${header}.${b64url(JSON.stringify(payload))}.${signature}`;
}

/**
 * Forges every token of {@link HostileTokens} against the running stack's keys.
 * @example
 * const tk = await hostileTokens();
 * await fetch(url, { headers: { authorization: `Bearer ${tk.algNone}` } });
 */
export async function hostileTokens(): Promise<HostileTokens> {
  const keys = await stackKeys();
  const stack = await readKeys();
  const publicJwk = stack.jwks.keys[0]!;
  const now = nowSeconds();
  const service = { role: "service_role", iss: "supabase-demo", exp: now + 600 };
  const secret = new TextEncoder().encode(JWT_SECRET);
  const hs = (claims: Record<string, unknown>, header: Partial<JWTHeaderParameters> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT", ...header }).sign(secret);
  const foreign = await generateSigningKeyPair({ alg: "ES256" });
  const publicPem = await exportSPKI(await importJWK(publicJwk, "ES256") as CryptoKey);
  const user = await signHs256(_user(null), JWT_SECRET);
  const unsigned = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    b64url(JSON.stringify(service))
  }`;

  return {
    service: keys.serviceRoleKey,
    anon: keys.anonKey,
    admin: await signHs256(_user("admin"), JWT_SECRET),
    user,
    algNone: `${unsigned}.`,
    algNoneNoSignatureDot: unsigned,
    // Algorithm confusion: HMAC keyed with the public key the JWKS publishes.
    hs256WithPublicJwk: await new SignJWT(service)
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: publicJwk.kid })
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
    hs256WithPublicPem: await new SignJWT(service)
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: publicJwk.kid })
      .sign(new TextEncoder().encode(publicPem)),
    hs512: await new SignJWT(service).setProtectedHeader({ alg: "HS512", typ: "JWT" })
      .sign(new TextEncoder().encode(JWT_SECRET.repeat(2))),
    expired: await hs({ ...service, iat: now - 7200, exp: now - 3600 }),
    notYetValid: await hs({ ...service, nbf: now + 3600 }),
    noExpiry: await hs({ role: "service_role", iss: "supabase-demo" }),
    tamperedAnonAsService: _withPayload(keys.anonKey, {
      iss: "supabase-demo",
      role: "service_role",
      exp: 1983812996,
    }),
    tamperedUserAsAdmin: _withPayload(user, _user("admin")),
    missingRole: await hs({ sub: crypto.randomUUID(), aud: "authenticated", exp: now + 600 }),
    postgresRole: await hs({ role: "postgres", exp: now + 600 }),
    userMetadataAdmin: await signHs256(
      _user(null, { user_metadata: { role: "admin" }, role: "authenticated" }),
      JWT_SECRET,
    ),
    userWithoutAudience: await signHs256(
      { ..._user("admin"), aud: undefined },
      JWT_SECRET,
    ),
    otherProjectSecret: await signHs256(
      { ...service, iss: "https://other-project.supabase.co/auth/v1", ref: "otherproject" },
      "another-projects-jwt-secret-with-at-least-32-characters",
    ),
    otherProjectEs256: await _signEs256(
      { ..._user("admin"), iss: "https://other-project.supabase.co/auth/v1" },
      foreign.privateJwk,
      { kid: foreign.privateJwk.kid! },
    ),
    // Our kid in the header, but signed with another key.
    stackKidForeignKey: await _signEs256(_user("admin"), foreign.privateJwk, {
      kid: publicJwk.kid,
    }),
    // jku / jwk headers pointing at the attacker's key must be ignored.
    jkuToAttacker: await _signEs256(_user("admin"), foreign.privateJwk, {
      kid: foreign.privateJwk.kid!,
      jku: "http://127.0.0.1:9/attacker/jwks.json",
      jwk: foreign.publicJwk as JWTHeaderParameters["jwk"],
    }),
    kidTraversal: await _signEs256(_user("admin"), foreign.privateJwk, {
      kid: "../../../../etc/passwd",
    }),
    // jose refuses to sign an unknown critical header, so this one is signed by hand.
    critHeader: await _hs256Raw({ alg: "HS256", typ: "JWT", crit: ["x-unknown"] }, service),
  };
}

// `deno run -A tests/integration/security/_hostile_tokens.ts <name>` prints one token, for
// the reproduction commands of docs/security.md.
if (import.meta.main) {
  const name = Deno.args[0] as keyof HostileTokens | undefined;
  const tokens = await hostileTokens();
  if (name === undefined || !(name in tokens)) {
    console.error(`usage: _hostile_tokens.ts <${Object.keys(tokens).join("|")}>`);
    Deno.exit(2);
  }
  console.log(tokens[name]);
}
