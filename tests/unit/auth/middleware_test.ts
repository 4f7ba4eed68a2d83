import assert from "node:assert/strict";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  generateSigningKeyPair,
  LOCAL_JWT_SECRET,
  signHs256,
  signWithJwk,
} from "../../../shared/auth/keys.ts";
import { localAuthDeps, NOW_S, tokens, USER_ID, userClaims } from "../../fixtures/caller_tokens.ts";
import { type AuthEnv, AuthHttpException, requireCaller } from "../../../shared/auth/middleware.ts";
import {
  AuthError,
  type Caller,
  createVerifier,
  type Credentials,
} from "../../../shared/auth/verify.ts";
import { closedJwksUrl } from "./_jwks_server.ts";

/**
 * The app under test: the job route behind requireCaller, and an onError doing what the
 * app's does (status from HTTPException, code from the AuthError cause).
 */
function makeApp(verify: (credentials: Credentials) => Promise<Caller>) {
  const app = new Hono<AuthEnv>().basePath("/api");
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const code = err instanceof AuthHttpException ? err.code : "http_error";
      assert.ok(!(err instanceof AuthHttpException) || err.cause instanceof AuthError);
      return c.json({ error: { code, message: err.message } }, err.status);
    }
    return c.json({ error: { code: "internal", message: "Internal error" } }, 500);
  });
  app.post(
    "/jobs/daily-fetch",
    requireCaller({ verify, allow: ["service_role", "admin"] }),
    (c) => {
      const caller = c.get("caller");
      return c.json({ kind: caller.kind, subject: caller.subject });
    },
  );
  return app;
}

async function post(app: Hono<AuthEnv>, authorization?: string) {
  const headers = new Headers();
  if (authorization !== undefined) headers.set("Authorization", authorization);
  const res = await app.request("/api/jobs/daily-fetch", { method: "POST", headers });
  const text = await res.text();
  return { res, text, body: JSON.parse(text) as Record<string, Record<string, string>> };
}

Deno.test("requireCaller() answers each kind of request with the right status", async (t) => {
  const app = makeApp(createVerifier(localAuthDeps()));
  const tk = await tokens();
  const expired = await signHs256(userClaims("admin", { exp: NOW_S - 1 }), LOCAL_JWT_SECRET);
  const wrongSecret = await signHs256(userClaims("admin"), "x".repeat(40));
  const noRole = await signHs256({ exp: NOW_S + 60, sub: USER_ID }, LOCAL_JWT_SECRET);
  // What each request gets: refused (401 unauthorized, with `challenge` when it is not
  // the invalid_token one; 403 forbidden) or admitted as a kind of caller.
  const cases: Array<{
    name: string;
    authorization?: string;
    expect: 401 | 403 | "service_role" | "admin";
    challenge?: string;
  }> = [
    { name: "no Authorization header", expect: 401, challenge: "Bearer" },
    { name: "a Basic scheme", authorization: "Basic dXNlcjpwYXNz", expect: 401 },
    { name: "a token without scheme", authorization: tk.admin, expect: 401 },
    { name: "Bearer with an empty token", authorization: "Bearer ", expect: 401 },
    {
      name: "Bearer with two tokens",
      authorization: `Bearer ${tk.admin} ${tk.admin}`,
      expect: 401,
    },
    { name: "a malformed token", authorization: "Bearer not.a-jwt", expect: 401 },
    { name: "an expired admin token", authorization: `Bearer ${expired}`, expect: 401 },
    {
      name: "an admin token signed with a wrong secret",
      authorization: `Bearer ${wrongSecret}`,
      expect: 401,
    },
    {
      name: "a 100 KB Authorization header",
      authorization: `Bearer ${"A".repeat(100 * 1024)}`,
      expect: 401,
    },
    { name: "the anon key", authorization: `Bearer ${tk.anon}`, expect: 403 },
    { name: "a signed-in user who is not admin", authorization: `Bearer ${tk.user}`, expect: 403 },
    {
      name: "a user with user_metadata.role admin",
      authorization: `Bearer ${tk.selfMadeAdmin}`,
      expect: 403,
    },
    { name: "a token without role", authorization: `Bearer ${noRole}`, expect: 403 },
    { name: "the service-role key", authorization: `Bearer ${tk.service}`, expect: "service_role" },
    { name: "an admin user token", authorization: `Bearer ${tk.admin}`, expect: "admin" },
    {
      name: "an admin user token with a lower-case scheme",
      authorization: `bearer ${tk.admin}`,
      expect: "admin",
    },
  ];
  for (const c of cases) {
    const status = typeof c.expect === "number" ? c.expect : 200;
    await t.step(`${status} for ${c.name}`, async () => {
      const { res, text, body } = await post(app, c.authorization);
      assert.equal(res.status, status);
      if (typeof c.expect === "string") {
        assert.equal(body.kind, c.expect);
        return;
      }
      assert.equal(body.error?.code, c.expect === 401 ? "unauthorized" : "forbidden");
      assert.equal(typeof body.error?.message, "string");
      for (const part of (c.authorization ?? "").split(/[ .]/)) {
        if (part.length >= 8) assert.ok(!text.includes(part), "the body must not echo the token");
      }
      const challenge = res.headers.get("WWW-Authenticate");
      if (status === 401) {
        assert.equal(challenge, c.challenge ?? 'Bearer error="invalid_token"');
      } else {
        assert.equal(challenge, null);
      }
    });
  }
});

