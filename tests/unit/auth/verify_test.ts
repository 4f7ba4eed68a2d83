import assert from "node:assert/strict";
import { base64url, decodeJwt, SignJWT } from "jose";
import { captureLogger } from "../../../shared/log.ts";
import type { FetchFn } from "../../../shared/types.ts";
import {
  generateSigningKeyPair,
  LOCAL_JWT_SECRET,
  makeAnonKey,
  makeServiceRoleKey,
  signHs256,
  signWithJwk,
} from "../../../shared/auth/keys.ts";
import { type AuthDeps, AuthError, type Caller, verifyToken } from "../../../shared/auth/verify.ts";
import { closedJwksUrl, startJwksServer } from "./_jwks_server.ts";

const NOW = new Date("2026-12-01T12:00:00Z");
const NOW_S = Math.floor(NOW.getTime() / 1000);
const USER_ID = "8d3a1f7e-3c1b-4d6e-9a53-0f6c2b7d9e11";

/** The real fetch, passed in as a dependency (never installed globally). */
const realFetch: FetchFn = (input, init) => fetch(input, init);

function hsDeps(overrides: Partial<AuthDeps> = {}): AuthDeps {
  return { jwtSecret: LOCAL_JWT_SECRET, fetch: realFetch, clock: () => NOW, ...overrides };
}

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
      message: /not a JWT/,
    },
    {
      name: "a token of non-base64 parts",
      token: () => Promise.resolve("%%%.@@@.!!!"),
      message: /not a JWT/,
    },
    {
      name: "a token whose header is not JSON",
      token: () => Promise.resolve("abc.def.ghi"),
      message: /not a JWT/,
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
      message: /algorithm none is not accepted/,
    },
    {
      name: "an unsigned token spelled alg NONE",
      token: () =>
        Promise.resolve(
          `${b64json({ alg: "NONE" })}.${b64json({ role: "service_role", exp: NOW_S + 60 })}.`,
        ),
      message: /not accepted/,
    },
    {
      name: "an HS384 token, even with the right secret",
      token: () =>
        new SignJWT({ role: "service_role", exp: NOW_S + 60 })
          .setProtectedHeader({ alg: "HS384" })
          .sign(new TextEncoder().encode(LOCAL_JWT_SECRET)),
      message: /algorithm HS384 is not accepted/,
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
      message: /no JWKS configured/,
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
      name: "a token of another issuer when an issuer is configured",
      token: () =>
        signHs256(adminClaims({ iss: "https://other.supabase.co/auth/v1" }), LOCAL_JWT_SECRET),
      deps: hsDeps({ issuer: ["http://127.0.0.1:54321/auth/v1", "supabase-demo"] }),
      message: /wrong issuer/,
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
      const error = await refusal(await c.token(), c.deps ?? hsDeps());
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
      const error = await refusal(await signHs256(c.claims, LOCAL_JWT_SECRET), hsDeps());
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
      const caller = await verifyToken(await c.token(), hsDeps());
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
  assert.equal((await refusal(token, hsDeps())).code, "unauthorized");
  const later = new Date((NOW_S + 900) * 1000);
  assert.equal((await verifyToken(token, hsDeps({ clock: () => later }))).kind, "admin");
  const afterExpiry = new Date((NOW_S + 1300) * 1000);
  assert.match((await refusal(token, hsDeps({ clock: () => afterExpiry }))).message, /expired/);
});

Deno.test("verifyToken() checks iss only when an issuer is configured", async () => {
  const stranger = await signHs256(
    adminClaims({ iss: "https://elsewhere.example/auth/v1" }),
    LOCAL_JWT_SECRET,
  );
  assert.equal((await verifyToken(stranger, hsDeps())).kind, "admin");
  const deps = hsDeps({ issuer: ["http://127.0.0.1:54321/auth/v1", "supabase-demo"] });
  assert.equal(
    (await verifyToken(await makeServiceRoleKey(LOCAL_JWT_SECRET), deps)).kind,
    "service_role",
  );
  assert.equal(
    (await verifyToken(await signHs256(adminClaims(), LOCAL_JWT_SECRET), deps)).kind,
    "admin",
  );
  assert.match((await refusal(stranger, deps)).message, /wrong issuer/);
});

Deno.test("verifyToken() honours a configured audience for user tokens", async () => {
  const deps = hsDeps({ audience: "policy-monitor" });
  const token = await signHs256(adminClaims({ aud: "policy-monitor" }), LOCAL_JWT_SECRET);
  assert.equal((await verifyToken(token, deps)).kind, "admin");
  const usual = await signHs256(adminClaims(), LOCAL_JWT_SECRET);
  assert.match((await refusal(usual, deps)).message, /wrong audience/);
});

