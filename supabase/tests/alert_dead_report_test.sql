-- An alert that gives up is reported to the operational subscriptions (issue 13 item 5):
-- the step that makes it dead (finish_alert as dead, or a claim that finds its last sender
-- gone) queues one alert_dead report per active operational subscription concerned by its
-- source, never to the subscription that could not be reached, and returns the reports.
-- A report that dies is not reported again; an alert of a switched-off subscription is not
-- reported. (The seed's global operational subscription gets reports too: assertions look
-- at this test's subscriptions only.)
begin;
select plan(19);

insert into public.sources (id, name, url) values
  ('a3600000-0000-4000-8000-000000000001', 'dead report source', 'https://example.org/dead'),
  ('a3600000-0000-4000-8000-000000000002', 'other source', 'https://example.org/other');
insert into public.policy_changes (id, source_id, diff) values
  ('a3600000-0000-4000-8000-000000000021', 'a3600000-0000-4000-8000-000000000001', '-a
+b');
insert into public.subscriptions (id, source_id, channel, target, operational_alerts, active) values
  -- the receiver that is down (itself operational: it must not get the report of its own alert)
  ('a3600000-0000-4000-8000-000000000031', 'a3600000-0000-4000-8000-000000000001', 'webhook',
   'https://down.example.org/hook', true, true),
  -- operational, all sources
  ('a3600000-0000-4000-8000-000000000032', null, 'email', 'ops@example.org', true, true),
  -- operational, this source
  ('a3600000-0000-4000-8000-000000000033', 'a3600000-0000-4000-8000-000000000001', 'slack',
   'https://hooks.slack.com/services/T/B/secretpath', true, true),
  -- changes only
  ('a3600000-0000-4000-8000-000000000034', 'a3600000-0000-4000-8000-000000000001', 'webhook',
   'https://changes.example.org/hook', false, true),
  -- operational, another source
  ('a3600000-0000-4000-8000-000000000035', 'a3600000-0000-4000-8000-000000000002', 'webhook',
   'https://other.example.org/hook', true, true),
  -- operational, switched off
  ('a3600000-0000-4000-8000-000000000036', null, 'webhook',
   'https://off.example.org/hook', true, false);

create temp table mine (id uuid primary key);
insert into mine select id from public.subscriptions where id::text like 'a3600000-%';
grant select on mine to service_role;

set local role service_role;
set local request.jwt.claims = '{"role": "service_role"}';

select jsonb_array_length(public.enqueue_policy_change_alerts('a3600000-0000-4000-8000-000000000021', now())) > 0;
create temp table down as select id from public.alerts
  where policy_change_id = 'a3600000-0000-4000-8000-000000000021'
    and subscription_id = 'a3600000-0000-4000-8000-000000000031';

-- Attempt 1 fails: no report.
select is(jsonb_array_length(public.claim_alerts(now(), 60000, 10, 2, array(select id from down), '{}') -> 'claimed'),
  1, 'the alert is claimed');
select is(public.finish_alert((select id from down), 1, 'failed', 'HTTP 503 from down.example.org',
  now() + interval '1 minute', now()) -> 'reports', '[]'::jsonb, 'a failure to retry reports nothing');
select is((select count(*)::int from public.alerts where kind = 'alert_dead'
  and subscription_id in (select id from mine)), 0, 'no alert_dead row yet');

-- Attempt 2 is the last: dead, reported.
select is(jsonb_array_length(public.claim_alerts(now() + interval '2 minutes', 60000, 10, 2,
  array(select id from down), '{}') -> 'claimed'), 1, 'attempt 2 is claimed');
create temp table finished as select public.finish_alert((select id from down), 2, 'dead',
  'Cannot deliver alert: HTTP 503 from down.example.org (gave up after 2 attempts)', null,
  now() + interval '2 minutes') as result;
select is((select (result ->> 'recorded')::boolean from finished), true, 'giving up is recorded');
select is(
  (select array_agg(subscription_id order by subscription_id) from public.alerts
   where kind = 'alert_dead' and subscription_id in (select id from mine)),
  array['a3600000-0000-4000-8000-000000000032', 'a3600000-0000-4000-8000-000000000033']::uuid[],
  'reported to the active operational subscriptions of the source and of all sources only');
select ok(
  (select array_agg(r ->> 'id' order by r ->> 'id') from finished, jsonb_array_elements(result -> 'reports') r)
  @> (select array_agg(id::text order by id::text) from public.alerts
      where kind = 'alert_dead' and subscription_id in (select id from mine)),
  'finish_alert returns the report rows it queued');
select ok(
  (select bool_and(r ->> 'kind' = 'alert_dead' and r ->> 'status' = 'pending')
   from finished, jsonb_array_elements(result -> 'reports') r),
  'as pending alert_dead rows, due now');
select is(
  (select payload - 'given_up_at' - 'queued_at' from public.alerts
   where kind = 'alert_dead' and subscription_id = 'a3600000-0000-4000-8000-000000000032'),
  jsonb_build_object(
    'alert_id', (select id from down), 'alert_kind', 'policy_change',
    'subscription_id', 'a3600000-0000-4000-8000-000000000031', 'channel', 'webhook',
    'policy_change_id', 'a3600000-0000-4000-8000-000000000021', 'event_key', null,
    'attempts', 2,
    'error', 'Cannot deliver alert: HTTP 503 from down.example.org (gave up after 2 attempts)'),
  'the report says which alert, to whom, after how many attempts and why');
select ok(
  (select bool_and(payload::text not like '%down.example.org/hook%' and payload::text not like '%secretpath%'
                   and source_id = 'a3600000-0000-4000-8000-000000000001')
   from public.alerts where kind = 'alert_dead' and subscription_id in (select id from mine)),
  'it carries the source, not a subscription target');

-- A report that dies is not reported again.
create temp table report as select id from public.alerts
  where kind = 'alert_dead' and subscription_id = 'a3600000-0000-4000-8000-000000000032';
select is(jsonb_array_length(public.claim_alerts(now() + interval '3 minutes', 60000, 10, 1,
  array(select id from report), '{}') -> 'claimed'), 1, 'the report is claimed');
select is(public.finish_alert((select id from report), 1, 'dead', 'HTTP 500', null,
  now() + interval '3 minutes'), '{"recorded": true, "reports": []}'::jsonb,
  'a dead report queues no report of itself');

-- A late result of a lost claim records nothing and reports nothing.
select is(public.finish_alert((select id from down), 1, 'dead', 'late', null, now()),
  '{"recorded": false, "reports": []}'::jsonb, 'a stale finish reports nothing');

-- Retried by an operator and given up again: a second report (its own event key).
select is(public.retry_alert((select id from down), now() + interval '4 minutes') ->> 'retried', 'true',
  'an operator puts the dead alert back');
select is(jsonb_array_length(public.claim_alerts(now() + interval '4 minutes', 60000, 10, 1,
  array(select id from down), '{}') -> 'claimed'), 1, 'it is claimed again');
-- Its sender dies on the last attempt: the next claim gives it up and reports it.
create temp table abandoned as select public.claim_alerts(now() + interval '10 minutes', 60000, 10, 1,
  array(select id from down), '{}') as result;
select is(jsonb_array_length((select result -> 'abandoned' from abandoned)), 1,
  'a claim past the lease of the last attempt gives it up');
select is(
  (select count(*)::int from abandoned, jsonb_array_elements(result -> 'reports') r
   where (r ->> 'subscription_id')::uuid in (select id from mine)),
  2, 'and returns the reports it queued, one per operational subscription again');

-- An alert of a switched-off subscription died on purpose: not reported.
reset role;
update public.subscriptions set active = true where id = 'a3600000-0000-4000-8000-000000000036';
select jsonb_array_length(public.enqueue_policy_change_alerts('a3600000-0000-4000-8000-000000000021', now())) > 0;
update public.subscriptions set active = false where id = 'a3600000-0000-4000-8000-000000000036';
set local role service_role;
select is(jsonb_array_length(public.claim_alerts(now(), 60000, 10, 5,
  array(select id from public.alerts where policy_change_id = 'a3600000-0000-4000-8000-000000000021'
        and subscription_id = 'a3600000-0000-4000-8000-000000000036'), '{}') -> 'claimed'), 1,
  'the switched-off subscription''s alert is claimed');
select is(public.finish_alert(
  (select id from public.alerts where policy_change_id = 'a3600000-0000-4000-8000-000000000021'
     and subscription_id = 'a3600000-0000-4000-8000-000000000036'),
  1, 'dead', 'the subscription is no longer active', null, now()) -> 'reports', '[]'::jsonb,
  'its death is not reported');
reset role;

select * from finish();
rollback;
