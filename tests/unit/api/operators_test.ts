// The operators' routes without a database: authorisation, save-time validation (refused
// before any write), the mapping of database constraint errors to fields, and the preview
// through the real pipeline against a local HTTP server.
import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../../../shared/config.ts";
import type { FetchFn } from "../../../shared/types.ts";
import { errorBody, makeTestApp, tokens } from "./_helpers.ts";

/** A PostgREST answer the fake database gives to one request. */
type DbAnswer = { status: number; body: unknown };

/** The app on a fake PostgREST that records requests; `answer` decides what it says. */
function operatorApp(options: {
  answer?: (method: string, path: string) => DbAnswer | undefined;
  config?: Partial<Config>;
  fetch?: FetchFn;
} = {}) {
  const dbRequests: { method: string; path: string }[] = [];
  const dbFetch: FetchFn = (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    dbRequests.push({ method: req.method, path: url.pathname });
    const given = options.answer?.(req.method, url.pathname);
    const answer = given ??
      (url.pathname.endsWith("/check_frequencies")
        ? { status: 200, body: [{ name: "daily" }, { name: "hourly" }, { name: "weekly" }] }
        : { status: 200, body: [] });
    return Promise.resolve(
      new Response(JSON.stringify(answer.body), {
        status: answer.status,
        headers: { "content-type": "application/json" },
      }),
    );
  };
  const { app, logger } = makeTestApp({
    dbFetch,
    operators: {
      config: { ...DEFAULT_CONFIG, ...options.config },
      fetch: options.fetch ?? (() => Promise.reject(new Error("no network in unit tests"))),
      // Every name resolves to a public address; literals are checked by the guard itself.
      resolveHost: () => Promise.resolve(["93.184.215.14"]),
    },
  });
  const writes = () => dbRequests.filter((r) => r.method !== "GET" && r.method !== "HEAD");
  return { app, dbRequests, writes, logger };
}

