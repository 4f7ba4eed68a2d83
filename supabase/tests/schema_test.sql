-- Schema contract: constraints reject bad rows, RLS is on everywhere, everything is
-- commented (Studio shows the comments to operators).
begin;
select plan(37);

-- Contract tables exist with their columns.
select has_table('public', 'sources', 'sources exists');
select columns_are('public', 'job_runs', array[
  'id', 'job_name', 'trigger', 'status', 'started_at', 'completed_at', 'deadline_at', 'options',
  'total_items', 'sources_processed', 'sources_succeeded', 'sources_failed', 'sources_skipped',
  'changes_detected', 'alerts_sent', 'errors', 'invocations'
]::name[], 'job_runs has the contract columns') ;
select col_default_is('public', 'sources', 'render', 'static', 'render defaults to static');

-- Constraints: each row below is inserted on its own, in order (pg_temp.insert_outcome:
-- 'ok' when stored, else the SQLSTATE it failed with), and must end as expected.
create function pg_temp.insert_outcome(p_table regclass, p_row jsonb) returns text
language plpgsql as $$
declare v_columns text := (select string_agg(quote_ident(k), ', ') from jsonb_object_keys(p_row) k);
begin
  execute format('insert into %s (%s) select %s from jsonb_populate_record(null::%s, $1)',
    p_table, v_columns, v_columns, p_table) using p_row;
  return 'ok';
exception when others then
  return sqlstate;
end $$;

select is(pg_temp.insert_outcome(t.tbl, t.row_json::jsonb), t.outcome, t.description)
from (values
  -- sources
  (1, 'public.sources', '{"name": "x", "url": "ftp://example.org/a"}', '23514', 'a non-http(s) URL is rejected'),
  (2, 'public.sources', '{"name": "x", "url": "javascript:alert(1)"}', '23514', 'a javascript: URL is rejected'),
  (3, 'public.sources', '{"name": "", "url": "https://example.org/"}', '23514', 'an empty name is rejected'),
  (4, 'public.sources', '{"name": "x", "url": "https://example.org/", "check_frequency": "fortnightly"}', '23503', 'an unknown check_frequency is rejected'),
  (5, 'public.sources', '{"name": "x", "url": "https://example.org/", "ignore_patterns": [""]}', '22023', 'an empty ignore pattern is rejected'),
  (6, 'public.sources', jsonb_build_object('name', 'x', 'url', 'https://example.org/', 'ignore_patterns', to_jsonb(array_fill('a'::text, array[51])))::text, '23514', 'more than 50 ignore patterns are rejected'),
  -- Syntax is checked by the engine that runs the patterns (the API, ignorePatternErrors),
  -- not by Postgres' regex rules: a named group is valid JavaScript that Postgres refused.
  (7, 'public.sources', '{"name": "js", "url": "https://example.org/js", "ignore_patterns": ["(?<year>\\d{4}) edition"]}', 'ok', 'a JavaScript pattern Postgres regex rules refuse is stored'),
  (8, 'public.sources', '{"name": "x", "url": "https://example.org/", "consecutive_failures": -1}', '23514', 'negative consecutive_failures is rejected'),
  (9, 'public.sources', '{"name": "x", "url": "https://example.org/", "render": "headless"}', '23514', 'an unknown render mode is rejected'),
  (10, 'public.sources', '{"name": "b", "url": "https://example.org/b", "render": "browser", "last_error_class": "browser"}', 'ok', 'a browser source and the browser error class are accepted'),
  (11, 'public.sources', '{"id": "10000000-0000-4000-8000-000000000001", "name": "ok", "url": "https://example.org/ok", "check_frequency": "hourly"}', 'ok', 'a good source is accepted'),
  (12, 'public.check_frequencies', '{"name": "monthly", "check_interval": "30 days"}', 'ok', 'adding a frequency is adding a row'),
  (13, 'public.sources', '{"name": "m", "url": "https://example.org/m", "check_frequency": "monthly"}', 'ok', 'a source can use the added frequency at once'),
  -- aligned with the API's save-time rules (shared/operators/rules.ts)
  (14, 'public.sources', '{"name": "x", "url": "http://-/"}', '23514', 'a URL whose host is "-" is refused by sources_url_host_valid'),
  (15, 'public.sources', '{"name": "x", "url": "http://user:pw@example.org/"}', '23514', 'a URL with credentials is refused'),
  (16, 'public.sources', '{"name": "x", "url": "https://www.example.org:8443/a?b=c"}', 'ok', 'a normal URL with a port and a query is accepted'),
  (17, 'public.sources', '{"name": "y", "url": "http://[::1]:8080/"}', 'ok', 'an IPv6 literal is accepted'),
  (18, 'public.sources', jsonb_build_object('name', 'x', 'url', 'https://example.org/', 'ignore_patterns', (select jsonb_agg('p' || i) from generate_series(1, 51) i))::text, '23514', '51 distinct ignore patterns are refused'),
  -- subscriptions
  (19, 'public.subscriptions', '{"channel": "sms", "target": "https://example.org/"}', '23514', 'an unknown channel is rejected'),
  (20, 'public.subscriptions', '{"channel": "webhook", "target": "not a url"}', '23514', 'a webhook target must be an http(s) URL'),
  (21, 'public.subscriptions', '{"channel": "email", "target": "nobody"}', '23514', 'an email target must be an address'),
  (22, 'public.subscriptions', '{"channel": "email", "target": "ops@example.org"}', 'ok', 'an all-sources email subscription is accepted'),
  -- job_runs
  (23, 'public.job_runs', '{"trigger": "sometimes"}', '23514', 'an unknown trigger is rejected'),
  (24, 'public.job_runs', '{"trigger": "manual", "status": "succeeded", "completed_at": "2026-12-01T00:00:00Z", "sources_failed": -3}', '23514', 'negative counters are rejected'),
  (25, 'public.job_runs', '{"trigger": "manual", "errors": {"a": 1}, "status": "failed", "completed_at": "2026-12-01T00:00:00Z"}', '23514', 'errors must be a JSON array'),
  (26, 'public.job_runs', '{"job_name": "pgtap-job", "trigger": "manual"}', 'ok', 'a running run is accepted'),
  (27, 'public.job_runs', '{"job_name": "pgtap-job", "trigger": "cron"}', '23505', 'a second running run of the same job is rejected'))
  as t(n, tbl, row_json, outcome, description)
