-- The outbox RPCs' scope (p_subscription_ids): null is every subscription (the function's
-- own work); an array limits enqueue, source health, claim and the dead reports to those
-- subscriptions, so an engine with a scope never queues for, claims or reports to anyone
-- else (the alert engine's tests share the stack's outbox this way).
begin;
select plan(14);

insert into public.sources (id, name, url, consecutive_failures) values
  ('a3700000-0000-4000-8000-000000000001', 'scope source', 'https://example.org/scope', 3);
insert into public.policy_changes (id, source_id, diff) values
  ('a3700000-0000-4000-8000-000000000021', 'a3700000-0000-4000-8000-000000000001', '-a
+b');
insert into public.subscriptions (id, source_id, channel, target, operational_alerts) values
  -- in the scope
  ('a3700000-0000-4000-8000-000000000031', null, 'webhook', 'https://in.example.org/a', true),
  ('a3700000-0000-4000-8000-000000000032', 'a3700000-0000-4000-8000-000000000001', 'webhook',
   'https://in.example.org/b', true),
  -- outside it (all sources, operational: it would get everything)
  ('a3700000-0000-4000-8000-000000000039', null, 'webhook', 'https://out.example.org/', true);

create temp table scope as
  select array['a3700000-0000-4000-8000-000000000031',
               'a3700000-0000-4000-8000-000000000032']::uuid[] as ids;
grant select on scope to service_role;

set local role service_role;
set local request.jwt.claims = '{"role": "service_role"}';

create temp table queued as select public.enqueue_policy_change_alerts(
  'a3700000-0000-4000-8000-000000000021', now(), (select ids from scope)) as rows;
select is(
  (select array_agg((r ->> 'subscription_id')::uuid order by r ->> 'subscription_id')
   from queued, jsonb_array_elements(rows) r),
  (select ids from scope), 'a scoped enqueue returns the scope''s rows only');
select is(
  (select count(*)::int from public.alerts
   where policy_change_id = 'a3700000-0000-4000-8000-000000000021'),
  2, 'and queues nothing for the subscriptions outside it (nor the seed''s)');
select ok(
  (select array_agg((r ->> 'subscription_id')::uuid)
   from jsonb_array_elements(public.enqueue_policy_change_alerts(
     'a3700000-0000-4000-8000-000000000021', now())) r)
  @> array['a3700000-0000-4000-8000-000000000031', 'a3700000-0000-4000-8000-000000000032',
           'a3700000-0000-4000-8000-000000000039']::uuid[],
  'the unscoped enqueue covers the rest and returns every row');

-- A due row outside the scope is never claimed by a scoped claim.
create temp table claim as select public.claim_alerts(now(), 60000, 10, 1, null, '{}',
  (select ids from scope)) as result;
select is(
  (select array_agg((c -> 'subscription' ->> 'id')::uuid order by c -> 'subscription' ->> 'id')
   from claim, jsonb_array_elements(result -> 'claimed') c),
  (select ids from scope), 'a scoped claim without alert ids takes only the scope''s due rows');
select is(
  (select status from public.alerts where policy_change_id = 'a3700000-0000-4000-8000-000000000021'
     and subscription_id = 'a3700000-0000-4000-8000-000000000039'),
  'pending', 'the row outside the scope stays pending');

-- Their senders die on the last attempt: the scoped claim gives up only its own rows and
-- reports only inside the scope (each to the other one, never to itself).
create temp table gone as select public.claim_alerts(now() + interval '2 minutes', 60000, 10, 1,
  null, '{}', (select ids from scope)) as result;
select is(jsonb_array_length((select result -> 'abandoned' from gone)), 2,
  'both scoped rows are given up');
select is(
  (select array_agg((r ->> 'subscription_id')::uuid order by r ->> 'subscription_id')
   from gone, jsonb_array_elements(result -> 'reports') r),
  (select ids from scope), 'each reported to the other scoped subscription only');
select is(
  (select count(*)::int from public.alerts where kind = 'alert_dead'
     and subscription_id = 'a3700000-0000-4000-8000-000000000039'),
  0, 'no report outside the scope');

-- finish_alert's reports follow the scope too.
create temp table outside as select id from public.alerts
  where policy_change_id = 'a3700000-0000-4000-8000-000000000021'
    and subscription_id = 'a3700000-0000-4000-8000-000000000039';
select is(jsonb_array_length(public.claim_alerts(now(), 60000, 10, 1,
  array(select id from outside), '{}') -> 'claimed'), 1, 'the unscoped claim takes the last row');
select is(public.finish_alert((select id from outside), 1, 'dead', 'HTTP 410', null, now(),
  array['a3700000-0000-4000-8000-000000000031']::uuid[]) -> 'reports' -> 0 ->> 'subscription_id',
  'a3700000-0000-4000-8000-000000000031', 'a scoped finish reports to its scope only');
select is(
  (select count(*)::int from public.alerts where kind = 'alert_dead'
     and payload ->> 'alert_id' = (select id::text from outside)),
  1, 'one report row');

-- Operational events and source health.
select is(jsonb_array_length(public.enqueue_operational_alerts('run_missed', 'scope:run_missed:1',
  null, '{}', now(), array['a3700000-0000-4000-8000-000000000031']::uuid[])), 1,
  'a scoped operational event is queued for the scope only');
select is((select count(*)::int from public.alerts where event_key = 'scope:run_missed:1'), 1,
  'one row');
select is(
  (select array_agg((r ->> 'subscription_id')::uuid order by r ->> 'subscription_id')
   from jsonb_array_elements(public.record_source_health('a3700000-0000-4000-8000-000000000001',
     false, 3, now(), (select ids from scope)) -> 'alerts') r),
  (select ids from scope), 'a scoped source-health transition alerts the scope only');
reset role;

select * from finish();
rollback;
