import assert from "node:assert/strict";
import { base64url, decodeJwt, SignJWT } from "jose";
import { closedJwksUrl, startJwksServer } from "./_jwks_server.ts";
import { localAuthDeps, NOW, NOW_S } from "../../fixtures/caller_tokens.ts";
import {
  generateSigningKeyPair,
  LOCAL_JWT_SECRET,
  makeAnonKey,
  makeServiceRoleKey,
  signHs256,
  signWithJwk,
} from "../../../shared/auth/keys.ts";
import {
  type AuthDeps,
  AuthError,
  type Caller,
  createVerifier,
} from "../../../shared/auth/verify.ts";

/** The verifier on a bearer token alone (the apikey cases are in key_modes_test.ts). */
function verifyToken(token: string, deps: AuthDeps): Promise<Caller> {
  return createVerifier(deps)({ token, apikey: null });
}

const USER_ID = "8d3a1f7e-3c1b-4d6e-9a53-0f6c2b7d9e11";

function userClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: "http://127.0.0.1:54321/auth/v1",
    sub: USER_ID,
    aud: "authenticated",
    role: "authenticated",
    iat: NOW_S - 60,
    exp: NOW_S + 3600,
    email: "ops@example.com",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: {},
    ...extra,
  };
}

const adminClaims = (extra: Record<string, unknown> = {}) =>
  userClaims({ app_metadata: { provider: "email", role: "admin" }, ...extra });

/** Admin claims issued at `nowS` (for verification against the real clock). */
const adminClaimsAt = (nowS: number, extra: Record<string, unknown> = {}) =>
  adminClaims({ iat: nowS - 60, exp: nowS + 3600, ...extra });

