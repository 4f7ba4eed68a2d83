import assert from "node:assert/strict";
import { Hono } from "hono";
import { mountApiDocs } from "../../../functions/api/api_docs.ts";
import { assertNoStack, errorBody, makeTestApp, NOW, tokens } from "./_helpers.ts";

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  servers?: { url: string }[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: {
    schemas: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
};

Deno.test("GET /api/openapi.json is an OpenAPI 3.1 document of every route, without auth", async () => {
  const { app } = makeTestApp();
  const res = await app.request("/api/openapi.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const doc = await res.json() as Doc;
  assert.equal(doc.openapi, "3.1.0");
  assert.ok(doc.info.title.length > 0);
  assert.deepEqual(doc.servers?.map((s) => s.url), ["/functions/v1"]);
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    "/api/alerts",
    "/api/alerts/{id}/retry",
    "/api/changes",
    "/api/feeds/changes.atom",
    "/api/feeds/tokens",
    "/api/feeds/tokens/{id}",
    "/api/health",
    "/api/jobs/alerts/deliver",
    "/api/jobs/daily-fetch",
    "/api/jobs/runs",
    "/api/jobs/runs/{run_id}",
    "/api/jobs/runs/{run_id}/continue",
    "/api/sources",
    "/api/sources/preview",
    "/api/sources/{id}",
    "/api/sources/{id}/changes",
    "/api/sources/{id}/check",
    "/api/subscriptions",
    "/api/subscriptions/{id}",
    "/api/subscriptions/{id}/test",
  ]);
  assert.deepEqual(doc.components.securitySchemes.BearerAuth, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: (doc.components.securitySchemes.BearerAuth as { description: string })
      .description,
  });
  for (
    const name of [
      "DailyFetchRequest",
      "JobResult",
      "RunDetails",
      "RunList",
      "Error",
    ]
  ) {
    assert.ok(name in doc.components.schemas, `component ${name}`);
  }

  const post = doc.paths["/api/jobs/daily-fetch"]?.post as {
    security: unknown;
    requestBody: {
      required?: boolean;
      content: Record<string, { schema: { $ref: string } }>;
    };
    responses: Record<string, unknown>;
  };
  assert.deepEqual(post.security, [{ BearerAuth: [] }]);
  assert.notEqual(post.requestBody.required, true);
  assert.equal(
    post.requestBody.content["application/json"]?.schema.$ref,
    "#/components/schemas/DailyFetchRequest",
  );
  for (
    const status of ["200", "202", "400", "401", "403", "409", "413", "415"]
  ) {
    assert.ok(status in post.responses, `daily-fetch documents ${status}`);
  }
  const body = doc.components.schemas.DailyFetchRequest as {
    additionalProperties: unknown;
    properties: Record<string, unknown>;
  };
  assert.equal(body.additionalProperties, false);
  assert.deepEqual(Object.keys(body.properties).sort(), [
    "force",
    "source_ids",
    "trigger",
  ]);

  const getRun = doc.paths["/api/jobs/runs/{run_id}"]?.get as {
    parameters: { name: string; in: string }[];
    responses: Record<string, unknown>;
  };
  assert.deepEqual(getRun.parameters.map((p) => [p.name, p.in]), [[
    "run_id",
    "path",
  ]]);
  assert.ok("404" in getRun.responses);
  const health = doc.paths["/api/health"]?.get as { security?: unknown };
  assert.equal(health.security, undefined);
});

