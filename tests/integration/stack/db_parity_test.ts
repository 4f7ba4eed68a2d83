// The local database behaves as a hosted project's where the design leans on it: postgres is
// not a superuser, the API roles carry hosted's timeouts, Vault is written only through its
// functions, and pg_net refuses a Content-Type other than application/json.
import assert from "node:assert/strict";
import { adminSqlClient, sqlClient } from "../_stack.ts";

Deno.test("postgres is not a superuser, so what needs one fails as on a hosted project", async (t) => {
  const sql = sqlClient();
  try {
    const [me] = await sql<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean }[]>`
      select rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = current_user`;
    assert.deepEqual(me, { rolsuper: false, rolbypassrls: true, rolcreaterole: true });
    await t.step("an untrusted extension cannot be created", async () => {
      await assert.rejects(
        () => sql`create extension if not exists file_fdw`,
        /permission denied/,
      );
    });
    await t.step("server settings cannot be changed", async () => {
      await assert.rejects(() => sql`alter system set work_mem = '64MB'`, /permission denied/);
    });
    await t.step("the extensions the migrations name already exist", async () => {
      const rows = await sql<{ extname: string; owner: string }[]>`
        select e.extname, r.rolname as owner from pg_extension e
        join pg_roles r on r.oid = e.extowner
        where e.extname in ('pg_cron', 'pgcrypto') order by 1`;
      assert.deepEqual(rows.map((r) => [r.extname, r.owner]), [
        ["pg_cron", "supabase_admin"],
        ["pgcrypto", "supabase_admin"],
      ]);
    });
    await t.step("cron.job is read-only: jobs change through cron's functions", async () => {
      await assert.rejects(
        () => sql`update cron.job set schedule = '* * * * *' where jobname = 'daily-fetch'`,
        /permission denied/,
      );
    });
  } finally {
    await sql.end();
  }
});

Deno.test("the API roles carry a hosted project's statement and lock timeouts", async () => {
  const sql = adminSqlClient();
  try {
    const rows = await sql<{ rolname: string; config: string[] }[]>`
      select r.rolname, array_agg(c order by c) as config
      from pg_roles r cross join lateral unnest(r.rolconfig) c
      where r.rolname in ('anon', 'authenticated', 'authenticator')
        and (c like 'statement_timeout=%' or c like 'lock_timeout=%')
      group by r.rolname order by r.rolname`;
    assert.deepEqual(rows.map((r) => [r.rolname, r.config]), [
      ["anon", ["statement_timeout=3s"]],
      ["authenticated", ["statement_timeout=8s"]],
      ["authenticator", ["lock_timeout=8s", "statement_timeout=8s"]],
    ]);
  } finally {
    await sql.end();
  }
});

Deno.test("Vault is written through vault.create_secret / vault.update_secret only", async () => {
  const sql = sqlClient();
  const name = `parity_${crypto.randomUUID()}`;
  try {
    await assert.rejects(
      () => sql`insert into vault.secrets (name, secret) values (${name}, 'x')`,
      /permission denied/,
    );
    const [created] = await sql<{ id: string }[]>`
      select vault.create_secret('first', ${name}, 'parity test') as id`;
    await assert.rejects(
      () => sql`update vault.secrets set secret = 'direct' where id = ${created!.id}`,
      /permission denied/,
    );
    await sql`select vault.update_secret(${created!.id}::uuid, 'second')`;
    const [read] = await sql<{ decrypted_secret: string }[]>`
      select decrypted_secret from vault.decrypted_secrets where id = ${created!.id}`;
    assert.deepEqual(read?.decrypted_secret, "second");
    await sql`delete from vault.secrets where id = ${created!.id}`;
  } finally {
    await sql.end();
  }
});

Deno.test("net.http_post accepts only Content-Type application/json, as pg_net does", async (t) => {
  const sql = sqlClient();
  try {
    await t.step("another content type is refused", async () => {
      for (const type of ["text/plain", "application/json; charset=utf-8", "APPLICATION/JSON"]) {
        await assert.rejects(
          () =>
            sql`select net.http_post('http://127.0.0.1:1/x', '{}'::jsonb, '{}'::jsonb,
                  jsonb_build_object('content-type', ${type}::text))`,
          /Content-Type header must be "application\/json"/,
        );
      }
    });
    await t.step("a missing Content-Type is added; a null body is refused", async () => {
      await sql.begin(async (tx) => {
        const [row] = await tx<{ id: string }[]>`
          select net.http_post('http://127.0.0.1:1/x', '{}'::jsonb, '{}'::jsonb,
            '{"apikey": "k"}'::jsonb)::text as id`;
        const [queued] = await tx<{ headers: Record<string, string> }[]>`
          select headers from net.http_request_queue where id = ${row!.id}::bigint`;
        assert.deepEqual(queued?.headers, { apikey: "k", "Content-Type": "application/json" });
        await assert.rejects(
          () => tx.savepoint((sp) => sp`select net.http_post('http://127.0.0.1:1/x', null)`),
          /body must not be null/,
        );
        throw new RollbackMarker(); // never send the probe
      }).catch((e) => {
        if (!(e instanceof RollbackMarker)) throw e;
      });
    });
    await t.step("the queue is the platform's: callers cannot read it", async () => {
      const [grant] = await sql<{ ok: boolean }[]>`
        select has_table_privilege('anon', 'net.http_request_queue', 'select') as ok`;
      assert.deepEqual(grant?.ok, false);
    });
  } finally {
    await sql.end();
  }
});

class RollbackMarker extends Error {}
