-- Row level security matrix: anon, authenticated as a plain user, authenticated as an
-- admin user (app_metadata.role = 'admin') and service_role × every table in public
-- (listed from the catalog) × select / insert / update / delete.
--   * anon sees no row and every write fails or changes nothing;
--   * a plain user likewise, except reading check_frequencies;
--   * an admin user also reads sources, policy_changes, alerts, job_runs and
--     job_run_sources (20261201000100_operators.sql), and writes nothing: writes stay
--     with the API;
--   * service_role can do everything.
-- Each probe runs as the role (set local role + set local request.jwt.claims) in a
-- subtransaction that is always rolled back, so one probe's delete does not hide the seed
-- rows from the next. A new table without an insert probe below fails the matrix.
begin;
set transaction isolation level repeatable read;
select plan(
  (select count(*)::int * 16 from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p'))
  + 17);

-- ---------------------------------------------------------------------------
-- Seed, as postgres: one row per table that every probe targets.
insert into public.check_frequencies (name, check_interval) values ('pgtap_rls', interval '2 days');
insert into public.sources (id, name, url) values
  ('a1500000-0000-4000-8000-000000000001', 'rls source a', 'https://example.org/rls-a'),
  ('a1500000-0000-4000-8000-000000000002', 'rls source b', 'https://example.org/rls-b');
insert into public.snapshots (id, source_id, fetch_id, content_hash, content) values
  ('a1500000-0000-4000-8000-000000000011', 'a1500000-0000-4000-8000-000000000001',
   gen_random_uuid(), repeat('b', 64), 'seed text');
insert into public.policy_changes (id, source_id, snapshot_id, diff) values
  ('a1500000-0000-4000-8000-000000000021', 'a1500000-0000-4000-8000-000000000001',
   'a1500000-0000-4000-8000-000000000011', '-a
+b');
insert into public.subscriptions (id, channel, target, secret) values
  ('a1500000-0000-4000-8000-000000000031', 'webhook', 'https://example.org/rls-hook',
   'rls-seed-secret-0123456789');
insert into public.alerts (id, policy_change_id, subscription_id) values
  ('a1500000-0000-4000-8000-000000000041', 'a1500000-0000-4000-8000-000000000021',
   'a1500000-0000-4000-8000-000000000031');
insert into public.job_runs (id, job_name, trigger, status, completed_at) values
  ('a1500000-0000-4000-8000-000000000051', 'pgtap-rls', 'manual', 'succeeded', now());
insert into public.job_run_sources (run_id, source_id) values
  ('a1500000-0000-4000-8000-000000000051', 'a1500000-0000-4000-8000-000000000001');
insert into public.feed_tokens (id, name, token_hash) values
  ('a1500000-0000-4000-8000-000000000061', 'rls feed', repeat('d', 64));

-- Per table: the seeded row, a column to update in place, and a valid new row.
create temp table probe_targets (tbl text primary key, seeded text, col text, insert_sql text);
insert into probe_targets values
  ('check_frequencies', $$name = 'pgtap_rls'$$, 'description',
   $$insert into public.check_frequencies (name, check_interval) values ('pgtap_rls_new', interval '3 days')$$),
  ('sources', $$id = 'a1500000-0000-4000-8000-000000000001'$$, 'name',
   $$insert into public.sources (name, url) values ('rls probe', 'https://example.org/rls-probe')$$),
  ('snapshots', $$id = 'a1500000-0000-4000-8000-000000000011'$$, 'content',
   $$insert into public.snapshots (source_id, fetch_id, content_hash, content) values ('a1500000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('c', 64), 'probe')$$),
  ('policy_changes', $$id = 'a1500000-0000-4000-8000-000000000021'$$, 'diff',
   $$insert into public.policy_changes (source_id, diff) values ('a1500000-0000-4000-8000-000000000001', 'probe')$$),
  ('subscriptions', $$id = 'a1500000-0000-4000-8000-000000000031'$$, 'target',
   $$insert into public.subscriptions (channel, target, secret) values ('webhook', 'https://example.org/rls-probe', 'rls-probe-secret-0123456789')$$),
  ('alerts', $$id = 'a1500000-0000-4000-8000-000000000041'$$, 'status',
   $$insert into public.alerts (kind, event_key, subscription_id) values ('run_missed', 'rls:' || gen_random_uuid(), 'a1500000-0000-4000-8000-000000000031')$$),
  ('job_runs', $$id = 'a1500000-0000-4000-8000-000000000051'$$, 'errors',
   $$insert into public.job_runs (job_name, trigger, status, completed_at) values ('pgtap-rls-probe', 'manual', 'failed', now())$$),
  ('job_run_sources', $$run_id = 'a1500000-0000-4000-8000-000000000051'$$, 'status',
   $$insert into public.job_run_sources (run_id, source_id) values ('a1500000-0000-4000-8000-000000000051', 'a1500000-0000-4000-8000-000000000002')$$),
  ('feed_tokens', $$id = 'a1500000-0000-4000-8000-000000000061'$$, 'name',
   $$insert into public.feed_tokens (name, token_hash) values ('rls probe', repeat('e', 64))$$);

-- What a policy explicitly allows beyond "nothing" for anon and authenticated (by label).
create temp table policy_allows (label text, tbl text, op text);
insert into policy_allows values
  ('user', 'check_frequencies', 'select'),
  ('admin', 'check_frequencies', 'select'),
  ('admin', 'sources', 'select'),
  ('admin', 'policy_changes', 'select'),
  ('admin', 'alerts', 'select'),
  ('admin', 'job_runs', 'select'),
  ('admin', 'job_run_sources', 'select');

create temp table roles_under_test (label text primary key, role text, claims jsonb);
insert into roles_under_test values
  ('anon', 'anon', '{"role": "anon", "iss": "supabase-demo"}'),
  ('user', 'authenticated', '{"role": "authenticated", "aud": "authenticated",
    "sub": "a1500000-0000-4000-8000-0000000000fe", "app_metadata": {},
    "user_metadata": {"role": "admin"}}'),
  ('admin', 'authenticated', '{"role": "authenticated", "aud": "authenticated",
    "sub": "a1500000-0000-4000-8000-0000000000ff", "app_metadata": {"role": "admin"}}'),
  ('service_role', 'service_role', '{"role": "service_role", "iss": "supabase-demo"}');

-- Runs `p_sql` (a query returning one count) as `p_role` with `p_claims`, always rolled
-- back; returns 'rows:N' or 'error:SQLSTATE'.
create function pg_temp.probe(p_role text, p_claims jsonb, p_sql text) returns text
language plpgsql as $$
declare v_n bigint;
begin
  begin
    execute format('set local role %I', p_role);
    execute format('set local request.jwt.claims = %L', p_claims::text);
    execute p_sql into v_n;
    raise exception using errcode = 'PTROL', message = 'rows:' || v_n;
  exception
    when sqlstate 'PTROL' then return sqlerrm;
    when others then return 'error:' || sqlstate;
  end;
end $$;

-- One pgTAP line per (role, table, operation).
create function pg_temp.rls_matrix() returns setof text language plpgsql as $$
declare
  r record;
  t record;
  v_all bigint;
  v_got text;
  v_allowed boolean;
  v_sql text;
  v_op text;
begin
  for t in
    select c.relname::text as tbl, p.seeded, p.col, p.insert_sql
    from pg_class c left join probe_targets p on p.tbl = c.relname
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
    order by c.relname
  loop
    execute format('select count(*) from public.%I', t.tbl) into v_all;
    for r in select * from roles_under_test order by label loop
      -- select
      v_got := pg_temp.probe(r.role, r.claims, format('select count(*) from public.%I', t.tbl));
      v_allowed := r.role = 'service_role'
        or exists (select 1 from policy_allows a where a.label = r.label and a.tbl = t.tbl and a.op = 'select');
      return next is(v_got, case when v_allowed then 'rows:' || v_all else 'rows:0' end,
        format('%s %s select %s', r.label, case when v_allowed then 'can' else 'cannot' end, t.tbl));
      if t.insert_sql is null then
        for i in 1..3 loop
          return next fail(format('%s: add public.%s to probe_targets in rls_matrix_test.sql', r.label, t.tbl));
        end loop;
        continue;
      end if;
      -- insert, update, delete
      foreach v_op in array array['insert', 'update', 'delete'] loop
        v_sql := case v_op
          when 'insert' then format('with w as (%s returning 1) select count(*) from w', t.insert_sql)
          when 'update' then format(
            'with w as (update public.%I set %I = %I where %s returning 1) select count(*) from w',
            t.tbl, t.col, t.col, t.seeded)
          else format('with w as (delete from public.%I where %s returning 1) select count(*) from w',
            t.tbl, t.seeded)
        end;
        v_got := pg_temp.probe(r.role, r.claims, v_sql);
        if r.role = 'service_role' then
          return next is(v_got, 'rows:1', format('service_role can %s %s', v_op, t.tbl));
        else
          -- A refused write: an RLS/privilege error, or no row touched.
          return next ok(v_got in ('rows:0', 'error:42501'),
            format('%s cannot %s %s (got %s)', r.label, v_op, t.tbl, v_got));
        end if;
      end loop;
    end loop;
  end loop;
end $$;

select * from pg_temp.rls_matrix();

-- Inserts by anon and authenticated are refused by RLS itself, not by a missing privilege.
select is(pg_temp.probe('anon', '{"role": "anon"}',
  $$with w as (insert into public.sources (name, url) values ('x', 'https://example.org/x') returning 1) select count(*) from w$$),
  'error:42501', 'anon inserting a source gets 42501 (row-level security)');

-- The policies in public are exactly the ones this matrix allows for.
select is(
  (select array_agg(tablename || ' ' || lower(cmd) || ' ' || array_to_string(roles, ',') order by tablename)
   from pg_policies where schemaname = 'public'),
  array['alerts select authenticated', 'check_frequencies select authenticated',
        'job_run_sources select authenticated', 'job_runs select authenticated',
        'policy_changes select authenticated', 'sources select authenticated'],
  'the policies in public: signed-in users read check_frequencies, admin users read sources, changes, alerts and runs');
select is(
  (select array_agg(tablename::text order by 1) from pg_policies
   where schemaname = 'public' and tablename <> 'check_frequencies'
     and not coalesce(qual like '%app_metadata%admin%', false)),
  null, 'every read policy but check_frequencies'' requires app_metadata.role = admin');
select is(
  (select array_agg(c.relname::text order by 1) from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity),
  null, 'every table in public has row level security enabled');

-- subscriptions.secret is write-only for the API roles (20261128000600_security.sql). The
-- owner (postgres, not a superuser: it is not one on hosted projects either) keeps it.
select is(
  (select array_agg(r.rolname::text order by 1) from pg_roles r
   where has_column_privilege(r.oid, 'public.subscriptions'::regclass, 'secret', 'select')
     and not r.rolsuper and r.rolname not like 'pg\_%'
     and r.oid <> (select c.relowner from pg_class c where c.oid = 'public.subscriptions'::regclass)),
  null, 'no role but the owner and superusers can read subscriptions.secret');
select is(
  (select array_agg(r || '.' || a.attname order by 1)
   from unnest(array['anon', 'authenticated', 'service_role']) r
   cross join pg_attribute a
   where a.attrelid = 'public.subscriptions'::regclass and a.attnum > 0 and not a.attisdropped
     and a.attname <> 'secret'
     and not has_column_privilege(r, 'public.subscriptions'::regclass, a.attname, 'select')),
  null, 'anon, authenticated and service_role can select every other column of subscriptions');
select ok(
  has_column_privilege('service_role', 'public.subscriptions', 'secret', 'insert')
  and has_column_privilege('service_role', 'public.subscriptions', 'secret', 'update'),
  'service_role can still set and rotate subscriptions.secret');

-- Views: security_invoker, so they apply the caller's RLS instead of their owner's rights.
select is(
  (select array_agg(c.relname::text order by 1) from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
     and not coalesce('security_invoker=true' = any(c.reloptions), false)),
  null, 'every view in public is security_invoker');
select ok((select count(*) from public.job_run_history where run_id = 'a1500000-0000-4000-8000-000000000051') = 1,
  'postgres sees the seeded run in job_run_history');

-- Through the views, each role sees what its RLS on the tables lets it see.
select is(pg_temp.probe(r.role, r.claims, 'select count(*) from public.' || v.query), v.expected,
  v.description)
from (values
  (1, 'anon', 'job_run_history', 'rows:0', 'anon sees nothing through job_run_history'),
  (2, 'user', 'job_run_history', 'rows:0',
   'a plain user (admin only in user_metadata) sees nothing through job_run_history'),
  (3, 'user', 'source_status', 'rows:0', 'a plain user sees nothing through source_status'),
  (4, 'admin', $$job_run_history where run_id = 'a1500000-0000-4000-8000-000000000051'$$, 'rows:1',
   'an admin user sees runs through job_run_history'),
  (5, 'admin', $$source_status where id = 'a1500000-0000-4000-8000-000000000001'$$, 'rows:1',
   'an admin user sees sources with their status through source_status'),
  (6, 'service_role', $$job_run_history where run_id = 'a1500000-0000-4000-8000-000000000051'$$,
   'rows:1', 'service_role sees runs through job_run_history'))
  as v(n, label, query, expected, description)
join roles_under_test r using (label)
order by v.n;

-- auth.uid() and auth.role() read the caller's claims (PostgREST's request.jwt.claims, or
-- the older request.jwt.claim.<name>), as the policies' auth.jwt() does.
select is(pg_temp.probe(r.role, r.claims, $$select count(*) where auth.role() = 'authenticated'
    and auth.uid() = 'a1500000-0000-4000-8000-0000000000fe'$$), 'rows:1',
  'auth.uid() and auth.role() are the signed-in user''s sub and role')
from roles_under_test r where r.label = 'user';
select is((select auth.uid()::text || ' ' || auth.role()
           from (select set_config('request.jwt.claim.sub', 'a1500000-0000-4000-8000-0000000000fd', true),
                        set_config('request.jwt.claim.role', 'authenticated', true)) s),
  'a1500000-0000-4000-8000-0000000000fd authenticated',
  'auth.uid() and auth.role() read the per-claim settings first');

select * from finish();
rollback;
