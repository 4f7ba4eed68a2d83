/**
 * The daily-fetch job end to end on the local stack: pg_cron's command → pg_net → gateway
 * → edge function → database, manual calls with every kind of token, a fixture site whose
 * pages the test edits, and a webhook sink that checks signatures.
 */
import assert from "node:assert/strict";
import { hmacSha256Hex } from "../../../shared/alerts/signature.ts";
import { signHs256 } from "../../../shared/auth/keys.ts";
import { readKeys } from "../../../supabase/local/keys.ts";
import { JOB_RESULT_FIELDS } from "../../fixtures/contract.ts";
import { importJWK, SignJWT } from "jose";
import {
  eventually,
  JWT_SECRET,
  serviceDb,
  sqlClient,
  stackKeys,
  SUPABASE_URL,
} from "../_stack.ts";

const ENDPOINT = `${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`;
const RUNS = `${SUPABASE_URL}/functions/v1/api/jobs/runs`;
const HOOK_SECRET = "integration-webhook-secret-0123456789";

interface Fixture {
  base: string;
  pages: Map<string, string>;
  deliveries: Array<{ body: string; signature: string | null; json: Record<string, unknown> }>;
  server: Deno.HttpServer<Deno.NetAddr>;
}

function policyPage(title: string, items: string[]): string {
  return `<!doctype html><html><head><title>${title}</title>
<script>var t = ${Date.now()}; var r = "${crypto.randomUUID()}";</script></head>
<body><nav><a href="/?sid=${crypto.randomUUID()}">Home</a></nav>
<main><h1>${title}</h1><ul>${items.map((i) => `<li>${i}</li>`).join("")}</ul></main>
<footer>Generated ${new Date().toISOString()}</footer></body></html>`;
}

function startFixture(): Fixture {
  const pages = new Map<string, string>();
  const deliveries: Fixture["deliveries"] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/hook" && req.method === "POST") {
      const body = await req.text();
      deliveries.push({
        body,
        signature: req.headers.get("x-signature-256"),
        json: JSON.parse(body),
      });
      return new Response("ok");
    }
    if (url.pathname === "/broken") return new Response("gone", { status: 410 });
    const items = pages.get(url.pathname);
    if (!items) return new Response("not found", { status: 404 });
    return new Response(policyPage(url.pathname, JSON.parse(items)), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  });
  return { base: `http://127.0.0.1:${server.addr.port}`, pages, deliveries, server };
}

