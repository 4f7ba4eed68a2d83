-- The alert RPCs keep subscription secrets inside the database: sign_alert_body returns an
-- HMAC (never the secret) and only to service_role; what enqueue and claim return about a
-- subscription says whether it has a secret, not what it is.
begin;
select plan(9);

insert into public.sources (id, name, url) values
  ('a2500000-0000-4000-8000-000000000001', 'rpc source', 'https://example.org/rpc');
insert into public.policy_changes (id, source_id, diff) values
  ('a2500000-0000-4000-8000-000000000021', 'a2500000-0000-4000-8000-000000000001', '-a
+b');
insert into public.subscriptions (id, source_id, channel, target, secret) values
  ('a2500000-0000-4000-8000-000000000031', 'a2500000-0000-4000-8000-000000000001', 'webhook',
   'https://example.org/rpc-hook', 'rpc-test-secret-0123456789'),
  ('a2500000-0000-4000-8000-000000000032', 'a2500000-0000-4000-8000-000000000001', 'webhook',
   'https://example.org/rpc-hook-2', null);

set local role service_role;
set local request.jwt.claims = '{"role": "service_role"}';

select is(
  public.sign_alert_body('a2500000-0000-4000-8000-000000000031', '{"event":"policy_change"}'),
  encode(extensions.hmac(convert_to('{"event":"policy_change"}', 'UTF8'),
                         convert_to('rpc-test-secret-0123456789', 'UTF8'), 'sha256'), 'hex'),
  'service_role gets the hex HMAC-SHA256 of the body keyed with the secret');
select throws_ok(
  $$select public.sign_alert_body('a2500000-0000-4000-8000-000000000032', 'x')$$,
  '22023', null, 'signing for a subscription without a secret is refused');
select throws_ok(
  $$select public.sign_alert_body('a2500000-0000-4000-8000-0000000000ff', 'x')$$,
  'P0002', null, 'signing for an unknown subscription is refused');
select throws_like(
  $$select secret from public.subscriptions where id = 'a2500000-0000-4000-8000-000000000031'$$,
  'permission denied%', 'service_role cannot select the secret itself');

select ok(
  public.enqueue_policy_change_alerts('a2500000-0000-4000-8000-000000000021', now())::text
    not like '%rpc-test-secret%',
  'enqueue_policy_change_alerts does not return the secret');
create temp table claimed as
select public.claim_alerts(now(), 60000, 10, 5,
  array(select id from public.alerts where policy_change_id = 'a2500000-0000-4000-8000-000000000021'
        and subscription_id::text like 'a2500000-%'),
  '{}') as result;
select is(
  (select jsonb_array_length(result -> 'claimed') from claimed), 2,
  'the alerts of both test subscriptions are claimed');
select ok((select result::text not like '%rpc-test-secret%' from claimed),
  'claim_alerts does not return the secret');
select is(
  (select array_agg((c -> 'subscription' ->> 'has_secret')::boolean order by c -> 'subscription' ->> 'target')
   from claimed, jsonb_array_elements(result -> 'claimed') c),
  array[true, false],
  'claimed subscriptions say whether they have a secret');
reset role;

set local role anon;
set local request.jwt.claims = '{"role": "anon"}';
select throws_ok(
  $$select public.sign_alert_body('a2500000-0000-4000-8000-000000000031', 'x')$$,
  '42501', null, 'anon cannot call sign_alert_body');
reset role;

select * from finish();
rollback;