Deno.test("verifyToken() verifies asymmetric tokens against the project's JWKS", async (t) => {
  const es = await generateSigningKeyPair({ kid: "es-key-1" });
  const rs = await generateSigningKeyPair({ alg: "RS256", kid: "rs-key-1" });
  const server = startJwksServer({ kind: "keys", keys: [es.publicJwk, rs.publicJwk] });
  const deps = hsDeps({ jwksUrl: server.url });
  try {
    await t.step("accepts an admin token signed ES256 by a JWKS key", async () => {
      const caller = await verifyToken(await signWithJwk(adminClaims(), es.privateJwk), deps);
      assert.equal(caller.kind, "admin");
      assert.equal(caller.subject, USER_ID);
    });
    await t.step("accepts a service-role token signed RS256 by a JWKS key", async () => {
      const token = await signWithJwk({ role: "service_role", exp: NOW_S + 60 }, rs.privateJwk);
      assert.equal((await verifyToken(token, deps)).kind, "service_role");
    });
    await t.step("classifies a plain user signed ES256 as user", async () => {
      assert.equal(
        (await verifyToken(await signWithJwk(userClaims(), es.privateJwk), deps)).kind,
        "user",
      );
    });
    await t.step("fetched the key set once for all of the above", () => {
      assert.equal(server.hits(), 1);
    });
    await t.step("refuses a token naming an unknown kid", async () => {
      const stranger = await generateSigningKeyPair({ kid: "unknown-kid" });
      const error = await refusal(await signWithJwk(adminClaims(), stranger.privateJwk), deps);
      assert.equal(error.code, "unauthorized");
      assert.match(error.message, /no signing key matches/);
    });
    await t.step("refuses a token forged with another key under a known kid", async () => {
      const forger = await generateSigningKeyPair({ kid: "es-key-1" });
      const error = await refusal(await signWithJwk(adminClaims(), forger.privateJwk), deps);
      assert.match(error.message, /signature verification failed/);
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
      assert.match(error.message, /signature verification failed/);
    });
    await t.step("refuses an expired ES256 token", async () => {
      const token = await signWithJwk(adminClaims({ exp: NOW_S - 5 }), es.privateJwk);
      assert.match((await refusal(token, deps)).message, /expired/);
    });
    await t.step("refuses an ES256 token that names the RS256 key", async () => {
      const token = await signWithJwk(adminClaims(), { ...es.privateJwk, kid: "rs-key-1" });
      assert.equal((await refusal(token, deps)).code, "unauthorized");
    });
  } finally {
    await server.close();
  }
});

Deno.test("verifyToken() caches the JWKS and refetches it when stale or on a new kid after the cooldown", async (t) => {
  const first = await generateSigningKeyPair({ kid: "k1" });
  const second = await generateSigningKeyPair({ kid: "k2" });
  const server = startJwksServer({ kind: "keys", keys: [first.publicJwk] });
  let now = NOW;
  const deps = hsDeps({
    jwksUrl: server.url,
    clock: () => now,
    jwksCacheMs: 600_000,
    jwksCooldownMs: 30_000,
  });
  const tokenAt = (jwk: typeof first.privateJwk) =>
    signWithJwk(adminClaims({ exp: NOW_S + 86_400 }), jwk);
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));
  try {
    await t.step("fetches once for many verifications", async () => {
      for (let i = 0; i < 3; i++) await verifyToken(await tokenAt(first.privateJwk), deps);
      assert.equal(server.hits(), 1);
    });
    await t.step("a rotated-in kid within the cooldown is refused without refetching", async () => {
      server.serve({ kind: "keys", keys: [first.publicJwk, second.publicJwk] });
      advance(10_000);
      await refusal(await tokenAt(second.privateJwk), deps);
      assert.equal(server.hits(), 1);
    });
    await t.step("a rotated-in kid after the cooldown is fetched and accepted", async () => {
      advance(30_000);
      assert.equal((await verifyToken(await tokenAt(second.privateJwk), deps)).kind, "admin");
      assert.equal(server.hits(), 2);
    });
    await t.step("a stale key set is fetched again, and a removed key stops working", async () => {
      server.serve({ kind: "keys", keys: [second.publicJwk] });
      assert.equal((await verifyToken(await tokenAt(first.privateJwk), deps)).kind, "admin");
      advance(600_000);
      await refusal(await tokenAt(first.privateJwk), deps);
      assert.equal(server.hits(), 3);
    });
  } finally {
    await server.close();
  }
});

