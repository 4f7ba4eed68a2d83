-- The operators' surface (20261201000100_operators.sql): constraints aligned with the
-- API's save-time rules, has_secret, source_status, retry_alert.
begin;
select plan(12);

select throws_ok($$insert into public.sources (name, url) values ('x', 'http://-/')$$,
  '23514', null, 'a URL whose host is "-" is refused by sources_url_host_valid');
select throws_ok($$insert into public.sources (name, url) values ('x', 'http://user:pw@example.org/')$$,
  '23514', null, 'a URL with credentials is refused');
select lives_ok($$insert into public.sources (name, url) values ('x', 'https://www.example.org:8443/a?b=c')$$,
  'a normal URL with a port and a query is accepted');
select lives_ok($$insert into public.sources (name, url) values ('y', 'http://[::1]:8080/')$$,
  'an IPv6 literal is accepted');
select throws_ok($$insert into public.sources (name, url, ignore_patterns) values ('x', 'https://example.org/',
  (select array_agg('p' || i) from generate_series(1, 51) i))$$,
  '23514', null, '51 ignore patterns are refused');

insert into public.subscriptions (id, channel, target, secret) values
  ('b1300000-0000-4000-8000-000000000001', 'webhook', 'https://example.org/h', 'a-secret-of-sixteen-plus'),
  ('b1300000-0000-4000-8000-000000000002', 'email', 'ops@example.org', null);
select is((select array_agg(has_secret order by id) from public.subscriptions
  where id in ('b1300000-0000-4000-8000-000000000001', 'b1300000-0000-4000-8000-000000000002')),
  array[true, false], 'has_secret says whether a secret is set');

insert into public.sources (id, name, url, check_frequency, last_checked_at) values
  ('b1300000-0000-4000-8000-000000000011', 'status', 'https://example.org/s', 'weekly', '2026-11-01T00:00:00Z');
select is((select next_due_at from public.source_status where id = 'b1300000-0000-4000-8000-000000000011'),
  '2026-11-08T00:00:00Z'::timestamptz, 'source_status: next due = last check + frequency');

insert into public.alerts (id, kind, event_key, subscription_id, status, attempts, error) values
  ('b1300000-0000-4000-8000-000000000021', 'run_missed', 'op:1', 'b1300000-0000-4000-8000-000000000001', 'dead', 5, 'HTTP 500'),
  ('b1300000-0000-4000-8000-000000000022', 'run_missed', 'op:2', 'b1300000-0000-4000-8000-000000000001', 'sent', 1, null);
select is(public.retry_alert('b1300000-0000-4000-8000-000000000021', '2026-12-01T10:00:00Z'),
  '{"retried": true, "status": "pending"}'::jsonb, 'a dead alert is put back to pending');
select is((select array[attempts::text, next_attempt_at::text] from public.alerts where id = 'b1300000-0000-4000-8000-000000000021'),
  array['0', '2026-12-01 10:00:00+00'], 'with its attempts reset and due now');
select is(public.retry_alert('b1300000-0000-4000-8000-000000000022'),
  '{"retried": false, "status": "sent"}'::jsonb, 'a sent alert is not retried');
select is(public.retry_alert('b1300000-0000-4000-8000-0000000000ff'),
  '{"retried": false, "status": null}'::jsonb, 'an unknown alert says status null');
select ok(not has_function_privilege('authenticated', 'public.retry_alert(uuid, timestamptz)', 'execute'),
  'authenticated cannot call retry_alert');

select * from finish();
rollback;
