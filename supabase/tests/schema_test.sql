-- Schema contract: constraints reject bad rows, RLS is on everywhere, everything is
-- commented (Studio shows the comments to operators).
begin;
select plan(29);

-- Contract tables exist with their columns.
select has_table('public', 'sources', 'sources exists');
select columns_are('public', 'job_runs', array[
  'id', 'job_name', 'trigger', 'status', 'started_at', 'completed_at', 'deadline_at', 'options',
  'total_items', 'sources_processed', 'sources_succeeded', 'sources_failed', 'sources_skipped',
  'changes_detected', 'alerts_sent', 'errors', 'invocations'
]::name[], 'job_runs has the contract columns') ;

-- sources
select throws_ok($$insert into public.sources (name, url) values ('x', 'ftp://example.org/a')$$,
  '23514', null, 'a non-http(s) URL is rejected');
select throws_ok($$insert into public.sources (name, url) values ('x', 'javascript:alert(1)')$$,
  '23514', null, 'a javascript: URL is rejected');
select throws_ok($$insert into public.sources (name, url) values ('', 'https://example.org/')$$,
  '23514', null, 'an empty name is rejected');
select throws_ok($$insert into public.sources (name, url, check_frequency) values ('x', 'https://example.org/', 'fortnightly')$$,
  '23503', null, 'an unknown check_frequency is rejected');
select throws_ok($$insert into public.sources (name, url, ignore_patterns) values ('x', 'https://example.org/', array[''])$$,
  '22023', null, 'an empty ignore pattern is rejected');
select throws_ok($$insert into public.sources (name, url, ignore_patterns) values ('x', 'https://example.org/', array_fill('a'::text, array[51]))$$,
  '23514', null, 'more than 50 ignore patterns are rejected');
-- Syntax is checked by the engine that runs the patterns (the API, ignorePatternErrors), not by
-- Postgres' regex rules: a named group is valid JavaScript that Postgres refused.
select lives_ok($$insert into public.sources (name, url, ignore_patterns) values ('js', 'https://example.org/js', array['(?<year>\d{4}) edition'])$$,
  'a JavaScript pattern Postgres regex rules refuse is stored');
select throws_ok($$insert into public.sources (name, url, consecutive_failures) values ('x', 'https://example.org/', -1)$$,
  '23514', null, 'negative consecutive_failures is rejected');
select throws_ok($$insert into public.sources (name, url, render) values ('x', 'https://example.org/', 'headless')$$,
  '23514', null, 'an unknown render mode is rejected');
select col_default_is('public', 'sources', 'render', 'static', 'render defaults to static');
select lives_ok($$insert into public.sources (name, url, render, last_error_class) values ('b', 'https://example.org/b', 'browser', 'browser')$$,
  'a browser source and the browser error class are accepted');
select lives_ok($$insert into public.sources (id, name, url, check_frequency) values ('10000000-0000-4000-8000-000000000001', 'ok', 'https://example.org/ok', 'hourly')$$,
  'a good source is accepted');
select lives_ok($$insert into public.check_frequencies (name, check_interval) values ('monthly', interval '30 days');
  insert into public.sources (name, url, check_frequency) values ('m', 'https://example.org/m', 'monthly')$$,
  'adding a frequency is adding a row');

-- subscriptions
select throws_ok($$insert into public.subscriptions (channel, target) values ('sms', 'https://example.org/')$$,
  '23514', null, 'an unknown channel is rejected');
select throws_ok($$insert into public.subscriptions (channel, target) values ('webhook', 'not a url')$$,
  '23514', null, 'a webhook target must be an http(s) URL');
select throws_ok($$insert into public.subscriptions (channel, target) values ('email', 'nobody')$$,
  '23514', null, 'an email target must be an address');
select lives_ok($$insert into public.subscriptions (channel, target) values ('email', 'ops@example.org')$$,
  'an all-sources email subscription is accepted');

-- job_runs
select throws_ok($$insert into public.job_runs (trigger) values ('sometimes')$$,
  '23514', null, 'an unknown trigger is rejected');
select throws_ok($$insert into public.job_runs (trigger, status, completed_at, sources_failed) values ('manual', 'succeeded', now(), -3)$$,
  '23514', null, 'negative counters are rejected');
select throws_ok($$insert into public.job_runs (trigger, errors, status, completed_at) values ('manual', '{"a": 1}', 'failed', now())$$,
  '23514', null, 'errors must be a JSON array');
select lives_ok($$insert into public.job_runs (job_name, trigger) values ('pgtap-job', 'manual')$$,
  'a running run is accepted');
select throws_ok($$insert into public.job_runs (job_name, trigger) values ('pgtap-job', 'cron')$$,
  '23505', null, 'a second running run of the same job is rejected');

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

select * from finish();
rollback;
