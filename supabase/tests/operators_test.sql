-- The operators' surface (20261128000700_operators.sql): has_secret, source_status,
-- retry_alert. (The sources constraints aligned with the API's save-time rules are in
-- schema_test.sql's table of rows.)
begin;
select plan(7);

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
