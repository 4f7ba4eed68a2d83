import assert from "node:assert/strict";
import {
  generateSigningKeyPair,
  LOCAL_JWT_SECRET,
  makeAnonKey,
  makeApiKey,
  makeServiceRoleKey,
  signWithJwk,
} from "../../../shared/auth/keys.ts";
import { type AuthDeps, AuthError, createVerifier } from "../../../shared/auth/verify.ts";

const SECRET = await makeApiKey("secret");
const PUBLISHABLE = await makeApiKey("publishable");
const SERVICE_JWT = await makeServiceRoleKey(LOCAL_JWT_SECRET);
const ANON_JWT = await makeAnonKey(LOCAL_JWT_SECRET);
const ES = await generateSigningKeyPair({ kid: "es-modes" });

function deps(world: "both" | "new" | "legacy"): AuthDeps {
  return {
    url: "http://127.0.0.1:1",
    ...(world !== "legacy"
      ? { secretKeys: { default: SECRET }, publishableKeys: { default: PUBLISHABLE } }
      : {}),
    jwks: world === "legacy" ? { keys: [] } : { keys: [ES.publicJwk] },
    ...(world !== "new"
      ? {
        legacy: { serviceRoleKey: SERVICE_JWT, anonKey: ANON_JWT, jwtSecret: LOCAL_JWT_SECRET },
      }
      : {}),
  };
}

async function admin(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await signWithJwk({
    sub: "3f1e0c6a-1d2b-4c5e-8f9a-0b1c2d3e4f50",
    aud: "authenticated",
    role: "authenticated",
    exp: now + 600,
    app_metadata: { role: "admin" },
  }, ES.privateJwk);
}

Deno.test("createVerifier() tells the API keys and tokens apart in every key world", async (t) => {
  type Outcome = Record<"both" | "new" | "legacy", string>;
  // The new keys (sb_…) exist in the worlds "both" and "new", the legacy JWTs in "both" and
  // "legacy"; where a key does not exist it is an unknown credential: 401.
  const newKey = (kind: string): Outcome => ({ both: kind, new: kind, legacy: "401" });
  const legacyKey = (kind: string): Outcome => ({ both: kind, new: "401", legacy: kind });
  const refused: Outcome = { both: "401", new: "401", legacy: "401" };
  // Where the credential is sent: the apikey header, the bearer token, or both.
  const cases: Array<
    { name: string; key: string; in: "apikey" | "bearer" | "both"; expect: Outcome }
  > = [
    { name: "the secret key in apikey", key: SECRET, in: "apikey", expect: newKey("service_role") },
    {
      name: "the secret key in apikey and as bearer",
      key: SECRET,
      in: "both",
      expect: newKey("service_role"),
    },
    { name: "the secret key only as bearer", key: SECRET, in: "bearer", expect: refused },
    { name: "the publishable key", key: PUBLISHABLE, in: "both", expect: newKey("anon") },
    {
      name: "an unknown sb_secret_ key",
      key: `${SECRET.slice(0, -4)}AAAA`,
      in: "apikey",
      expect: refused,
    },
    {
      name: "the legacy service-role key as bearer",
      key: SERVICE_JWT,
      in: "both",
      expect: legacyKey("service_role"),
    },
    {
      name: "the legacy service-role key only in apikey",
      key: SERVICE_JWT,
      in: "apikey",
      expect: legacyKey("service_role"),
    },
    { name: "the legacy anon key", key: ANON_JWT, in: "both", expect: legacyKey("anon") },
  ];
  for (const c of cases) {
    for (const world of ["both", "new", "legacy"] as const) {
      await t.step(`${c.name} (${world}) → ${c.expect[world]}`, async () => {
        const verify = createVerifier(deps(world));
        const token = c.in === "apikey" ? null : c.key;
        const apikey = c.in === "bearer" ? null : c.key;
        const outcome = await verify({ token, apikey }).then(
          (caller) => caller.kind as string,
          (error) => {
            if (!(error instanceof AuthError)) throw error;
            for (const v of [token, apikey]) {
              if (v !== null) assert.ok(!error.message.includes(v), "no credential echo");
            }
            return String(error.status);
          },
        );
        assert.equal(outcome, c.expect[world]);
      });
    }
  }
  await t.step("an admin's ES256 token with the publishable key → admin", async () => {
    const caller = await createVerifier(deps("new"))({ token: await admin(), apikey: PUBLISHABLE });
    assert.equal(caller.kind, "admin");
  });
});

Deno.test("makeApiKey() makes keys of the hosted shape", async () => {
  assert.match(await makeApiKey("secret"), /^sb_secret_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/);
  assert.match(
    await makeApiKey("publishable"),
    /^sb_publishable_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/,
  );
  assert.notEqual(await makeApiKey("secret"), await makeApiKey("secret"));
});
