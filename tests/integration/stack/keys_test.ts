// The stack in each key world (STACK_KEYS=new: legacy keys disabled; STACK_KEYS=legacy: no
// new keys), through the gateway as a client would call it: who the job routes admit, what
// PostgREST makes of each key, and the nightly path cron → pg_net → function with the key
// the Vault secret holds in that world. Restores the default world (both) at the end.
import assert from "node:assert/strict";
import { createLocalJWKSet, jwtVerify } from "jose";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";
import { DEMO_URL, eventually, sqlClient, SUPABASE_URL, waitForNoRunningRun } from "../_stack.ts";

type World = "both" | "new" | "legacy";

async function stack(world: World, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/supabase/local/stack.ts`, ...args],
    env: { STACK_KEYS: world },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  return new TextDecoder().decode(out.stdout);
}

function envOf(lines: string): Record<string, string> {
  return Object.fromEntries(
    lines.split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
}

async function status(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers });
  await res.body?.cancel();
  return res.status;
}

/**
 * Runs the nightly cron command once with one due source; returns the pg_net status and how
 * the run ended (the function's own database calls, with that world's key, did it).
 */
async function cronRun(): Promise<{ status: number; run: string; processed: number }> {
  await waitForNoRunningRun();
  const sql = sqlClient();
  try {
    const [source] = await sql<{ id: string }[]>`
      insert into public.sources (name, url, check_frequency, last_checked_at)
      values ('keys test', ${`${DEMO_URL}/policies/terms.html`}, 'daily', now() - interval '2 days')
      returning id`;
    const others = await sql<{ id: string }[]>`update public.sources set active = false
      where active and id <> ${source!.id} returning id`;
    try {
      const [job] = await sql<{ command: string }[]>`
        select command from cron.job where jobname = 'daily-fetch'`;
      const before = new Date();
      await sql.unsafe(job!.command);
      const row = await eventually("the cron request's response", async () => {
        const [r] = await sql<{ status_code: number }[]>`
          select r.status_code from private.cron_dispatches d
          join net._http_response r on r.id = d.request_id
          where d.dispatched_at >= ${before} order by d.dispatched_at desc limit 1`;
        return r;
      }, 30_000);
      await waitForNoRunningRun();
      const [run] = await sql<{ status: string; sources_processed: number }[]>`
        select status, sources_processed from public.job_runs
        where trigger = 'cron' and started_at >= ${before} order by started_at desc limit 1`;
      return {
        status: row.status_code,
        run: run?.status ?? "none",
        processed: run?.sources_processed ?? 0,
      };
    } finally {
      if (others.length > 0) {
        await sql`update public.sources set active = true where id = any(${
          others.map((o) => o.id)
        })`;
      }
      await sql`delete from public.sources where id = ${source!.id}`;
    }
  } finally {
    await sql.end();
  }
}

Deno.test("the stack's key worlds: who gets in, through the function and PostgREST", async (t) => {
  const runs = `${SUPABASE_URL}/functions/v1/api/jobs/runs?limit=1`;
  const rest = `${SUPABASE_URL}/rest/v1/job_runs?select=id&limit=1`;
  try {
    for (const world of ["new", "legacy"] as const) {
      await t.step(`STACK_KEYS=${world}`, async (t) => {
        await stack(world, "start");
        const env = envOf(await stack(world, "env"));
        const admin = (await stack(world, "token", "admin")).trim();
        const user = (await stack(world, "token", "user")).trim();
        assert.match(admin, /^ey/);
        assert.equal(env.STACK_KEYS, world);
        const secret = env.SUPABASE_SECRET_KEY!;
        const publishable = env.SUPABASE_PUBLISHABLE_KEY!;
        const service = env.SUPABASE_SERVICE_ROLE_KEY!;
        const anon = env.SUPABASE_ANON_KEY!;
        const on = world === "new" ? 200 : 401; // new keys
        const legacyOn = world === "legacy" ? 200 : 401;
        const matrix: Array<[string, Record<string, string>, number]> = [
          ["no credentials", {}, 401],
          ["secret key (apikey)", { apikey: secret }, on],
          [
            "secret key (apikey + bearer)",
            { apikey: secret, Authorization: `Bearer ${secret}` },
            on,
          ],
          ["publishable key", { apikey: publishable }, world === "new" ? 403 : 401],
          [
            "legacy service-role key",
            { apikey: service, Authorization: `Bearer ${service}` },
            legacyOn,
          ],
          [
            "legacy anon key",
            { apikey: anon, Authorization: `Bearer ${anon}` },
            world === "legacy" ? 403 : 401,
          ],
          ["admin user token", { Authorization: `Bearer ${admin}` }, 200],
          ["plain user token", { Authorization: `Bearer ${user}` }, 403],
        ];
        for (const [name, headers, expected] of matrix) {
          await t.step(`job routes: ${name} → ${expected}`, async () => {
            assert.equal(await status(runs, headers), expected);
          });
        }
        await t.step("the JWKS verifies the admin's token (or is empty on legacy)", async () => {
          const jwks = await (await fetch(`${SUPABASE_URL}/auth/v1/.well-known/jwks.json`)).json();
          assert.equal(jwks.keys.length, world === "legacy" ? 0 : 1);
          const header = JSON.parse(atob(admin.split(".")[0]!));
          assert.equal(header.alg, world === "legacy" ? "HS256" : "ES256");
          if (world !== "legacy") {
            const { payload } = await jwtVerify(admin, createLocalJWKSet(jwks));
            assert.deepEqual((payload.app_metadata as { role?: string }).role, "admin");
            assert.ok((payload.exp as number) - Date.now() / 1000 <= 3600);
          }
        });
        await t.step(
          "PostgREST: the secret key is the service role, legacy keys as enabled",
          async () => {
            assert.equal(await status(rest, { apikey: secret }), on);
            assert.equal(
              await status(rest, { apikey: service, Authorization: `Bearer ${service}` }),
              legacyOn,
            );
          },
        );
        await t.step(
          "cron → pg_net → function with the key Vault holds → 202, run succeeds",
          async () => {
            assert.deepEqual(await cronRun(), { status: 202, run: "succeeded", processed: 1 });
          },
        );
      });
    }
  } finally {
    await stack("both", "start");
  }
});