async function send(
  app: ReturnType<typeof operatorApp>["app"],
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
) {
  const headers = new Headers();
  if (token !== undefined) headers.set("Authorization", `Bearer ${token}`);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  return await app.request(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

const ID = "7d0c3a58-2f39-4a8e-9a57-2f2a8c1e0b11";
const ROUTES: [string, string, unknown?][] = [
  ["GET", "/api/sources"],
  ["POST", "/api/sources", { name: "x", url: "https://example.org/" }],
  ["GET", `/api/sources/${ID}`],
  ["PATCH", `/api/sources/${ID}`, { active: false }],
  ["DELETE", `/api/sources/${ID}`],
  ["POST", "/api/sources/preview", { url: "https://example.org/" }],
  ["POST", `/api/sources/${ID}/check`],
  ["GET", `/api/sources/${ID}/changes`],
  ["GET", "/api/subscriptions"],
  ["POST", "/api/subscriptions", { channel: "email", target: "ops@example.org" }],
  ["GET", `/api/subscriptions/${ID}`],
  ["PATCH", `/api/subscriptions/${ID}`, { active: false }],
  ["DELETE", `/api/subscriptions/${ID}`],
  ["POST", `/api/subscriptions/${ID}/test`],
  ["GET", "/api/changes"],
  ["GET", "/api/alerts?status=failed,dead"],
  ["POST", `/api/alerts/${ID}/retry`],
  ["GET", "/api/feeds/tokens"],
  ["POST", "/api/feeds/tokens", { name: "reader" }],
  ["DELETE", `/api/feeds/tokens/${ID}`],
];

Deno.test("the operators' routes admit only the service role and admin users", async (t) => {
  const tk = await tokens();
  for (const [method, path, body] of ROUTES) {
    await t.step(`${method} ${path.replace(ID, "{id}")}`, async () => {
      const { app, dbRequests } = operatorApp();
      for (
        const [token, status] of [
          [undefined, 401],
          ["not.a.jwt", 401],
          [tk.expiredAdmin, 401],
          [tk.anon, 403],
          [tk.user, 403],
          [tk.selfMadeAdmin, 403],
        ] as const
      ) {
        const res = await send(app, method, path, token, body);
        assert.equal(res.status, status, `token ${String(token).slice(0, 12)}`);
        await errorBody(res);
      }
      assert.equal(dbRequests.length, 0, "a refused caller never reaches the database");
      for (const token of [tk.admin, tk.service]) {
        const res = await send(app, method, path, token, body);
        assert.ok(![401, 403].includes(res.status), `admitted: got ${res.status}`);
        await res.body?.cancel();
      }
    });
  }
});

Deno.test("POST /api/sources refuses what the pipeline could not run, before any write", async (t) => {
  const tk = await tokens();
  // A body with a broken field, refused with a detail at `path` (the body's field unless
  // told) whose message matches `match`.
  const refused = (
    name: string,
    body: Record<string, unknown>,
    match: RegExp,
    path = Object.keys(body)[0]!,
  ) => ({ name, body, match, path });
  const cases = [
    refused("a host that is a hyphen", { url: "http://-/" }, /host/),
    refused("not a URL", { url: "policy page" }, /not a URL/),
    refused("an ftp URL", { url: "ftp://example.org/a" }, /http/),
    refused("credentials in the URL", { url: "https://u:p@example.org/" }, /credentials/),
    refused("the cloud metadata address", { url: "http://169.254.169.254/latest/" }, /metadata/),
    refused("a private address", { url: "http://10.1.2.3/" }, /private/),
    refused("loopback where the policy refuses it", { url: "http://127.0.0.1:8080/" }, /loopback/),
    refused("a broken CSS selector", { css_selector: "div[" }, /CSS selector is not valid/),
    refused("markup instead of a selector", { css_selector: "<div>" }, /HTML markup/),
    refused(
      "an ignore pattern that does not compile",
      { ignore_patterns: ["Updated: .*", "(unclosed"] },
      /not a valid JavaScript regular expression/,
      "ignore_patterns.1",
    ),
    refused(
      "an ignore pattern that hides every change",
      { ignore_patterns: ["[\\s\\S]*"] },
      /matches all text/,
      "ignore_patterns.0",
    ),
    refused(
      "an unsupported regex flag",
      { ignore_patterns: ["/x/y"] },
      /flags/,
      "ignore_patterns.0",
    ),
    refused(
      "51 ignore patterns",
      { ignore_patterns: Array.from({ length: 51 }, (_, i) => `p${i}`) },
      /at most 50/,
    ),
    refused("an unknown frequency", { check_frequency: "monthly" }, /daily, hourly, weekly/),
    refused("a blank name", { name: "  " }, /blank/),
    refused("an unknown field", { selector: "main" }, /Unknown/),
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { app, writes } = operatorApp();
      const res = await send(app, "POST", "/api/sources", tk.service, {
        name: "Terms",
        url: "https://example.org/terms",
        ...c.body,
      });
      assert.equal(res.status, 400);
      const error = await errorBody(res);
      assert.equal(error.code, "bad_request");
      const detail = error.details?.find((d) => d.path === c.path);
      assert.ok(detail, `a detail for ${c.path}: ${JSON.stringify(error.details)}`);
      assert.match(detail.message, c.match);
      assert.deepEqual(writes(), [], "nothing is written");
    });
  }
  await t.step("several broken fields are all listed", async () => {
    const { app } = operatorApp();
    const res = await send(app, "POST", "/api/sources", tk.service, {
      name: "x",
      url: "http://-/",
      css_selector: "div[",
      ignore_patterns: ["(a"],
      check_frequency: "monthly",
    });
    const error = await errorBody(res);
    assert.deepEqual(error.details?.map((d) => d.path), [
      "url",
      "css_selector",
      "ignore_patterns.0",
      "check_frequency",
    ]);
  });
  await t.step("loopback is accepted where the policy allows it (the local stack)", async () => {
    const { app, writes } = operatorApp({
      config: { FETCH_ALLOW_LOOPBACK: true },
      answer: (method, path) =>
        method === "POST" && path.endsWith("/sources")
          ? { status: 201, body: { id: ID } }
          : undefined,
    });
    const res = await send(app, "POST", "/api/sources", tk.service, {
      name: "Local",
      url: "http://127.0.0.1:8080/page",
    });
    // The fake database has no row to read back: the write happened, then a 500.
    assert.equal(writes().length, 1);
    await res.body?.cancel();
  });
});

