/**
 * Logs never carry credentials: requests with the service key, admin tokens (HS256 and
 * ES256) and bogus huge tokens, a run whose sources fail with `?token=` in their URLs and
 * whose change is alerted to a signed webhook, a Slack URL (the path is the secret) that
 * fails, an email (sent with the email API key) and a pg_net call carrying the service key;
 * then every stack log file's new bytes are searched for the raw values.
 */
import assert from "node:assert/strict";
import { importJWK, SignJWT } from "jose";
import { signHs256 } from "../../../shared/auth/keys.ts";
import { readKeys } from "../../../supabase/local/keys.ts";
import { LOG_DIR } from "../../../supabase/local/ports.ts";
import { eventually, JWT_SECRET, serviceDb, sqlClient, SUPABASE_URL } from "../_stack.ts";
import { logOffsets, newLogText, scanNewLogBytes } from "./_log_tail.ts";
import { noRunningRun } from "./_no_running_run.ts";

const API = `${SUPABASE_URL}/functions/v1/api`;
/** The stack's EMAIL_API_KEY (supabase/local/stack.ts). */
const EMAIL_API_KEY = "local-email-key";
/** The seed subscription's secret (supabase/seed.sql). */
const SEED_SECRET = "demo-webhook-secret-change-me-0123456789";

const random = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

interface Fixture {
  base: string;
  page: { items: string[] };
  hooks: Array<{ signature: string | null }>;
  slackCalls: number;
  pgnet: Array<{ authorization: string | null }>;
  server: Deno.HttpServer<Deno.NetAddr>;
}

