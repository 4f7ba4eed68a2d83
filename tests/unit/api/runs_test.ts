import assert from "node:assert/strict";
import { errorBody, JOB_RESULT_FIELDS, makeTestApp, tokens } from "./_helpers.ts";

async function startRuns(app: ReturnType<typeof makeTestApp>["app"], token: string, n: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await app.request("/api/jobs/daily-fetch", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, Prefer: "respond-async" },
    });
    assert.equal(res.status, 202);
    ids.push((await res.json()).run_id);
  }
  return ids;
}

Deno.test("GET /api/jobs/runs lists runs with the default limit of 20", async () => {
  const tk = await tokens();
  const { app, jobs, background } = makeTestApp();
  const ids = await startRuns(app, tk.service, 2);
  await Promise.all(background);
  const res = await app.request("/api/jobs/runs", {
    headers: { Authorization: `Bearer ${tk.admin}` },
  });
  assert.equal(res.status, 200);
  const body = await res.json() as { runs: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(body), ["runs"]);
  assert.deepEqual(body.runs.map((r) => r.run_id).sort(), [...ids].sort());
  for (const run of body.runs) {
    assert.deepEqual(Object.keys(run).sort(), [...JOB_RESULT_FIELDS].sort());
  }
  assert.deepEqual(jobs.calls.listRuns, [20]);
});

Deno.test("GET /api/jobs/runs validates limit as an integer from 1 to 100", async (t) => {
  const tk = await tokens();
  const auth = { Authorization: `Bearer ${tk.service}` };
  for (const [query, limit] of [["limit=1", 1], ["limit=100", 100], ["limit=07", 7]] as const) {
    await t.step(`${query} → listRuns(${limit})`, async () => {
      const { app, jobs } = makeTestApp();
      const res = await app.request(`/api/jobs/runs?${query}`, { headers: auth });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.deepEqual(jobs.calls.listRuns, [limit]);
    });
  }
  const bad = ["limit=0", "limit=101", "limit=-1", "limit=2.5", "limit=abc", "limit=1e400"];
  for (const query of [...bad, "limit=", "limit=1&limit=2", "limit=%ZZ"]) {
    await t.step(`${query} → 400`, async () => {
      const { app, jobs } = makeTestApp();
      const res = await app.request(`/api/jobs/runs?${query}`, { headers: auth });
      assert.equal(res.status, 400);
      const error = await errorBody(res);
      assert.equal(error.code, "bad_request");
      assert.match(error.message, /^Invalid query string: limit: /);
      assert.equal(error.details?.[0]?.path, "limit");
      assert.equal(jobs.calls.listRuns.length, 0);
    });
  }
});

Deno.test("GET /api/jobs/runs/{id} returns the run with progress and sources", async () => {
  const tk = await tokens();
  const { app, background } = makeTestApp();
  const [id] = await startRuns(app, tk.service, 1);
  await Promise.all(background);
  const res = await app.request(`/api/jobs/runs/${id}`, {
    headers: { Authorization: `Bearer ${tk.admin}` },
  });
  assert.equal(res.status, 200);
  const body = await res.json() as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(body).sort(),
    [...JOB_RESULT_FIELDS, "progress", "sources"].sort(),
  );
  assert.equal(body.run_id, id);
  assert.equal(body.status, "succeeded");
  assert.deepEqual(body.progress, { done: 3, total: 3 });
  assert.deepEqual(body.sources, []);
});

Deno.test("GET /api/jobs/runs/{id} answers 404 for an unknown run", async () => {
  const tk = await tokens();
  const { app, jobs } = makeTestApp();
  const id = "00000000-0000-0000-0000-000000000000";
  const res = await app.request(`/api/jobs/runs/${id}`, {
    headers: { Authorization: `Bearer ${tk.service}` },
  });
  assert.equal(res.status, 404);
  const error = await errorBody(res);
  assert.equal(error.code, "not_found");
  assert.equal(error.message, `Cannot find run ${id}`);
  assert.deepEqual(jobs.calls.getRun, [id]);
});

Deno.test("GET /api/jobs/runs/{id} answers 400 for an id that is not a UUID", async (t) => {
  const tk = await tokens();
  const ids = [
    "42",
    "not-a-uuid",
    "6f1d0c3e-2b4a-4c5d-8e9f-0a1b2c3d4e5", // one digit short
    "6f1d0c3e-2b4a-4c5d-8e9f-0a1b2c3d4e5fz",
    "%27%20or%201%3D1--",
    "%E0%A4%A",
    "x".repeat(5000),
  ];
  for (const id of ids) {
    await t.step(id.length > 40 ? `${id.slice(0, 10)}… (${id.length} chars)` : id, async () => {
      const { app, jobs } = makeTestApp();
      const res = await app.request(`/api/jobs/runs/${id}`, {
        headers: { Authorization: `Bearer ${tk.service}` },
      });
      assert.equal(res.status, 400);
      const error = await errorBody(res);
      assert.equal(error.code, "bad_request");
      assert.equal(error.details?.[0]?.path, "run_id");
      assert.equal(jobs.calls.getRun.length, 0);
    });
  }
});

Deno.test("POST /api/jobs/alerts/deliver runs one pass over the outbox for the service role or an admin", async (t) => {
  const tk = await tokens();
  for (const [who, token] of [["service role", tk.service], ["admin", tk.admin]] as const) {
    await t.step(`${who} → 200 with the pass's counts`, async () => {
      const { app, jobs } = makeTestApp();
      const res = await app.request("/api/jobs/alerts/deliver", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { attempted: 2, sent: 1, failed: 1, dead: 0 });
      assert.equal(jobs.calls.deliverAlerts, 1);
    });
  }
  await t.step("no credentials → 401, nothing delivered", async () => {
    const { app, jobs } = makeTestApp();
    const res = await app.request("/api/jobs/alerts/deliver", { method: "POST" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    assert.equal(jobs.calls.deliverAlerts, 0);
  });
});
