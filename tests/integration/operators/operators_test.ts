// The operators' API through the gateway on the local stack: sources CRUD with status,
// preview, check one source (recorded as a run), subscriptions with a write-only secret and
// a signed test alert, changes and diffs, alert retry, the Atom feed with a revocable
// token, and the admin read policies of a user's own supabase-js client.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { keyWorld, readKeys, signAccessToken } from "../../../supabase/local/keys.ts";
import { verifyWebhookSignature } from "../../../shared/alerts/signature.ts";
import { startAlertSink } from "../../fixtures/alert_sinks.ts";
import { sqlClient, stackKeys, SUPABASE_URL, waitForNoRunningRun } from "../_stack.ts";

const API = `${SUPABASE_URL}/functions/v1/api`;
const SECRET = "integration-secret-0123456789abcdef";

/** An access token as Supabase Auth issues it (ES256 with the stack's signing key). */
async function userToken(appRole: string | null): Promise<string> {
  return await signAccessToken(await readKeys(), keyWorld(), {
    sub: crypto.randomUUID(),
    role: "authenticated",
    app_metadata: appRole === null ? {} : { role: appRole },
  });
}

async function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<
  { status: number; body: Record<string, unknown> & { error?: Record<string, unknown> } }
> {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : JSON.parse(text) };
}

/** Checks one source now, waiting for any other run to finish first (one run at a time). */
async function checkNow(token: string, id: string) {
  for (let i = 0; i < 20; i++) {
    await waitForNoRunningRun();
    const res = await call(token, "POST", `/sources/${id}/check`);
    if (res.status !== 409) return res;
  }
  throw new Error("Cannot check the source: another run kept the job busy");
}

