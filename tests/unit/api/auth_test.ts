import assert from "node:assert/strict";
import { AuthError } from "../../../shared/auth/auth_error.ts";
import { API_KEYS, errorBody, makeTestApp, tokens } from "./_helpers.ts";

Deno.test("POST /api/jobs/daily-fetch admits only the service role and admins", async (t) => {
  const tk = await tokens();
  const cases: Array<
    { name: string; authorization?: string; apikey?: string; status: number; code?: string }
  > = [
    { name: "no Authorization header", status: 401, code: "unauthorized" },
    { name: "an empty header", authorization: "", status: 401, code: "unauthorized" },
    { name: "a Basic scheme", authorization: "Basic dXNlcjpwYXNz", status: 401 },
    { name: "Bearer without a token", authorization: "Bearer ", status: 401 },
    { name: "a token that is not a JWT", authorization: "Bearer not.a.jwt", status: 401 },
    { name: "an absurdly long token", authorization: `Bearer ${"a".repeat(100_000)}`, status: 401 },
    { name: "an expired admin token", authorization: `Bearer ${tk.expiredAdmin}`, status: 401 },
    {
      name: "a service key signed with another secret",
      authorization: `Bearer ${tk.wrongSecretService}`,
      status: 401,
    },
    { name: "an alg none token", authorization: `Bearer ${tk.algNone}`, status: 401 },
    { name: "the anon key", authorization: `Bearer ${tk.anon}`, status: 403, code: "forbidden" },
    { name: "a plain user", authorization: `Bearer ${tk.user}`, status: 403, code: "forbidden" },
    {
      name: "a user calling themselves admin in user_metadata",
      authorization: `Bearer ${tk.selfMadeAdmin}`,
      status: 403,
    },
    { name: "an admin user", authorization: `Bearer ${tk.admin}`, status: 200 },
    { name: "the service-role key", authorization: `Bearer ${tk.service}`, status: 200 },
    { name: "a lowercase bearer scheme", authorization: `bearer ${tk.service}`, status: 200 },
    { name: "the secret key in apikey", apikey: API_KEYS.secret, status: 200 },
    {
      name: "the secret key in apikey and as bearer",
      apikey: API_KEYS.secret,
      authorization: `Bearer ${API_KEYS.secret}`,
      status: 200,
    },
    {
      name: "the secret key only as bearer",
      authorization: `Bearer ${API_KEYS.secret}`,
      status: 401,
    },
    {
      name: "the publishable key (a project key, but not allowed)",
      apikey: API_KEYS.publishable,
      authorization: `Bearer ${API_KEYS.publishable}`,
      status: 403,
    },
    {
      name: "a key of another project",
      apikey: `${API_KEYS.secret.slice(0, -6)}zzzzzz`,
      status: 401,
    },
    {
      name: "an admin token with the publishable key",
      apikey: API_KEYS.publishable,
      authorization: `Bearer ${tk.admin}`,
      status: 200,
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} → ${c.status}`, async () => {
      const { app, jobs } = makeTestApp();
      const headers = new Headers();
      if (c.authorization !== undefined) headers.set("Authorization", c.authorization);
      if (c.apikey !== undefined) headers.set("apikey", c.apikey);
      const res = await app.request("/api/jobs/daily-fetch", { method: "POST", headers });
      assert.equal(res.status, c.status);
      if (c.status === 200) {
        assert.equal(jobs.calls.startRun.length, 1);
        await res.body?.cancel();
        return;
      }
      const error = await errorBody(res);
      assert.equal(error.code, c.code ?? (c.status === 401 ? "unauthorized" : "forbidden"));
      assert.equal(jobs.calls.startRun.length, 0, "the job must not start");
      if (c.status === 401) assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    });
  }
});

Deno.test("the run routes require the same callers as daily-fetch", async (t) => {
  const tk = await tokens();
  const id = crypto.randomUUID();
  for (const path of ["/api/jobs/runs", `/api/jobs/runs/${id}`]) {
    await t.step(`GET ${path.replace(id, "{id}")}`, async () => {
      const { app, jobs } = makeTestApp();
      const none = await app.request(path);
      assert.equal(none.status, 401);
      assert.equal((await errorBody(none)).code, "unauthorized");
      const user = await app.request(path, { headers: { Authorization: `Bearer ${tk.user}` } });
      assert.equal(user.status, 403);
      assert.equal((await errorBody(user)).code, "forbidden");
      assert.equal(jobs.calls.listRuns.length + jobs.calls.getRun.length, 0);
      const admin = await app.request(path, { headers: { Authorization: `Bearer ${tk.admin}` } });
      assert.notEqual(admin.status, 401);
      assert.notEqual(admin.status, 403);
      await admin.body?.cancel();
    });
  }
});

Deno.test("an unauthenticated caller is refused before the body is read", async () => {
  const { app, jobs } = makeTestApp();
  const res = await app.request("/api/jobs/daily-fetch", {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: "x".repeat(200_000),
  });
  assert.equal(res.status, 401);
  assert.equal((await errorBody(res)).code, "unauthorized");
  assert.equal(jobs.calls.startRun.length, 0);
});

Deno.test("the signing keys being unavailable is a 503 auth_unavailable, not a 401", async () => {
  const { app, jobs } = makeTestApp({
    verify: () =>
      Promise.reject(new AuthError("auth_unavailable", "Cannot verify token: keys unavailable")),
  });
  const res = await app.request("/api/jobs/daily-fetch", {
    method: "POST",
    headers: { Authorization: "Bearer x.y.z" },
  });
  assert.equal(res.status, 503);
  const error = await errorBody(res);
  assert.equal(error.code, "auth_unavailable");
  assert.equal(error.message, "Cannot verify token: keys unavailable");
  assert.equal(jobs.calls.startRun.length, 0);
});