Deno.test("requireCaller() puts the verified caller in the context for the handler", async () => {
  const { admin } = await tokens();
  const { res, body } = await post(makeApp(createVerifier(localAuthDeps())), `Bearer ${admin}`);
  assert.equal(res.status, 200);
  assert.deepEqual(body, { kind: "admin", subject: USER_ID });
});

Deno.test("requireCaller() refuses an oversized header without calling verify", async () => {
  let calls = 0;
  const verify = (credentials: Credentials) => {
    calls++;
    return createVerifier(localAuthDeps())(credentials);
  };
  const app = makeApp(verify);
  assert.equal((await post(app, `Bearer ${"A".repeat(100 * 1024)}`)).res.status, 401);
  assert.equal(calls, 0);
  assert.equal((await post(app, `Bearer ${(await tokens()).service}`)).res.status, 200);
  assert.equal(calls, 1);
});

Deno.test("requireCaller() admits only the kinds listed in allow", async (t) => {
  const app = new Hono<AuthEnv>();
  app.onError((err, c) => c.json({}, err instanceof HTTPException ? err.status : 500));
  app.get(
    "/any",
    requireCaller({ verify: createVerifier(localAuthDeps()), allow: ["anon", "user"] }),
    (c) => c.text(c.get("caller").kind),
  );
  const tk = await tokens();
  const byKind = { anon: tk.anon, user: tk.user, admin: tk.admin, service_role: tk.service };
  const expected = { anon: 200, user: 200, admin: 403, service_role: 403 };
  for (const [kind, token] of Object.entries(byKind)) {
    await t.step(`${kind} gets ${expected[kind as keyof typeof expected]}`, async () => {
      const res = await app.request("/any", { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, expected[kind as keyof typeof expected]);
      await res.body?.cancel();
    });
  }
});

Deno.test("requireCaller() answers 503 auth_unavailable when the JWKS cannot be fetched", async () => {
  const pair = await generateSigningKeyPair();
  const realS = Math.floor(Date.now() / 1000);
  const token = await signWithJwk(userClaims("admin", { exp: realS + 600 }), pair.privateJwk);
  const app = makeApp(createVerifier(localAuthDeps({ jwks: new URL(await closedJwksUrl()) })));
  const { res, body } = await post(app, `Bearer ${token}`);
  assert.equal(res.status, 503);
  assert.deepEqual(body, {
    error: {
      code: "auth_unavailable",
      message: "Cannot verify token: signing keys are unavailable",
    },
  });
  assert.equal(res.headers.get("WWW-Authenticate"), null);
});

Deno.test("requireCaller() lets unexpected verifier errors through as 500, not 401", async () => {
  const app = makeApp(() => Promise.reject(new TypeError("bug in the verifier")));
  const { res, body } = await post(app, "Bearer abc.def.ghi");
  assert.equal(res.status, 500);
  assert.equal(body.error?.code, "internal");
});

Deno.test("requireCaller() carries the challenge header on the exception's own response", async () => {
  const app = new Hono<AuthEnv>();
  app.onError((
    err,
  ) => (err instanceof HTTPException ? err.getResponse() : new Response(null, { status: 500 })));
  app.get(
    "/x",
    requireCaller({ verify: createVerifier(localAuthDeps()), allow: ["admin"] }),
    (c) => c.text("ok"),
  );
  const res = await app.request("/x");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
  assert.match(await res.text(), /Missing credentials/);
});