Deno.test("verifyToken() shares one JWKS fetch among concurrent verifications", async () => {
  const pair = await generateSigningKeyPair();
  const server = startJwksServer({ kind: "keys", keys: [pair.publicJwk] });
  try {
    const deps = hsDeps({ jwksUrl: server.url });
    const token = await signWithJwk(adminClaims(), pair.privateJwk);
    const callers = await Promise.all(Array.from({ length: 5 }, () => verifyToken(token, deps)));
    assert.deepEqual(callers.map((c) => c.kind), Array(5).fill("admin"));
    assert.equal(server.hits(), 1);
  } finally {
    await server.close();
  }
});

Deno.test("verifyToken() reports an unreachable or broken JWKS as auth_unavailable, not the caller's fault", async (t) => {
  const pair = await generateSigningKeyPair();
  const token = await signWithJwk(adminClaims(), pair.privateJwk);
  const expectUnavailable = async (deps: AuthDeps, detail: RegExp) => {
    const error = await refusal(token, deps);
    assert.equal(error.code, "auth_unavailable");
    assert.equal(error.status, 503);
    assert.equal(error.message, "Cannot verify token: signing keys are unavailable");
    assert.ok(error.cause instanceof Error);
    assert.match(error.cause.message, detail);
  };
  await t.step("when nothing listens on the JWKS port", async () => {
    const logger = captureLogger();
    const url = await closedJwksUrl();
    await expectUnavailable(
      hsDeps({ jwksUrl: url, logger }),
      /^Cannot load signing keys from http:\/\/127\.0\.0\.1:\d+\/auth\/v1\/\.well-known\/jwks\.json: /,
    );
    assert.equal(logger.records.length, 1);
    assert.equal(logger.records[0]?.level, "warn");
    assert.ok(
      !JSON.stringify(logger.records).includes(token.split(".")[1]!),
      "the log must not contain the token",
    );
  });
  await t.step("while the service-role key (HS256) still works", async () => {
    const deps = hsDeps({ jwksUrl: await closedJwksUrl() });
    assert.equal(
      (await verifyToken(await makeServiceRoleKey(LOCAL_JWT_SECRET), deps)).kind,
      "service_role",
    );
  });
  const server = startJwksServer({ kind: "status", status: 502 });
  try {
    await t.step("when the JWKS answers 502", async () => {
      await expectUnavailable(hsDeps({ jwksUrl: server.url }), /: HTTP 502$/);
    });
    await t.step("when the JWKS is not JSON", async () => {
      server.serve({ kind: "body", body: "<html>gateway</html>" });
      await expectUnavailable(hsDeps({ jwksUrl: server.url }), /: response is not JSON$/);
    });
    await t.step("when the JWKS has no keys array", async () => {
      server.serve({ kind: "body", body: '{"keys":"nope"}' });
      await expectUnavailable(hsDeps({ jwksUrl: server.url }), /: response has no keys array$/);
    });
    await t.step("when the JWKS is absurdly large", async () => {
      server.serve({ kind: "body", body: JSON.stringify({ keys: [], pad: "x".repeat(100_000) }) });
      await expectUnavailable(hsDeps({ jwksUrl: server.url }), /larger than 65536 bytes$/);
    });
    await t.step("when the JWKS does not answer in time", async () => {
      server.serve({ kind: "hang" });
      await expectUnavailable(
        hsDeps({ jwksUrl: server.url, jwksTimeoutMs: 50 }),
        /: timed out after 50 ms$/,
      );
    });
    await t.step("and recovers on the next request once the JWKS is back", async () => {
      server.serve({ kind: "status", status: 500 });
      const deps = hsDeps({ jwksUrl: server.url });
      await expectUnavailable(deps, /HTTP 500/);
      server.serve({ kind: "keys", keys: [pair.publicJwk] });
      assert.equal((await verifyToken(token, deps)).kind, "admin");
    });
  } finally {
    await server.close();
  }
});

Deno.test("verifyToken() refuses asymmetric tokens when no JWKS is configured", async () => {
  const pair = await generateSigningKeyPair();
  const error = await refusal(await signWithJwk(adminClaims(), pair.privateJwk), hsDeps());
  assert.equal(error.code, "unauthorized");
  assert.match(error.message, /no JWKS configured/);
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