async function post(token: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(ENDPOINT, {
    method: "POST",
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function userToken(appRole: string | null, opts: { expired?: boolean } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return await signHs256(
    {
      sub: crypto.randomUUID(),
      role: "authenticated",
      aud: "authenticated",
      app_metadata: appRole ? { role: appRole } : {},
      iat: now - 120,
      exp: opts.expired ? now - 60 : now + 600,
    },
    JWT_SECRET,
  );
}

/** Waits until no run of the job is running (another test's async run, the cron run). */
async function idle(): Promise<void> {
  const sql = sqlClient();
  try {
    await eventually("no running daily-fetch run", async () => {
      const [row] = await sql`select count(*)::int as n from public.job_runs
        where job_name = 'daily-fetch' and status = 'running'`;
      return row!.n === 0 ? true : undefined;
    }, 60_000);
  } finally {
    await sql.end();
  }
}

Deno.test("daily-fetch job on the local stack", async (t) => {
  const fx = startFixture();
  const db = await serviceDb();
  const keys = await stackKeys();
  const service = keys.serviceRoleKey;
  const tag = crypto.randomUUID().slice(0, 8);
  fx.pages.set("/visa", JSON.stringify(["Stay up to 90 days", "Passport valid 3 months"]));
  fx.pages.set("/terms", JSON.stringify(["Be nice", "No spam"]));
  const { data: created, error } = await db.from("sources").insert([
    { name: `visa ${tag}`, url: `${fx.base}/visa` },
    { name: `terms ${tag}`, url: `${fx.base}/terms` },
    { name: `broken ${tag}`, url: `${fx.base}/broken` },
  ]).select("id, name");
  assert.equal(error, null, error?.message);
  const [visa, terms, broken] = created!;
  const ids = [visa!.id, terms!.id];
  const { data: sub } = await db.from("subscriptions").insert({
    source_id: visa!.id,
    channel: "webhook",
    target: `${fx.base}/hook`,
    secret: HOOK_SECRET,
  }).select("id").single();

  try {
    await idle();

    await t.step(
      "a manual POST with the service key returns the JobResult (baseline run)",
      async () => {
        const res = await post(service, { source_ids: ids, force: true });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const r = res.body;
        for (const k of JOB_RESULT_FIELDS) assert.ok(k in r, `JobResult has ${k}`);
        assert.equal(r.status, "succeeded", JSON.stringify(r.errors));
        assert.equal(r.trigger, "manual");
        assert.equal(r.sources_processed, 2);
        assert.equal(r.sources_succeeded, 2);
        assert.equal(r.changes_detected, 0, "the first fetch is a baseline");
        assert.deepEqual(r.errors, []);
        const { data: snaps } = await db.from("snapshots").select("id").in("source_id", ids);
        assert.equal(snaps?.length, 2);
      },
    );

    await t.step(
      "an edited page yields a policy_changes row and a signed webhook delivery",
      async () => {
        fx.pages.set("/visa", JSON.stringify(["Stay up to 60 days", "Passport valid 3 months"]));
        const res = await post(service, { source_ids: ids, force: true });
        assert.equal(res.status, 200);
        assert.equal(res.body.changes_detected, 1, JSON.stringify(res.body));
        // Every active subscription covering the source: ours plus all-sources ones (the seed's).
        const { count: covering } = await db.from("subscriptions").select("id", {
          count: "exact",
          head: true,
        }).eq("active", true).or(`source_id.eq.${visa!.id},source_id.is.null`);
        assert.equal(res.body.alerts_sent, covering);
        const { data: changes } = await db.from("policy_changes").select("id, diff, detected_at")
          .eq("source_id", visa!.id);
        assert.equal(changes?.length, 1);
        assert.match(changes![0]!.diff, /-.*90 days/);
        assert.match(changes![0]!.diff, /\+.*60 days/);
        assert.equal(fx.deliveries.length, 1);
        const d = fx.deliveries[0]!;
        assert.equal(d.json.event, "policy_change");
        assert.deepEqual(
          (d.json.source as Record<string, unknown>).id,
          visa!.id,
        );
        assert.equal((d.json.change as Record<string, unknown>).id, changes![0]!.id);
        assert.equal(d.signature, `sha256=${await hmacSha256Hex(HOOK_SECRET, d.body)}`);
        assert.notEqual(
          d.signature,
          `sha256=${await hmacSha256Hex("another-secret-0123456789", d.body)}`,
        );
      },
    );

    await t.step("an unchanged run sends nothing more", async () => {
      const res = await post(service, { source_ids: ids, force: true });
      assert.equal(res.body.changes_detected, 0);
      assert.equal(fx.deliveries.length, 1);
    });

    await t.step("a failing source is reported while the others succeed", async () => {
      const res = await post(service, { source_ids: [...ids, broken!.id], force: true });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "partial");
      assert.equal(res.body.sources_succeeded, 2);
      assert.equal(res.body.sources_failed, 1);
      assert.equal(res.body.errors.length, 1);
      assert.match(
        res.body.errors[0],
        new RegExp(`^source ${broken!.id} \\(broken ${tag}\\): http_4xx: `),
      );
      const { data: src } = await db.from("sources").select(
        "last_error_class, consecutive_failures",
      )
        .eq("id", broken!.id).single();
      assert.equal(src!.last_error_class, "http_4xx");
      assert.equal(src!.consecutive_failures, 1);
    });

    await t.step(
      "check_frequency: a daily source checked just now is skipped without force",
      async () => {
        const res = await post(service, { source_ids: ids });
        assert.equal(res.body.sources_skipped, 2);
        assert.equal(res.body.sources_processed, 0);
        assert.equal(res.body.status, "succeeded");
      },
    );

    await t.step(
      "a night the watchdog recorded as missed is announced once, by the next run",
      async () => {
        const sql = sqlClient();
        const { data: ops } = await db.from("subscriptions").insert({
          channel: "webhook",
          target: `${fx.base}/hook`,
          operational_alerts: true,
        }).select("id").single();
        let missedId: string | null = null;
        try {
          // Rows an earlier, failed run of this step may have left would be announced too.
          await sql`delete from public.job_runs where options ->> 'watchdog' = 'missed_run'`;
          const [missed] = await sql`insert into public.job_runs
          (job_name, trigger, status, started_at, completed_at, options, errors)
          values ('daily-fetch', 'cron', 'failed', now() - interval '1 hour', now() - interval '1 hour',
                  '{"watchdog": "missed_run"}', '["nightly run did not start in the last 26 hours: test"]')
          returning id`;
          missedId = missed!.id;
          const before = fx.deliveries.length;
          await post(service, { source_ids: ids });
          const missedAlerts = () =>
            fx.deliveries.slice(before).filter((d) => d.json.event === "run_missed");
          assert.equal(missedAlerts().length, 1, JSON.stringify(fx.deliveries.slice(before)));
          await post(service, { source_ids: ids });
          assert.equal(missedAlerts().length, 1, "announced once");
        } finally {
          if (missedId) await sql`delete from public.job_runs where id = ${missedId}`;
          if (ops) await db.from("subscriptions").delete().eq("id", ops.id);
          await sql.end();
        }
      },
    );

    await t.step("the auth matrix", async () => {
      const signing = (await readKeys()).signingJwk;
      const now = Math.floor(Date.now() / 1000);
      const es256Admin = await new SignJWT({
        role: "authenticated",
        aud: "authenticated",
        app_metadata: { role: "admin" },
      }).setProtectedHeader({ alg: "ES256", kid: signing.kid, typ: "JWT" }).setSubject(
        crypto.randomUUID(),
      ).setIssuedAt(now).setExpirationTime(now + 600).sign(await importJWK(signing, "ES256"));
      const cases: Array<[string, string | null, number]> = [
        ["no token", null, 401],
        ["anon key", keys.anonKey, 403],
        ["plain user", await userToken(null), 403],
        ["expired admin", await userToken("admin", { expired: true }), 401],
        [
          "wrong secret",
          await signHs256(
            { role: "service_role", exp: now + 600 },
            "another-secret-with-at-least-32-characters!!",
          ),
          401,
        ],
        ["garbage", "not.a.jwt", 401],
      ];
      for (const [name, token, status] of cases) {
        const res = await post(token, { source_ids: ids });
        assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(typeof res.body.error?.code, "string", name);
        assert.equal(typeof res.body.error?.message, "string", name);
      }
      const admins: Array<[string, string]> = [
        ["admin (HS256)", await userToken("admin")],
        ["admin (ES256 via JWKS)", es256Admin],
      ];
      for (const [name, token] of admins) {
        const res = await post(token, { source_ids: ids });
        assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.trigger, "manual");
      }
    });

    await t.step(
      "Prefer: respond-async answers 202 with Location, and the run endpoint reports it",
      async () => {
        const res = await post(service, { source_ids: ids, force: true }, {
          prefer: "respond-async",
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        const runId = res.body.run_id;
        assert.match(runId, /^[0-9a-f-]{36}$/);
        assert.equal(res.headers.get("location"), `/functions/v1/api/jobs/runs/${runId}`);
        const overlap = await post(service, { source_ids: ids, force: true });
        if (overlap.status === 409) {
          assert.equal(overlap.body.error.code, "run_in_progress");
        } else {
          // The async run was already done: nothing overlapped.
          assert.equal(overlap.status, 200);
        }
        const details = await eventually("the async run to finish", async () => {
          const r = await fetch(`${RUNS}/${runId}`, {
            headers: { authorization: `Bearer ${service}` },
          });
          const body = await r.json();
          return body.status !== "running" ? body : undefined;
        }, 30_000);
        assert.equal(details.status, "succeeded");
        assert.deepEqual(details.progress, { done: 2, total: 2 });
        assert.equal(details.sources.length, 2);
        // Each outcome says what was monitored: the page's <main>, and how long its text is.
        for (const outcome of details.sources) {
          assert.equal(outcome.content?.found_by, "<main>");
          assert.ok(outcome.content.chars > 10);
        }
        const list = await fetch(`${RUNS}?limit=3`, {
          headers: { authorization: `Bearer ${service}` },
        });
        const runs = (await list.json()).runs as Array<{ run_id: string }>;
        assert.ok(runs.length >= 1 && runs.length <= 3);
      },
    );

    await t.step("409 when a run is in progress", async () => {
      await idle();
      const sql = sqlClient();
      try {
        const [row] =
          await sql`insert into public.job_runs (job_name, trigger) values ('daily-fetch', 'manual') returning id`;
        try {
          const res = await post(service, { source_ids: ids });
          assert.equal(res.status, 409);
          assert.equal(res.body.error.code, "run_in_progress");
          assert.match(res.body.error.message, new RegExp(row!.id));
        } finally {
          await sql`update public.job_runs set status = 'failed', completed_at = now() where id = ${
            row!.id
          }`;
        }
      } finally {
        await sql.end();
      }
    });

    await t.step(
      "the cron job's command runs the job through pg_net without any manual call",
      async () => {
        await idle();
        const sql = sqlClient();
        try {
          // Only this test's sources are active for the cron run, so it must succeed.
          const others = await sql`update public.sources set active = false
          where active and id <> all(${ids}) returning id`;
          try {
            // Make this test's sources due, as they are every night.
            await sql`update public.sources set last_checked_at = now() - interval '1 day 1 minute'
            where id = any(${ids})`;
            const [job] = await sql`select command from cron.job where jobname = 'daily-fetch'`;
            // pg_net with the Vault key (supabase/tests/fetch_schedule_test.sql checks the request).
            assert.match(job!.command, /private\.call_api\('daily-fetch'/);
            const before = new Date();
            await sql.unsafe(job!.command);
            const run = await eventually("a cron run to finish", async () => {
              const [r] =
                await sql`select id, status, trigger, sources_processed from public.job_runs
              where trigger = 'cron' and started_at >= ${before} and status <> 'running'
              order by started_at desc limit 1`;
              return r;
            }, 60_000);
            assert.equal(run.status, "succeeded");
            assert.equal(run.trigger, "cron");
            const [resp] = await sql`select r.status_code from private.cron_dispatches d
            join net._http_response r on r.id = d.request_id order by d.dispatched_at desc limit 1`;
            assert.equal(resp!.status_code, 202);
          } finally {
            if (others.length > 0) {
              await sql`update public.sources set active = true where id = any(${
                others.map((o) => o.id)
              })`;
            }
          }
        } finally {
          await sql.end();
        }
      },
    );
  } finally {
    await idle().catch(() => {});
    if (sub) await db.from("subscriptions").delete().eq("id", sub.id);
    await db.from("sources").delete().in("id", [...ids, broken!.id]);
    await fx.server.shutdown();
  }
});