function b64json(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Runs verifyToken and returns the AuthError it throws; fails if it resolves. */
async function refusal(token: string, deps: AuthDeps): Promise<AuthError> {
  try {
    const caller = await verifyToken(token, deps);
    assert.fail(`expected a refusal, got caller of kind ${caller.kind}`);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    for (const part of token.split(".")) {
      if (part.length >= 8) {
        assert.ok(!error.message.includes(part), "the message must not echo the token");
      }
    }
    return error;
  }
}

Deno.test("verifyToken() refuses invalid tokens as unauthorized", async (t) => {
  const cases: Array<
    { name: string; token: () => Promise<string>; message: RegExp; deps?: AuthDeps }
  > = [
    { name: "an empty token", token: () => Promise.resolve(""), message: /empty/ },
    {
      name: "a token of two parts",
      token: () => Promise.resolve("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9"),
      message: /^Invalid token: /,
    },
    {
      name: "a token of non-base64 parts",
      token: () => Promise.resolve("%%%.@@@.!!!"),
      message: /^Invalid token: /,
    },
    {
      name: "a token whose header is not JSON",
      token: () => Promise.resolve("abc.def.ghi"),
      message: /^Invalid token: /,
    },
    {
      name: "a token whose payload is not JSON",
      token: async () => {
        const good = await signHs256(adminClaims(), LOCAL_JWT_SECRET);
        const [h, , s] = good.split(".");
        return `${h}.${base64url.encode("not json")}.${s}`;
      },
      message: /signature verification failed/,
    },
    {
      name: "an unsigned token (alg none)",
      token: () =>
        Promise.resolve(
          `${b64json({ alg: "none", typ: "JWT" })}.${
            b64json({ role: "service_role", exp: NOW_S + 60 })
          }.`,
        ),
      message: /^Invalid token: /,
    },
    {
      name: "an unsigned token spelled alg NONE",
      token: () =>
        Promise.resolve(
          `${b64json({ alg: "NONE" })}.${b64json({ role: "service_role", exp: NOW_S + 60 })}.`,
        ),
      message: /^Invalid token: /,
    },
    {
      name: "an HS384 token, even with the right secret",
      token: () =>
        new SignJWT({ role: "service_role", exp: NOW_S + 60 })
          .setProtectedHeader({ alg: "HS384" })
          .sign(new TextEncoder().encode(LOCAL_JWT_SECRET)),
      message: /^Invalid token: /,
    },
    {
      name: "a service-role token signed with another project's secret",
      token: () => makeServiceRoleKey("another-projects-secret-with-at-least-32-characters"),
      message: /signature verification failed/,
    },
    {
      name: "an admin token signed with a wrong secret",
      token: () => signHs256(adminClaims(), "wrong-secret-wrong-secret-wrong-secret-wrong"),
      message: /signature verification failed/,
    },
    {
      name: "an expired token",
      token: () => signHs256(adminClaims({ exp: NOW_S - 1 }), LOCAL_JWT_SECRET),
      message: /expired/,
    },
    {
      name: "a token that is not valid yet (nbf in the future)",
      token: () => signHs256(adminClaims({ nbf: NOW_S + 600 }), LOCAL_JWT_SECRET),
      message: /not valid yet/,
    },
    {
      name: "a token without exp",
      token: () => signHs256({ role: "service_role", iss: "supabase-demo" }, LOCAL_JWT_SECRET),
      message: /expiry/,
    },
    {
      name: "a tampered payload (user made admin, original signature kept)",
      token: async () => {
        const good = await signHs256(userClaims(), LOCAL_JWT_SECRET);
        const [h, , s] = good.split(".");
        return `${h}.${b64json(adminClaims())}.${s}`;
      },
      message: /signature verification failed/,
    },
    {
      name: "a tampered header (alg switched, signature kept)",
      token: async () => {
        const good = await signHs256(adminClaims(), LOCAL_JWT_SECRET);
        const [, p, s] = good.split(".");
        return `${b64json({ alg: "ES256", typ: "JWT" })}.${p}.${s}`;
      },
      message: /^Invalid token: /,
    },
    {
      name: "a user token for another audience",
      token: () => signHs256(adminClaims({ aud: "some-other-api" }), LOCAL_JWT_SECRET),
      message: /wrong audience/,
    },
    {
      name: "a user token without an audience",
      token: () => signHs256(adminClaims({ aud: undefined }), LOCAL_JWT_SECRET),
      message: /wrong audience/,
    },
    {
      name: "a token longer than 8 KB",
      token: () => signHs256(adminClaims({ padding: "x".repeat(9000) }), LOCAL_JWT_SECRET),
      message: /longer than 8192 characters/,
    },
    {
      name: "a 100 KB garbage token",
      token: () => Promise.resolve("a".repeat(100 * 1024)),
      message: /longer than 8192 characters/,
    },
  ];
  for (const c of cases) {
    await t.step(`refuses ${c.name}`, async () => {
      const error = await refusal(await c.token(), c.deps ?? localAuthDeps());
      assert.equal(error.code, "unauthorized");
      assert.equal(error.status, 401);
      assert.match(error.message, c.message);
    });
  }
});

Deno.test("verifyToken() refuses genuine tokens without a usable role as forbidden", async (t) => {
  const cases: Array<{ name: string; claims: Record<string, unknown>; message: RegExp }> = [
    {
      name: "no role claim",
      claims: { iss: "supabase-demo", exp: NOW_S + 60 },
      message: /no role/,
    },
    { name: "an empty role", claims: { role: "", exp: NOW_S + 60 }, message: /no role/ },
    {
      name: "a non-string role",
      claims: { role: ["service_role"], exp: NOW_S + 60 },
      message: /no role/,
    },
    {
      name: "the role postgres",
      claims: { role: "postgres", exp: NOW_S + 60 },
      message: /not accepted/,
    },
    {
      name: "the role supabase_admin",
      claims: { role: "supabase_admin", exp: NOW_S + 60 },
      message: /not accepted/,
    },
    {
      name: "a user token without subject",
      claims: adminClaims({ sub: undefined }),
      message: /subject/,
    },
  ];
  for (const c of cases) {
    await t.step(`refuses ${c.name}`, async () => {
      const error = await refusal(await signHs256(c.claims, LOCAL_JWT_SECRET), localAuthDeps());
      assert.equal(error.code, "forbidden");
      assert.equal(error.status, 403);
      assert.match(error.message, c.message);
    });
  }
});

Deno.test("verifyToken() classifies valid HS256 tokens by role and app_metadata", async (t) => {
  const cases: Array<
    { name: string; token: () => Promise<string>; kind: Caller["kind"]; subject: string | null }
  > = [
    {
      name: "the service-role key",
      token: () => makeServiceRoleKey(LOCAL_JWT_SECRET),
      kind: "service_role",
      subject: null,
    },
    {
      name: "the anon key",
      token: () => makeAnonKey(LOCAL_JWT_SECRET),
      kind: "anon",
      subject: null,
    },
    {
      name: "a user with app_metadata.role admin",
      token: () => signHs256(adminClaims(), LOCAL_JWT_SECRET),
      kind: "admin",
      subject: USER_ID,
    },
    {
      name: "a user token whose aud is an array with authenticated",
      token: () => signHs256(adminClaims({ aud: ["authenticated", "x"] }), LOCAL_JWT_SECRET),
      kind: "admin",
      subject: USER_ID,
    },
    {
      name: "a plain signed-in user",
      token: () => signHs256(userClaims(), LOCAL_JWT_SECRET),
      kind: "user",
      subject: USER_ID,
    },
    {
      name: "a user who set user_metadata.role admin (user-editable, not a grant)",
      token: () => signHs256(userClaims({ user_metadata: { role: "admin" } }), LOCAL_JWT_SECRET),
      kind: "user",
      subject: USER_ID,
    },
    {
      name: "a user with app_metadata.role Admin (not exactly admin)",
      token: () => signHs256(userClaims({ app_metadata: { role: "Admin" } }), LOCAL_JWT_SECRET),
      kind: "user",
      subject: USER_ID,
    },
    {
      name: "a user with a top-level admin claim only",
      token: () => signHs256(userClaims({ admin: true, is_admin: true }), LOCAL_JWT_SECRET),
      kind: "user",
      subject: USER_ID,
    },
    {
      name: "an anon-role token claiming app_metadata admin",
      token: () =>
        signHs256(
          { role: "anon", exp: NOW_S + 60, app_metadata: { role: "admin" } },
          LOCAL_JWT_SECRET,
        ),
      kind: "anon",
      subject: null,
    },
  ];
  for (const c of cases) {
    await t.step(`accepts ${c.name} as ${c.kind}`, async () => {
      const caller = await verifyToken(await c.token(), localAuthDeps());
      assert.equal(caller.kind, c.kind);
      assert.equal(caller.subject, c.subject);
      assert.equal(typeof caller.role, "string");
      assert.equal(caller.claims.role, caller.role);
    });
  }
});

Deno.test("verifyToken() takes time from the injected clock", async () => {
  const token = await signHs256(
    adminClaims({ nbf: NOW_S + 600, exp: NOW_S + 1200 }),
    LOCAL_JWT_SECRET,
  );
  assert.equal((await refusal(token, localAuthDeps())).code, "unauthorized");
  const later = new Date((NOW_S + 900) * 1000);
  assert.equal((await verifyToken(token, localAuthDeps({ clock: () => later }))).kind, "admin");
  const afterExpiry = new Date((NOW_S + 1300) * 1000);
  assert.match(
    (await refusal(token, localAuthDeps({ clock: () => afterExpiry }))).message,
    /expired/,
  );
});

Deno.test("verifyToken() honours a configured audience for user tokens", async () => {
  const deps = localAuthDeps({ audience: "policy-monitor" });
  const token = await signHs256(adminClaims({ aud: "policy-monitor" }), LOCAL_JWT_SECRET);
  assert.equal((await verifyToken(token, deps)).kind, "admin");
  const usual = await signHs256(adminClaims(), LOCAL_JWT_SECRET);
  assert.match((await refusal(usual, deps)).message, /wrong audience/);
});

Deno.test("verifyToken() verifies asymmetric tokens against the project's JWKS", async (t) => {
  const es = await generateSigningKeyPair({ kid: "es-key-1" });
  const rs = await generateSigningKeyPair({ alg: "RS256", kid: "rs-key-1" });
  // @supabase/server verifies these against the real clock: claims relative to it.
  const realS = Math.floor(Date.now() / 1000);
  const adminClaims = (extra: Record<string, unknown> = {}) => adminClaimsAt(realS, extra);
  const userClaims = () => adminClaimsAt(realS, { app_metadata: { provider: "email" } });
  const deps = localAuthDeps({ jwks: { keys: [es.publicJwk, rs.publicJwk] } });
  {
    await t.step("accepts an admin token signed ES256 by a JWKS key", async () => {
      const caller = await verifyToken(await signWithJwk(adminClaims(), es.privateJwk), deps);
      assert.equal(caller.kind, "admin");
      assert.equal(caller.subject, USER_ID);
    });
    await t.step("accepts an admin token signed RS256 by a JWKS key", async () => {
      assert.equal(
        (await verifyToken(await signWithJwk(adminClaims(), rs.privateJwk), deps)).kind,
        "admin",
      );
    });
    await t.step("refuses a JWKS-signed token without a subject (not a user)", async () => {
      const token = await signWithJwk({ role: "service_role", exp: realS + 60 }, rs.privateJwk);
      assert.equal((await refusal(token, deps)).code, "unauthorized");
    });
    await t.step("classifies a plain user signed ES256 as user", async () => {
      assert.equal(
        (await verifyToken(await signWithJwk(userClaims(), es.privateJwk), deps)).kind,
        "user",
      );
    });
    await t.step("refuses a token naming an unknown kid", async () => {
      const stranger = await generateSigningKeyPair({ kid: "unknown-kid" });
      const error = await refusal(await signWithJwk(adminClaims(), stranger.privateJwk), deps);
      assert.equal(error.code, "unauthorized");
      assert.match(error.message, /no key in the JWKS matches/);
    });
    await t.step("refuses a token forged with another key under a known kid", async () => {
      const forger = await generateSigningKeyPair({ kid: "es-key-1" });
      const error = await refusal(await signWithJwk(adminClaims(), forger.privateJwk), deps);
      assert.match(error.message, /signature did not verify/);
    });
    await t.step(
      "refuses HS256 signed with the public key's bytes (algorithm confusion)",
      async () => {
        for (
          const secret of [
            JSON.stringify(es.publicJwk),
            es.publicJwk.x ?? "",
            JSON.stringify({ keys: [es.publicJwk] }),
          ]
        ) {
          const forged = await new SignJWT(adminClaims())
            .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: "es-key-1" })
            .sign(new TextEncoder().encode(secret));
          const error = await refusal(forged, deps);
          assert.match(error.message, /signature verification failed/);
        }
      },
    );
    await t.step("refuses an ES256 token whose payload was tampered with", async () => {
      const good = await signWithJwk(userClaims(), es.privateJwk);
      const [h, , s] = good.split(".");
      const error = await refusal(`${h}.${b64json(adminClaims())}.${s}`, deps);
      assert.match(error.message, /signature did not verify/);
    });
    await t.step("refuses an expired ES256 token", async () => {
      const token = await signWithJwk(adminClaims({ exp: realS - 5 }), es.privateJwk);
      assert.match((await refusal(token, deps)).message, /expired/);
    });
    await t.step("refuses an ES256 token that names the RS256 key", async () => {
      const token = await signWithJwk(adminClaims(), { ...es.privateJwk, kid: "rs-key-1" });
      assert.equal((await refusal(token, deps)).code, "unauthorized");
    });
  }
});