Deno.test("a database constraint becomes a field error, never the database's text", async (t) => {
  const tk = await tokens();
  const refuse = (code: string, message: string) => (method: string, path: string) =>
    method === "POST" && path.endsWith("/sources")
      ? { status: 400, body: { code, message, details: null, hint: null } }
      : undefined;
  await t.step("sources_url_host_valid → url", async () => {
    const { app } = operatorApp({
      answer: refuse(
        "23514",
        'new row for relation "sources" violates check constraint "sources_url_host_valid"',
      ),
    });
    const res = await send(app, "POST", "/api/sources", tk.service, {
      name: "x",
      url: "https://example.org/",
    });
    assert.equal(res.status, 400);
    const text = await res.clone().text();
    assert.doesNotMatch(text, /constraint|violates|relation/);
    const error = await errorBody(res);
    assert.deepEqual(error.details, [{ path: "url", message: "URL has no valid host name" }]);
  });
  await t.step("the source trigger's ignore pattern refusal → ignore_patterns", async () => {
    const { app } = operatorApp({
      answer: refuse("22023", "Invalid ignore pattern (: parentheses () not balanced"),
    });
    const res = await send(app, "POST", "/api/sources", tk.service, {
      name: "x",
      url: "https://example.org/",
    });
    const error = await errorBody(res);
    assert.equal(error.details?.[0]?.path, "ignore_patterns");
    assert.doesNotMatch(JSON.stringify(error), /parentheses/);
  });
  await t.step("an unknown database failure is a 500 without its text", async () => {
    const { app, logger } = operatorApp({
      answer: refuse("XX000", "internal secret detail of relation sources"),
    });
    const res = await send(app, "POST", "/api/sources", tk.service, {
      name: "x",
      url: "https://example.org/",
    });
    assert.equal(res.status, 500);
    const error = await errorBody(res);
    assert.equal(error.message, "Internal error");
    assert.ok(logger.records.some((r) => r.level === "error"), "it is logged");
  });
});

Deno.test("PATCH /api/sources/{id} checks the fields it changes", async (t) => {
  const tk = await tokens();
  await t.step("an empty patch", async () => {
    const { app } = operatorApp();
    const res = await send(app, "PATCH", `/api/sources/${ID}`, tk.admin, {});
    assert.equal(res.status, 400);
    assert.match((await errorBody(res)).message, /at least one field/);
  });
  await t.step("a bad selector", async () => {
    const { app, writes } = operatorApp();
    const res = await send(app, "PATCH", `/api/sources/${ID}`, tk.admin, { css_selector: "::" });
    assert.equal(res.status, 400);
    assert.equal((await errorBody(res)).details?.[0]?.path, "css_selector");
    assert.deepEqual(writes(), []);
  });
  await t.step("a bad id", async () => {
    const { app } = operatorApp();
    const res = await send(app, "PATCH", "/api/sources/42", tk.admin, { active: true });
    assert.equal(res.status, 400);
    await res.body?.cancel();
  });
});

Deno.test("POST /api/subscriptions applies the channel rules", async (t) => {
  const tk = await tokens();
  const cases: { name: string; body: Record<string, unknown>; path: string; match: RegExp }[] = [
    {
      name: "a webhook to the metadata address",
      body: { channel: "webhook", target: "http://169.254.169.254/" },
      path: "target",
      match: /metadata/,
    },
    {
      name: "a webhook that is not a URL",
      body: { channel: "webhook", target: "example.org/hook" },
      path: "target",
      match: /not a URL/,
    },
    {
      name: "a Slack target on another host",
      body: { channel: "slack", target: "https://example.org/services/T/B/x" },
      path: "target",
      match: /hooks\.slack\.com/,
    },
    {
      name: "a Slack target over http",
      body: { channel: "slack", target: "http://hooks.slack.com/services/T/B/x" },
      path: "target",
      match: /hooks\.slack\.com/,
    },
    {
      name: "an e-mail target that is not an address",
      body: { channel: "email", target: "ops at example" },
      path: "target",
      match: /e-mail/,
    },
    {
      name: "a secret on an e-mail subscription",
      body: { channel: "email", target: "ops@example.org", secret: "0123456789abcdef" },
      path: "secret",
      match: /webhook/,
    },
    {
      name: "a short secret",
      body: { channel: "webhook", target: "https://example.org/h", secret: "short" },
      path: "secret",
      match: /16/,
    },
    {
      name: "an unknown channel",
      body: { channel: "sms", target: "+100" },
      path: "channel",
      match: /./,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { app, writes } = operatorApp();
      const res = await send(app, "POST", "/api/subscriptions", tk.admin, c.body);
      assert.equal(res.status, 400);
      const error = await errorBody(res);
      const detail = error.details?.find((d) => d.path === c.path);
      assert.ok(detail, JSON.stringify(error.details));
      assert.match(detail.message, c.match);
      assert.deepEqual(writes(), []);
    });
  }
});

Deno.test("the history routes validate their queries", async (t) => {
  const tk = await tokens();
  for (
    const path of [
      "/api/changes?limit=0",
      "/api/changes?limit=101",
      "/api/changes?since=yesterday",
      "/api/changes?source_id=42",
      "/api/alerts?status=lost",
      "/api/alerts?status=",
      `/api/sources/${ID}/changes?limit=abc`,
    ]
  ) {
    await t.step(path, async () => {
      const { app, dbRequests } = operatorApp();
      const res = await send(app, "GET", path, tk.admin);
      assert.equal(res.status, 400);
      assert.equal((await errorBody(res)).code, "bad_request");
      assert.deepEqual(dbRequests, []);
    });
  }
});