/** A page server whose text the test changes. */
function startPages() {
  let rules = ["Visitors may stay 90 days.", "Fees are paid online."];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path !== "/rules.html") return new Response("not found", { status: 404 });
    const html = `<!doctype html><html><body><main><h1>Rules</h1>${
      rules.map((r) => `<p>${r}</p>`).join("")
    }<p class="stamp">Updated: ${new Date().toISOString()}</p></main>
    <aside id="box"><p>Box text</p></aside></body></html>`;
    return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/rules.html`,
    set(next: string[]) {
      rules = next;
    },
    close: () => server.shutdown(),
  };
}

Deno.test("operators manage sources, subscriptions and history through the API", async (t) => {
  const { serviceRoleKey, anonKey } = await stackKeys();
  const admin = await userToken("admin");
  const pages = startPages();
  const sink = startAlertSink(200);
  const sql = sqlClient();
  const created: { sources: string[]; subscriptions: string[]; tokens: string[] } = {
    sources: [],
    subscriptions: [],
    tokens: [],
  };
  try {
    await t.step("through the gateway, only the secret key and admin users get in", async () => {
      const keys = await readKeys();
      const plain = await userToken(null);
      const cases: [string, Record<string, string>, number][] = [
        ["no credentials", {}, 401],
        ["the anon key", { authorization: `Bearer ${anonKey}` }, 403],
        ["the publishable key", { apikey: keys.publishableKey }, 403],
        ["a plain user", { authorization: `Bearer ${plain}` }, 403],
        ["the secret key as apikey", { apikey: keys.secretKey }, 200],
        ["an admin user", { authorization: `Bearer ${admin}` }, 200],
      ];
      for (const [name, headers, status] of cases) {
        for (const path of ["/sources", "/subscriptions", "/changes", "/alerts"]) {
          const res = await fetch(`${API}${path}`, { headers });
          assert.equal(res.status, status, `${name} on ${path}`);
          await res.body?.cancel();
        }
      }
    });

    let sourceId = "";
    await t.step("a source is created with its rules and listed with its status", async () => {
      const res = await call(admin, "POST", "/sources", {
        name: "Integration rules page",
        url: pages.url,
        css_selector: "main",
        ignore_patterns: ["Updated:.*"],
        check_frequency: "weekly",
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      sourceId = String(res.body.id);
      created.sources.push(sourceId);
      assert.equal(res.body.css_selector, "main");
      assert.equal(res.body.last_checked_at, null);
      const list = await call(serviceRoleKey, "GET", "/sources");
      const row = (list.body.sources as { id: string; next_due_at: unknown }[])
        .find((s) => s.id === sourceId);
      assert.ok(row);
      assert.equal(row.next_due_at, null);
    });

    await t.step("a broken write is a 400 with fields and changes nothing", async () => {
      const res = await call(admin, "PATCH", `/sources/${sourceId}`, {
        url: "http://-/",
        ignore_patterns: ["("],
      });
      assert.equal(res.status, 400);
      const paths = (res.body.error?.details as { path: string }[]).map((d) => d.path);
      assert.deepEqual(paths, ["url", "ignore_patterns.0"]);
      const [row] = await sql`select url from public.sources where id = ${sourceId}`;
      assert.equal(row?.url, pages.url);
    });

    await t.step("preview shows the monitored text and what the pattern removed", async () => {
      const res = await call(admin, "POST", "/sources/preview", {
        url: pages.url,
        css_selector: "main",
        ignore_patterns: ["Updated:.*"],
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.ok, true);
      assert.match(String(res.body.text), /Visitors may stay 90 days\./);
      assert.doesNotMatch(String(res.body.text), /Updated:|Box text/, JSON.stringify(res.body));
      const effects = res.body.ignore_patterns as { matches: number }[];
      assert.equal(effects[0]?.matches, 1);
      assert.equal(res.body.content_type, "text/html");
    });

    let subscriptionId = "";
    await t.step("a signed webhook subscription never shows its secret", async () => {
      const res = await call(admin, "POST", "/subscriptions", {
        channel: "webhook",
        target: `${sink.url}/hook`,
        source_id: sourceId,
        secret: SECRET,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      subscriptionId = String(res.body.id);
      created.subscriptions.push(subscriptionId);
      assert.equal(res.body.has_secret, true);
      assert.equal("secret" in res.body, false);
      const list = await call(admin, "GET", "/subscriptions");
      assert.doesNotMatch(JSON.stringify(list.body), new RegExp(SECRET));
    });

    await t.step("a subscription to an unknown source is a field error", async () => {
      const res = await call(admin, "POST", "/subscriptions", {
        channel: "email",
        target: "ops@example.org",
        source_id: crypto.randomUUID(),
      });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.error?.details, [
        { path: "source_id", message: "No source has this id" },
      ]);
    });

    await t.step("the test alert arrives, marked as a test and signed", async () => {
      const res = await call(admin, "POST", `/subscriptions/${subscriptionId}/test`);
      assert.equal(res.status, 200);
      assert.equal(res.body.delivered, true, JSON.stringify(res.body));
      const got = sink.requests.at(-1);
      assert.ok(got);
      assert.equal(got.headers.get("x-alert-event"), "test");
      const payload = JSON.parse(got.body);
      assert.equal(payload.event, "test");
      assert.match(payload.title, /^Test alert/);
      assert.equal(await verifyWebhookSignature(got.body, got.headers, SECRET), null);
      const [n] = await sql`select count(*)::int as n from public.alerts
        where subscription_id = ${subscriptionId}`;
      assert.equal(n?.n, 0, "a test alert is not an outbox row");
    });

    await t.step("checking the source now records a run and a baseline", async () => {
      const res = await checkNow(admin, sourceId);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const outcome = res.body.outcome as { baseline: boolean; status: string };
      assert.equal(outcome.status, "succeeded");
      assert.equal(outcome.baseline, true);
      const run = res.body.run as { run_id: string };
      const [row] = await sql`select options from public.job_runs where id = ${run.run_id}`;
      assert.deepEqual(row?.options.source_ids, [sourceId]);
      assert.notEqual((res.body.source as { last_checked_at: unknown }).last_checked_at, null);
    });

    let changeId = "";
    await t.step("a change is detected, alerted, and read with its diff", async () => {
      pages.set(["Visitors may stay 60 days.", "Fees are paid online."]);
      const res = await checkNow(admin, sourceId);
      const outcome = res.body.outcome as { changed: boolean; policy_change_id: string };
      assert.equal(outcome.changed, true, JSON.stringify(res.body));
      changeId = outcome.policy_change_id;
      const changes = await call(admin, "GET", `/changes?source_id=${sourceId}`);
      const list = changes.body.changes as { id: string; diff: string; summary: unknown }[];
      assert.equal(list.length, 1);
      assert.equal(list[0]?.id, changeId);
      assert.match(list[0]!.diff, /-Visitors may stay 90 days\.\n\+Visitors may stay 60 days\./);
      const own = await call(admin, "GET", `/sources/${sourceId}/changes?limit=5`);
      assert.equal((own.body.changes as unknown[]).length, 1);
      const since = await call(admin, "GET", `/changes?source_id=${sourceId}&since=2999-01-01`);
      assert.deepEqual(since.body.changes, []);
      const alert = sink.bodies().find((b) =>
        (b as { event?: string }).event === "policy_change"
      ) as { change: { id: string } } | undefined;
      assert.equal(alert?.change.id, changeId);
    });

    await t.step("a dead alert is listed with its error and retried now", async () => {
      await sql`update public.alerts set status = 'dead', attempts = 5, error = 'HTTP 500 from sink'
        where policy_change_id = ${changeId} and subscription_id = ${subscriptionId}`;
      const dead = await call(admin, "GET", "/alerts?status=failed,dead&limit=500");
      const row = (dead.body.alerts as { id: string; error: string; policy_change_id: string }[])
        .find((a) => a.policy_change_id === changeId);
      assert.ok(row);
      assert.equal(row.error, "HTTP 500 from sink");
      const before = sink.requests.length;
      const retried = await call(admin, "POST", `/alerts/${row.id}/retry`);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      assert.equal(retried.body.delivered, true);
      assert.equal((retried.body.alert as { status: string }).status, "sent");
      assert.equal(sink.requests.length, before + 1);
      const again = await call(admin, "POST", `/alerts/${row.id}/retry`);
      assert.equal(again.status, 409);
    });

    await t.step("the Atom feed needs a live feed token", async () => {
      const made = await call(admin, "POST", "/feeds/tokens", { name: "integration reader" });
      assert.equal(made.status, 201);
      created.tokens.push(String(made.body.id));
      const token = String(made.body.token);
      const [stored] = await sql`select token_hash from public.feed_tokens where id = ${
        String(made.body.id)
      }`;
      assert.notEqual(stored?.token_hash, token, "only the hash is stored");
      const feed = await fetch(`${API}/feeds/changes.atom?token=${token}&source_id=${sourceId}`);
      assert.equal(feed.status, 200);
      assert.match(feed.headers.get("content-type") ?? "", /application\/atom\+xml/);
      const xml = await feed.text();
      assert.match(xml, new RegExp(`urn:uuid:${changeId}`));
      assert.match(xml, /Visitors may stay 60 days/);
      const revoked = await call(admin, "DELETE", `/feeds/tokens/${made.body.id}`);
      assert.equal(revoked.status, 200);
      assert.notEqual(revoked.body.revoked_at, null);
      const after = await fetch(`${API}/feeds/changes.atom?token=${token}`);
      assert.equal(after.status, 401);
      await after.body?.cancel();
    });

    await t.step("an admin user's own client reads sources, changes, alerts and runs", async () => {
      const asUser = (token: string) =>
        createClient(SUPABASE_URL, anonKey, {
          auth: { persistSession: false, autoRefreshToken: false },
          global: { headers: { Authorization: `Bearer ${token}` } },
        });
      const adminDb = asUser(admin);
      for (const table of ["sources", "policy_changes", "alerts", "job_runs", "source_status"]) {
        const { data, error } = await adminDb.from(table).select("*").limit(500);
        assert.equal(error, null, `${table}: ${error?.message}`);
        assert.ok((data ?? []).length > 0, `${table} has rows for the admin`);
      }
      const { error: writeError } = await adminDb.from("sources").insert({
        name: "by admin client",
        url: "https://example.org/x",
      });
      assert.equal(writeError?.code, "42501", "writes stay with the API");
      const userDb = asUser(await userToken(null));
      const { data } = await userDb.from("sources").select("id");
      assert.deepEqual(data, []);
    });

    await t.step("delete removes the source; then it is 404", async () => {
      const res = await call(admin, "DELETE", `/sources/${sourceId}`);
      assert.equal(res.status, 200);
      created.sources = created.sources.filter((id) => id !== sourceId);
      assert.equal((await call(admin, "GET", `/sources/${sourceId}`)).status, 404);
      assert.equal((await call(admin, "GET", `/sources/${sourceId}/changes`)).status, 404);
    });
  } finally {
    for (const id of created.sources) await sql`delete from public.sources where id = ${id}`;
    for (const id of created.subscriptions) {
      await sql`delete from public.subscriptions where id = ${id}`;
    }
    for (const id of created.tokens) await sql`delete from public.feed_tokens where id = ${id}`;
    await sql.end();
    await sink.close();
    await pages.close();
  }
});