Deno.test("verifyToken() reports an unreachable JWKS as auth_unavailable, not the caller's fault", async () => {
  const es = await generateSigningKeyPair({ kid: "es-key-2" });
  const realS = Math.floor(Date.now() / 1000);
  const deps = localAuthDeps({ jwks: new URL(await closedJwksUrl()) });
  const error = await refusal(await signWithJwk(adminClaimsAt(realS), es.privateJwk), deps);
  assert.equal(error.code, "auth_unavailable");
  assert.equal(error.status, 503);
  // The legacy service-role key (HS256) does not need the JWKS.
  const caller = await verifyToken(await makeServiceRoleKey(LOCAL_JWT_SECRET), deps);
  assert.equal(caller.kind, "service_role");
});

Deno.test("makeAnonKey() and makeServiceRoleKey() reproduce Supabase's local demo keys", async () => {
  assert.equal(
    await makeAnonKey(LOCAL_JWT_SECRET),
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
  );
  assert.equal(
    await makeServiceRoleKey(LOCAL_JWT_SECRET),
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
  );
});

Deno.test("signHs256() sets exp from expiresIn and now, unless the claims have one", async () => {
  assert.equal(
    decodeJwt(await signHs256({ role: "anon" }, LOCAL_JWT_SECRET, { expiresIn: 60, now: NOW })).exp,
    NOW_S + 60,
  );
  assert.equal(
    decodeJwt(
      await signHs256({ role: "anon", exp: 5 }, LOCAL_JWT_SECRET, { expiresIn: 60, now: NOW }),
    ).exp,
    5,
  );
});

Deno.test("verifyToken() fetches the JWKS from its URL when it is not given inline", async () => {
  const es = await generateSigningKeyPair({ kid: "es-remote" });
  const server = startJwksServer({ kind: "keys", keys: [es.publicJwk] });
  try {
    const realS = Math.floor(Date.now() / 1000);
    const deps = localAuthDeps({ jwks: new URL(server.url) });
    const caller = await verifyToken(await signWithJwk(adminClaimsAt(realS), es.privateJwk), deps);
    assert.equal(caller.kind, "admin");
    assert.ok(server.hits() >= 1);
    const stranger = await generateSigningKeyPair({ kid: "es-stranger" });
    const error = await refusal(await signWithJwk(adminClaimsAt(realS), stranger.privateJwk), deps);
    assert.equal(error.code, "unauthorized");
  } finally {
    await server.close();
  }
});
