import assert from "node:assert/strict";
import {
  assertNoStack,
  deferred,
  errorBody,
  JOB_RESULT_FIELDS,
  makeTestApp,
  tokens,
} from "./_helpers.ts";

const PATH = "/api/jobs/daily-fetch";
const ID_A = "6f1d0c3e-2b4a-4c5d-8e9f-0a1b2c3d4e5f";
const ID_B = "7a2e1d4f-3c5b-4d6e-9f0a-1b2c3d4e5f60";

interface Post {
  token: string;
  body?: BodyInit | undefined;
  contentType?: string | undefined;
  headers?: Record<string, string>;
}

async function post(app: ReturnType<typeof makeTestApp>["app"], init: Post) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${init.token}`);
  if (init.contentType !== undefined) headers.set("Content-Type", init.contentType);
  return await app.request(PATH, {
    method: "POST",
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}

/**
 * Posts `init` to a fresh app and asserts the refusal: `status`, the error `code`, and that
 * no run was started. Resolves to the error body.
 */
async function refused(init: Post, status: number, code: string) {
  const { app, jobs } = makeTestApp();
  const res = await post(app, init);
  assert.equal(res.status, status);
  const error = await errorBody(res);
  assert.equal(error.code, code);
  assert.equal(jobs.calls.startRun.length, 0);
  return error;
}

Deno.test("daily-fetch runs synchronously and answers 200 with the JobResult", async () => {
  const tk = await tokens();
  const { app, jobs } = makeTestApp();
  const res = await post(app, { token: tk.admin });
  assert.equal(res.status, 200);
  const text = await res.text();
  assertNoStack(text);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [...JOB_RESULT_FIELDS].sort());
  assert.equal(body.status, "succeeded");
  assert.equal(body.trigger, "manual");
  assert.equal(body.sources_processed, 3);
  assert.deepEqual(jobs.calls.startRun, [{ trigger: "manual" }]);
  assert.deepEqual(jobs.calls.processRun, [body.run_id]);
});

Deno.test("daily-fetch passes force and source_ids to the job", async () => {
  const tk = await tokens();
  const { app, jobs } = makeTestApp();
  const res = await post(app, {
    token: tk.service,
    contentType: "application/json; charset=utf-8",
    body: JSON.stringify({ force: true, source_ids: [ID_A, ID_B], trigger: "manual" }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(jobs.calls.startRun, [
    { trigger: "manual", force: true, source_ids: [ID_A, ID_B] },
  ]);
});

Deno.test("daily-fetch takes an empty or absent body as {}", async (t) => {
  const tk = await tokens();
  const cases: Array<{ name: string; body?: string; contentType?: string }> = [
    { name: "no body and no content type" },
    { name: "an empty JSON body", body: "", contentType: "application/json" },
    { name: "a blank JSON body", body: " \n ", contentType: "application/json" },
    { name: "{}", body: "{}", contentType: "application/json" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { app, jobs } = makeTestApp();
      const res = await post(app, { token: tk.admin, body: c.body, contentType: c.contentType });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.deepEqual(jobs.calls.startRun, [{ trigger: "manual" }]);
    });
  }
});

Deno.test("daily-fetch refuses bad bodies with 400 and field details, never starting the job", async (t) => {
  const tk = await tokens();
  const many = Array.from({ length: 1001 }, () => crypto.randomUUID());
  const cases: Array<{ name: string; body: string; path: string }> = [
    { name: "an unknown field", body: '{"forse": true}', path: "forse" },
    { name: "force as a string", body: '{"force": "yes"}', path: "force" },
    { name: "force as null", body: '{"force": null}', path: "force" },
    { name: "source_ids not an array", body: `{"source_ids": "${ID_A}"}`, path: "source_ids" },
    { name: "a bad uuid", body: '{"source_ids": ["not-a-uuid"]}', path: "source_ids.0" },
    { name: "a number as uuid", body: `{"source_ids": ["${ID_A}", 7]}`, path: "source_ids.1" },
    { name: "an empty source_ids", body: '{"source_ids": []}', path: "source_ids" },
    { name: "1001 source_ids", body: JSON.stringify({ source_ids: many }), path: "source_ids" },
    {
      name: "a repeated source id",
      body: JSON.stringify({ source_ids: [ID_A, ID_A.toUpperCase()] }),
      path: "source_ids",
    },
    { name: "an unknown trigger", body: '{"trigger": "webhook"}', path: "trigger" },
    { name: "a JSON array", body: "[]", path: "" },
    { name: "a JSON string", body: '"force"', path: "" },
    { name: "JSON null", body: "null", path: "" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const json = { token: tk.admin, body: c.body, contentType: "application/json" };
      const error = await refused(json, 400, "bad_request");
      assert.match(error.message, /^Invalid request body: /);
      assert.ok(error.details !== undefined && error.details.length > 0);
      assert.ok(
        error.details.some((d) => d.path === c.path),
        `expected a detail at "${c.path}", got ${JSON.stringify(error.details)}`,
      );
    });
  }
});

Deno.test("daily-fetch refuses malformed JSON with 400 without echoing the parser", async () => {
  const tk = await tokens();
  const json = { token: tk.admin, body: '{"force": tru', contentType: "application/json" };
  const error = await refused(json, 400, "bad_request");
  assert.equal(error.message, "Invalid request body: malformed JSON");
});

Deno.test("daily-fetch refuses bodies that are not JSON with 415", async (t) => {
  const tk = await tokens();
  const cases: Array<{ name: string; contentType?: string; body: BodyInit }> = [
    { name: "text/plain", contentType: "text/plain;charset=UTF-8", body: '{"force":true}' },
    { name: "a form", contentType: "application/x-www-form-urlencoded", body: "force=true" },
    { name: "a look-alike type", contentType: "application/jsonx", body: "{}" },
    { name: "a garbage type", contentType: "\u00ff\u00fe;;;===", body: "{}" },
    // Bytes, because a string body would make Request add text/plain.
    { name: "no content type", body: new TextEncoder().encode('{"force":true}') },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const init = { token: tk.admin, body: c.body, contentType: c.contentType };
      await refused(init, 415, "unsupported_media_type");
    });
  }
});

Deno.test("daily-fetch refuses a body over the limit with 413 without reading it all", async (t) => {
  const tk = await tokens();
  await t.step("declared by Content-Length", async () => {
    await refused(
      {
        token: tk.admin,
        contentType: "application/json",
        headers: { "Content-Length": String(10 * 1024 * 1024) },
        body: "{}",
      },
      413,
      "payload_too_large",
    );
  });
  await t.step("streamed without a length: stops after the limit", async () => {
    const { app, jobs } = makeTestApp();
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 640) controller.close(); // 10 MB in all
        else controller.enqueue(chunk);
      },
    });
    const res = await post(app, { token: tk.admin, contentType: "application/json", body });
    assert.equal(res.status, 413);
    assert.equal((await errorBody(res)).code, "payload_too_large");
    assert.ok(pulled < 20, `read ${pulled} chunks of 16 KB for a 64 KB limit`);
    assert.equal(jobs.calls.startRun.length, 0);
  });
  await t.step("just under the limit is read", async () => {
    const { app } = makeTestApp({ maxBodyBytes: 2048 });
    const body = `{"force": true}${" ".repeat(2048 - 15)}`;
    const res = await post(app, { token: tk.admin, contentType: "application/json", body });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("daily-fetch lets only the service role say trigger cron", async () => {
  const tk = await tokens();
  const cron = { contentType: "application/json", body: '{"trigger": "cron"}' };
  await refused({ token: tk.admin, ...cron }, 403, "forbidden");

  const service = makeTestApp();
  const ok = await post(service.app, { token: tk.service, ...cron });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).trigger, "cron");
  assert.deepEqual(service.jobs.calls.startRun, [{ trigger: "cron" }]);
});

Deno.test("daily-fetch with Prefer: respond-async answers 202 and processes in the background", async () => {
  const tk = await tokens();
  const gate = deferred();
  const { app, jobs, background } = makeTestApp({ processGate: gate.promise });
  const res = await post(app, {
    token: tk.service,
    contentType: "application/json",
    body: '{"trigger": "cron"}',
    headers: { Prefer: "wait=5, respond-async" },
  });
  assert.equal(res.status, 202);
  const body = await res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [...JOB_RESULT_FIELDS].sort());
  assert.equal(body.status, "running");
  assert.equal(res.headers.get("location"), `/functions/v1/api/jobs/runs/${body.run_id}`);
  assert.equal(res.headers.get("preference-applied"), "respond-async");
  // The answer came while the run is still being processed.
  assert.deepEqual(jobs.calls.processRun, [body.run_id]);
  assert.equal(jobs.runs.get(String(body.run_id))?.status, "running");
  assert.equal(background.length, 1);
  gate.resolve();
  await Promise.all(background);
  assert.equal(jobs.runs.get(String(body.run_id))?.status, "succeeded");
});

Deno.test("a failure of background processing is logged, not thrown", async () => {
  const tk = await tokens();
  const { app, logger, background } = makeTestApp({
    processError: new Error("Cannot claim items: database went away"),
  });
  const res = await post(app, { token: tk.admin, headers: { Prefer: "respond-async" } });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  await Promise.all(background);
  const logged = logger.records.filter((r) => r.level === "error");
  assert.equal(logged.length, 1);
  assert.match(logged[0]?.text ?? "", /Cannot process run .+ in the background: .*went away/);
});

Deno.test("daily-fetch answers 409 run_in_progress naming the running run", async () => {
  const tk = await tokens();
  const running = crypto.randomUUID();
  const { app, jobs } = makeTestApp({ inProgress: running });
  const res = await post(app, { token: tk.admin });
  assert.equal(res.status, 409);
  const error = await errorBody(res);
  assert.equal(error.code, "run_in_progress");
  assert.equal(error.run_id, running);
  assert.ok(error.message.includes(running));
  assert.equal(jobs.calls.processRun.length, 0);
});

Deno.test("an unexpected job failure is a 500 internal that shows nothing and is logged", async () => {
  const tk = await tokens();
  const boom = new Error("connection string postgres://secret@db was refused");
  const { app, logger } = makeTestApp({ explode: boom });
  const res = await post(app, { token: tk.admin });
  assert.equal(res.status, 500);
  const text = await res.clone().text();
  assert.ok(!text.includes("secret"));
  const error = await errorBody(res);
  assert.deepEqual(error, { code: "internal", message: "Internal error" });
  const logged = logger.records.filter((r) => r.level === "error");
  assert.equal(logged.length, 1);
  assert.match(logged[0]?.text ?? "", /POST \/api\/jobs\/daily-fetch/);
  assert.ok(!JSON.stringify(logged).includes(tk.admin), "the token must not be logged");
});

Deno.test("a job rejecting with a non-Error still gets the JSON 500", async () => {
  const tk = await tokens();
  const { app, logger } = makeTestApp({ explode: "connection lost" });
  const res = await post(app, { token: tk.admin });
  assert.equal(res.status, 500);
  assert.deepEqual(await errorBody(res), { code: "internal", message: "Internal error" });
  assert.match(logger.records[0]?.text ?? "", /Non-error thrown: connection lost/);
});

Deno.test("a synchronous daily-fetch still running after API_SYNC_ANSWER_MS answers 202 with Location and keeps working", async () => {
  const tk = await tokens();
  const gate = deferred<void>();
  const { app, jobs, background } = makeTestApp({ processGate: gate.promise, syncAnswerMs: 20 });
  const res = await post(app, { token: tk.service });
  assert.equal(res.status, 202);
  const body = await res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [...JOB_RESULT_FIELDS].sort());
  assert.equal(body.status, "running");
  assert.equal(res.headers.get("Location"), `/functions/v1/api/jobs/runs/${body.run_id}`);
  assert.equal(background.length, 1, "the work goes on in the background");
  gate.resolve();
  await Promise.all(background);
  assert.equal(jobs.runs.get(body.run_id as string)?.status, "succeeded");
});