function startFixture(slackSecret: string): Fixture {
  const fx: Omit<Fixture, "base" | "server"> = {
    page: { items: ["Stay up to 90 days"] },
    hooks: [],
    slackCalls: 0,
    pgnet: [],
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    await req.body?.cancel();
    if (path === "/page") {
      return new Response(
        `<html><body><main><h1>Rules</h1><ul>${
          fx.page.items.map((i) => `<li>${i}</li>`).join("")
        }</ul></main></body></html>`,
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    if (path === "/fail") return new Response("upstream broke", { status: 500 });
    if (path === "/hook") {
      fx.hooks.push({ signature: req.headers.get("x-signature-256") });
      return new Response("ok");
    }
    if (path === `/slack/${slackSecret}`) {
      fx.slackCalls++;
      return new Response("no", { status: 500 });
    }
    if (path === "/pgnet") {
      fx.pgnet.push({ authorization: req.headers.get("authorization") });
      return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  });
  return Object.assign(fx, { base: `http://127.0.0.1:${server.addr.port}`, server });
}

async function post(token: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${API}/jobs/daily-fetch`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function idle(sql: ReturnType<typeof sqlClient>): Promise<void> {
  const { idle, still } = await noRunningRun(sql, 60_000);
  assert.ok(idle, `Cannot start a run: still running after 60 s: ${still.join(", ")}`);
}

/**
 * Starts a run once the shared stack is idle; another client's run may start in between
 * (409), so it waits and tries again a few times.
 */
async function startRun(
  sql: ReturnType<typeof sqlClient>,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  for (let attempt = 1;; attempt++) {
    await idle(sql);
    const res = await post(token, body, headers);
    if (res.status !== 409 || attempt === 5) return res;
  }
}

/** The parts of a JWT worth searching for: the whole token, its payload and signature. */
function jwtNeedles(token: string): string[] {
  const [, payload = "", signature = ""] = token.split(".");
  return [token, payload, signature].filter((s) => s.length >= 16);
}

Deno.test("the stack's logs never contain keys, tokens or secrets", async () => {
  const offsets = await logOffsets(LOG_DIR);
  const stack = await readKeys();
  const service = stack.serviceRoleKey;
  const now = Math.floor(Date.now() / 1000);
  const user = (role: string | null) => ({
    sub: crypto.randomUUID(),
    role: "authenticated",
    aud: "authenticated",
    app_metadata: role === null ? {} : { role },
    exp: now + 600,
  });
  const admin = await signHs256(user("admin"), JWT_SECRET);
  const es256Admin = await new SignJWT(user("admin"))
    .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: stack.signingJwk.kid })
    .sign(await importJWK(stack.signingJwk, "ES256"));
  const plainUser = await signHs256(user(null), JWT_SECRET);
  const bogusJwt = `eyJ${random(1500)}.eyJ${random(1500)}.${random(600)}`; // ~7 KB, JWT-shaped
  const bogusOpaque = random(3500); // 7 KB of hex
  const bogusTooLong = `eyJ${random(6000)}`; // over the 8 KB token limit
  const hookSecret = `hook-secret-${random(16)}`;
  const urlToken500 = `tok500${random(16)}`;
  const urlTokenRefused = `tokref${random(16)}`;
  const slackSecret = `T0SLACK${random(12)}`;

  const fx = startFixture(slackSecret);
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = closed.addr.port; // nothing listens there once closed: connection refused
  closed.close();
  const db = await serviceDb();
  const sql = sqlClient();
  const tag = random(4);
  const { data: sources, error } = await db.from("sources").insert([
    { name: `redaction page ${tag}`, url: `${fx.base}/page` },
    { name: `redaction 500 ${tag}`, url: `${fx.base}/fail?token=${urlToken500}&x=1` },
    {
      name: `redaction refused ${tag}`,
      url: `http://127.0.0.1:${closedPort}/feed?access_token=${urlTokenRefused}`,
    },
  ]).select("id");
  assert.equal(error, null, error?.message);
  const ids = sources!.map((s) => s.id as string);
  const [pageId] = ids;
  const { data: subs, error: subError } = await db.from("subscriptions").insert([
    { source_id: pageId, channel: "webhook", target: `${fx.base}/hook`, secret: hookSecret },
    { source_id: pageId, channel: "slack", target: `${fx.base}/slack/${slackSecret}` },
    { source_id: pageId, channel: "email", target: "ops@example.org" },
  ]).select("id");
  assert.equal(subError, null, subError?.message);
  const runIds: string[] = [];

  try {
    // Baseline with the service key: the page is stored, the two others fail.
    const first = await startRun(sql, service, { source_ids: ids, force: true });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.sources_failed, 2, JSON.stringify(first.body));
    runIds.push(first.body.run_id);

    // A change, run by an admin user: signed webhook, failing Slack, email.
    fx.page.items = ["Stay up to 60 days"];
    const second = await startRun(sql, admin, { source_ids: ids, force: true });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.changes_detected, 1, JSON.stringify(second.body));
    runIds.push(second.body.run_id);
    assert.equal(fx.hooks.length, 1);
    assert.match(fx.hooks[0]!.signature ?? "", /^sha256=[0-9a-f]{64}$/);
    assert.ok(fx.slackCalls >= 1, "the Slack target was called");

    // An async run in the background.
    const third = await startRun(sql, service, { source_ids: ids, force: true }, {
      prefer: "respond-async",
    });
    assert.equal(third.status, 202, JSON.stringify(third.body));
    runIds.push(third.body.run_id);
    await idle(sql);

    // Refused and odd credentials.
    for (const token of [plainUser, bogusJwt, bogusOpaque, bogusTooLong]) {
      const res = await post(token, { source_ids: ids });
      assert.ok(res.status === 401 || res.status === 403, JSON.stringify(res.body));
    }
    const read = await fetch(`${API}/jobs/runs/${second.body.run_id}`, {
      headers: { authorization: `Bearer ${es256Admin}` },
    });
    assert.equal(read.status, 200);
    await read.body?.cancel();

    // pg_net carrying the service key, as the cron job does.
    await sql`select net.http_post(url := ${`${fx.base}/pgnet`},
      body := '{}'::jsonb,
      headers := jsonb_build_object('Authorization', ${`Bearer ${service}`}::text))`;
    await eventually(
      "the pg_net request to arrive",
      () => Promise.resolve(fx.pgnet.length > 0 || undefined),
    );
    assert.equal(fx.pgnet[0]!.authorization, `Bearer ${service}`);

    // The logs were written where we look: the functions logged our runs.
    const written = [...(await newLogText(LOG_DIR, offsets)).values()].join("\n");
    for (const id of runIds) assert.ok(written.includes(id), `run ${id} is in the new log bytes`);

    const needles = [
      ...jwtNeedles(service),
      ...jwtNeedles(admin),
      ...jwtNeedles(es256Admin),
      ...jwtNeedles(plainUser),
      bogusJwt.slice(100, 164),
      bogusOpaque.slice(100, 164),
      bogusTooLong.slice(100, 164),
      hookSecret,
      urlToken500,
      urlTokenRefused,
      slackSecret,
      EMAIL_API_KEY,
      JWT_SECRET,
      SEED_SECRET,
    ];
    const hits = await scanNewLogBytes(LOG_DIR, offsets, needles);
    assert.deepEqual(
      hits.map((h) => `${h.file} @${h.offset}: ${h.needle.slice(0, 12)}…`),
      [],
      "secrets found in the logs",
    );
  } finally {
    await idle(sql).catch(() => {});
    await db.from("subscriptions").delete().in("id", (subs ?? []).map((s) => s.id));
    await db.from("sources").delete().in("id", ids);
    await sql.end();
    await fx.server.shutdown();
  }
});
