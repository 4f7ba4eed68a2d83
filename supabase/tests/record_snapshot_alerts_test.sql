-- record_snapshot with p_queue_alerts: a change's outbox rows are queued in the change's
-- own transaction (what enqueue_policy_change_alerts queues) and returned; a replay of the
-- same fetch returns the same rows and queues nothing more; a baseline queues nothing;
-- without the flag nothing is queued (the caller queues them itself).
begin;
select plan(10);

insert into public.sources (id, name, url) values
  ('a4100000-0000-4000-8000-000000000001', 'alerts with the change', 'https://example.org/fold'),
  ('a4100000-0000-4000-8000-000000000002', 'another source', 'https://example.org/other');
insert into public.subscriptions (id, source_id, channel, target, active) values
  ('a4100000-0000-4000-8000-000000000031', 'a4100000-0000-4000-8000-000000000001', 'webhook',
   'https://in.example.org/a', true),
  ('a4100000-0000-4000-8000-000000000032', null, 'webhook', 'https://in.example.org/all', true),
  -- not concerned: inactive, another source's
  ('a4100000-0000-4000-8000-000000000038', 'a4100000-0000-4000-8000-000000000001', 'webhook',
   'https://out.example.org/inactive', false),
  ('a4100000-0000-4000-8000-000000000039', 'a4100000-0000-4000-8000-000000000002', 'webhook',
   'https://out.example.org/other', true);

set local role service_role;
set local request.jwt.claims = '{"role": "service_role"}';

create temp table answers (step text primary key, answer jsonb);

insert into answers values ('baseline', public.record_snapshot(
  'a4100000-0000-4000-8000-000000000001', 'a4100000-0000-4000-8000-000000000101', null,
  repeat('1', 64), 'Rule one.', 'text/html', null, null, '2026-12-01 02:00+00', null, true));
select is((select answer -> 'alerts' from answers where step = 'baseline'), 'null'::jsonb,
  'a baseline queues no alert');

insert into answers values ('change', public.record_snapshot(
  'a4100000-0000-4000-8000-000000000001', 'a4100000-0000-4000-8000-000000000102', repeat('1', 64),
  repeat('2', 64), 'Rule two.', 'text/html', '-Rule one.
+Rule two.', '{}', '2026-12-02 02:00+00', null, true));
create temp table change_id as
  select (answer ->> 'policy_change_id')::uuid as id from answers where step = 'change';

select is(
  (select array_agg((r ->> 'id')::uuid order by r ->> 'id')
   from answers, jsonb_array_elements(answer -> 'alerts') r where step = 'change'),
  (select array_agg(a.id order by a.id::text) from public.alerts a
   where a.policy_change_id = (select id from change_id)),
  'the change answers with every outbox row it queued');
select ok(
  (select array_agg(a.subscription_id) from public.alerts a
   where a.policy_change_id = (select id from change_id))
  @> array['a4100000-0000-4000-8000-000000000031', 'a4100000-0000-4000-8000-000000000032']::uuid[],
  'the source''s subscription and the all-sources one get a row');
select is(
  (select count(*)::int from public.alerts a
   where a.policy_change_id = (select id from change_id)
     and a.subscription_id in ('a4100000-0000-4000-8000-000000000038',
                               'a4100000-0000-4000-8000-000000000039')),
  0, 'an inactive subscription and another source''s get none');
select is(
  (select array_agg(distinct a.status || ' ' || a.kind || ' ' || a.next_attempt_at::text)
   from public.alerts a where a.policy_change_id = (select id from change_id)),
  array['pending policy_change 2026-12-02 02:00:00+00'],
  'the rows are pending policy_change alerts due at the fetch''s time');

-- A retry of the same fetch: the same rows, nothing new.
insert into answers values ('replay', public.record_snapshot(
  'a4100000-0000-4000-8000-000000000001', 'a4100000-0000-4000-8000-000000000102', repeat('1', 64),
  repeat('2', 64), 'Rule two.', 'text/html', '-Rule one.
+Rule two.', '{}', '2026-12-02 02:00+00', null, true));
select is((select answer -> 'replayed' from answers where step = 'replay'), 'true'::jsonb,
  'the retry is a replay');
select is(
  (select array_agg(r ->> 'id' order by r ->> 'id')
   from answers, jsonb_array_elements(answer -> 'alerts') r where step = 'replay'),
  (select array_agg(r ->> 'id' order by r ->> 'id')
   from answers, jsonb_array_elements(answer -> 'alerts') r where step = 'change'),
  'the replay answers with the same rows');
-- And the separate enqueue after it adds nothing either.
select is(
  jsonb_array_length(public.enqueue_policy_change_alerts((select id from change_id), now())),
  (select count(*)::int from public.alerts where policy_change_id = (select id from change_id)),
  'enqueue_policy_change_alerts after it returns the same rows');
select is(
  (select count(*)::int from public.alerts where policy_change_id = (select id from change_id)),
  (select jsonb_array_length(answer -> 'alerts') from answers where step = 'change'),
  'no row was added by the replay or the enqueue');

-- Without the flag (the default): the change is recorded, no alert queued.
insert into answers values ('unflagged', public.record_snapshot(
  'a4100000-0000-4000-8000-000000000001', 'a4100000-0000-4000-8000-000000000103', repeat('2', 64),
  repeat('3', 64), 'Rule three.', 'text/html', '-Rule two.
+Rule three.', '{}', '2026-12-03 02:00+00', null));
select is(
  (select count(*)::int from public.alerts
   where policy_change_id = (select (answer ->> 'policy_change_id')::uuid from answers
                             where step = 'unflagged')),
  0, 'without p_queue_alerts the change queues nothing');

select * from finish();
rollback;