Deno.test("the Atom feed wants a feed token, not a bearer token", async (t) => {
  const tk = await tokens();
  await t.step("no token → 401", async () => {
    const { app } = operatorApp();
    const res = await app.request("/api/feeds/changes.atom");
    assert.equal(res.status, 401);
    assert.match((await errorBody(res)).message, /feed token/);
  });
  await t.step("an unknown token → 401, looked up by its hash only", async () => {
    const { app, dbRequests } = operatorApp();
    const res = await app.request("/api/feeds/changes.atom?token=pcmf_guess");
    assert.equal(res.status, 401);
    await res.body?.cancel();
    assert.equal(dbRequests.length, 1);
    assert.equal(dbRequests[0]?.path, "/rest/v1/feed_tokens");
  });
  await t.step("a bearer token is not a feed token", async () => {
    const { app } = operatorApp();
    const res = await app.request("/api/feeds/changes.atom", {
      headers: { Authorization: `Bearer ${tk.service}` },
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
});

Deno.test("POST /api/sources/preview shows what the pipeline would watch", async (t) => {
  const tk = await tokens();
  const page = `<!doctype html><html><body><nav>Menu</nav><main><h1>Visa rules</h1>
    <p>Visitors may stay 90 days.</p><p class="stamp">Updated: 2026-12-01 by build 42</p>
    </main><div id="other">Other text</div></body></html>`;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/page") return new Response(page, { headers: { "content-type": "text/html" } });
    return new Response("gone", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const { app } = operatorApp({
    config: { FETCH_ALLOW_LOOPBACK: true, FETCH_RETRIES: 0 },
    fetch: (input, init) => fetch(input, init),
  });
  try {
    await t.step("the text, the pattern's removals, the content type", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, {
        url: `${base}/page`,
        ignore_patterns: ["Updated: .*", "nothing-matches-this"],
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.ok, true);
      assert.equal(body.content_type, "text/html");
      assert.equal(body.http_status, 200);
      assert.match(body.text, /Visitors may stay 90 days\./);
      assert.doesNotMatch(body.text, /Updated:|Menu/);
      assert.equal(body.ignore_patterns[0].matches, 1);
      assert.match(body.ignore_patterns[0].samples[0], /^Updated: /);
      assert.equal(body.ignore_patterns[1].matches, 0);
      assert.match(body.content_hash, /^[0-9a-f]{64}$/);
      assert.equal(body.error, null);
    });
    await t.step("with a selector, only that part", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, {
        url: `${base}/page`,
        css_selector: "#other",
      });
      const body = await res.json();
      assert.equal(body.text, "Other text");
    });
    await t.step("a selector that matches nothing is a classified parse error", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, {
        url: `${base}/page`,
        css_selector: "#missing",
      });
      const body = await res.json();
      assert.equal(body.ok, false);
      assert.equal(body.error.class, "parse");
    });
    await t.step("a 404 is http_4xx", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, { url: `${base}/x` });
      const body = await res.json();
      assert.deepEqual([body.ok, body.error.class], [false, "http_4xx"]);
    });
    await t.step("the metadata address is blocked, not fetched", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, {
        url: "http://169.254.169.254/latest/meta-data/",
      });
      const body = await res.json();
      assert.deepEqual([body.ok, body.error.class], [false, "blocked"]);
    });
    await t.step("a broken ignore pattern is a 400 before fetching", async () => {
      const res = await send(app, "POST", "/api/sources/preview", tk.admin, {
        url: `${base}/page`,
        ignore_patterns: ["("],
      });
      assert.equal(res.status, 400);
      assert.equal((await errorBody(res)).details?.[0]?.path, "ignore_patterns.0");
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("the OpenAPI document describes the operators' routes", async () => {
  const { app } = operatorApp();
  const doc = await (await app.request("/api/openapi.json")).json();
  for (
    const path of [
      "/api/sources",
      "/api/sources/{id}",
      "/api/sources/preview",
      "/api/sources/{id}/check",
      "/api/sources/{id}/changes",
      "/api/subscriptions",
      "/api/subscriptions/{id}",
      "/api/subscriptions/{id}/test",
      "/api/changes",
      "/api/alerts",
      "/api/alerts/{id}/retry",
      "/api/feeds/changes.atom",
      "/api/feeds/tokens",
      "/api/feeds/tokens/{id}",
    ]
  ) {
    assert.ok(doc.paths[path], `${path} is documented`);
  }
  assert.ok(doc.components.schemas.Source);
  assert.ok(doc.components.schemas.PreviewResult);
  assert.equal(doc.components.schemas.Subscription.properties.secret, undefined);
});