Deno.test("GET /api/docs serves Swagger UI from the pinned package, offline, under a CSP", async () => {
  const { app } = makeTestApp();
  const res = await app.request("/api/docs");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  const html = await res.text();
  // Only the function's own assets, by relative URLs; no inline script, no CDN.
  const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(srcs, [
    "./docs-assets/swagger-ui.css",
    "./docs-assets/swagger-ui-bundle.js",
    "./docs-assets/init.js",
  ]);
  assert.doesNotMatch(html, /<script>/);
  const init = await (await app.request("/api/docs-assets/init.js")).text();
  assert.match(init, /SwaggerUIBundle\(\{ url: "\.\/openapi\.json"/);
  const bundle = await app.request("/api/docs-assets/swagger-ui-bundle.js");
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get("content-type") ?? "", /^text\/javascript/);
  const js = await bundle.text();
  const pinned = await Deno.readTextFile(
    new URL(import.meta.resolve("swagger-ui-dist/swagger-ui-bundle.js")),
  );
  assert.equal(js, pinned);
  assert.equal(
    (await app.request("/api/docs-assets/swagger-ui.css")).status,
    200,
  );
  assert.equal((await app.request("/api/docs-assets/nope.js")).status, 404);
});

Deno.test("an asset the function cannot find answers 503 unavailable, not 500 (a bundle without the import map)", async () => {
  // The stack's edge profile boots a bundle: `import.meta.resolve` of the package path throws.
  const unresolvable = new Hono();
  mountApiDocs(unresolvable, "t", (specifier) => {
    throw new TypeError(
      `Relative import path "${specifier}" not prefixed with / or ./ or ../`,
    );
  });
  // Resolved, but the file is not there (a deploy without the static files).
  const missing = new Hono();
  mountApiDocs(
    missing,
    "t",
    (specifier) => new URL(`./no-such-dir/${specifier}`, import.meta.url).href,
  );
  for (const app of [unresolvable, missing]) {
    for (const name of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
      const res = await app.request(`/docs-assets/${name}`);
      assert.equal(res.status, 503);
      const body = await res.json() as {
        error: { code: string; message: string };
      };
      assert.equal(body.error.code, "unavailable");
      assert.match(
        body.error.message,
        new RegExp(`asset ${name.replace(".", "\\.")} is not bundled`),
      );
      assertNoStack(JSON.stringify(body));
    }
    // The page and its start-up script do not depend on the package's files.
    assert.equal((await app.request("/docs")).status, 200);
    assert.equal((await app.request("/docs-assets/init.js")).status, 200);
    assert.equal((await app.request("/docs-assets/nope.js")).status, 404);
  }
});

Deno.test("GET /api/health reports a reachable database without auth", async () => {
  const { app } = makeTestApp();
  const res = await app.request("/api/health");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.database, "reachable");
  assert.equal(body.time, NOW.toISOString());
});

Deno.test("unknown routes and methods answer a JSON 404", async (t) => {
  const tk = await tokens();
  const cases: Array<[string, string, Record<string, string>]> = [
    ["GET", "/api/nope", {}],
    ["GET", "/elsewhere", {}],
    ["DELETE", "/api/health", {}],
    ["GET", "/api/jobs/daily-fetch", { Authorization: `Bearer ${tk.service}` }],
    ["PUT", "/api/jobs/runs", { Authorization: `Bearer ${tk.service}` }],
  ];
  for (const [method, path, headers] of cases) {
    await t.step(`${method} ${path}`, async () => {
      const { app } = makeTestApp();
      const res = await app.request(path, { method, headers });
      assert.equal(res.status, 404);
      assert.equal((await errorBody(res)).code, "not_found");
    });
  }
});

Deno.test("absurd headers and paths give 4xx, never 5xx", async (t) => {
  const tk = await tokens();
  const auth = `Bearer ${tk.admin}`;
  const cases: Array<
    { name: string; path?: string; method?: string; headers: HeadersInit }
  > = [
    {
      name: "a 100 KB Authorization header",
      headers: { Authorization: "x".repeat(100_000) },
    },
    {
      name: "a bearer token of binary junk",
      headers: { Authorization: "Bearer \u00ff\u00fe.." },
    },
    {
      name: "a token with many dots",
      headers: { Authorization: `Bearer ${".".repeat(5000)}` },
    },
    {
      name: "a JWT header that is not JSON",
      headers: { Authorization: `Bearer ${btoa("{nope")}.${btoa("{}")}.sig` },
    },
    {
      name: "a 100 KB Prefer header",
      method: "POST",
      headers: {
        Authorization: `Bearer ${tk.user}`,
        Prefer: "respond-async,".repeat(8000),
      },
    },
    {
      name: "a content type of 10 KB",
      method: "POST",
      headers: {
        Authorization: auth,
        "Content-Type": `application/json;${"a=b;".repeat(2000)}`,
      },
    },
    {
      name: "a path of 20 KB",
      path: `/api/jobs/runs/${"%2F".repeat(7000)}`,
      headers: {},
    },
    {
      name: "a query of 20 KB",
      path: `/api/jobs/runs?${"limit=1&".repeat(2500)}`,
      headers: { Authorization: auth },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { app } = makeTestApp();
      const res = await app.request(c.path ?? "/api/jobs/daily-fetch", {
        method: c.method ?? "POST",
        headers: c.headers,
      });
      assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
      const text = await res.text();
      assertNoStack(text);
      assert.ok(text.length < 10_000, "the answer does not echo the input");
    });
  }
});