order by t.n;

-- alerts: one per (change, subscription)
insert into public.policy_changes (id, source_id, diff)
  values ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', '-a\n+b');
insert into public.subscriptions (id, channel, target)
  values ('30000000-0000-4000-8000-000000000001', 'webhook', 'https://example.org/hook');
insert into public.alerts (policy_change_id, subscription_id)
  values ('20000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001');
select throws_ok($$insert into public.alerts (policy_change_id, subscription_id) values ('20000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001')$$,
  '23505', null, 'a second alert for the same change and subscription is rejected');
select throws_ok($$insert into public.alerts (policy_change_id, subscription_id, status) values ('20000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001', 'lost')$$,
  '23514', null, 'an unknown alert status is rejected');

-- RLS on every table of public, comments everywhere
select is(
  (select array_agg(c.relname order by c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity),
  null, 'RLS is enabled on every table in public');
select is(
  (select array_agg(c.relname order by c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind in ('r', 'v') and obj_description(c.oid, 'pg_class') is null),
  null, 'every table and view in public has a comment');
select is(
  (select array_agg(c.relname || '.' || a.attname order by 1) from pg_class c
   join pg_namespace n on n.oid = c.relnamespace
   join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
   where n.nspname = 'public' and c.relkind in ('r', 'v') and col_description(c.oid, a.attnum) is null),
  null, 'every column in public has a comment');

-- The large texts are compressed with lz4 (a stored snapshot is written ~4× faster than with
-- pglz), and a value written really is lz4 (Postgres built with it, as hosted is).
select is(
  (select array_agg(c.relname || '.' || a.attname || '=' || a.attcompression::text order by c.relname, a.attname)
   from pg_attribute a join pg_class c on c.oid = a.attrelid
   where (c.oid, a.attname) in (('public.snapshots'::regclass, 'content'), ('public.policy_changes'::regclass, 'diff'))),
  array['policy_changes.diff=l', 'snapshots.content=l'], 'snapshot texts and diffs use lz4');
insert into public.sources (id, name, url) values
  ('0b5e0000-0000-4000-8000-000000000001', 'lz4 probe', 'https://lz4.example/a');
insert into public.snapshots (source_id, fetch_id, content_hash, content)
values ('0b5e0000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('a', 64), repeat('Rule 7 applies. ', 500));
select is(
  (select pg_column_compression(content) from public.snapshots
   where source_id = '0b5e0000-0000-4000-8000-000000000001'),
  'lz4', 'a snapshot text is stored compressed with lz4');

select * from finish();
rollback;
