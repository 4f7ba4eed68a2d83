-- Alerts on their own clock: the pg_cron job alerts-deliver calls the function every 5
-- minutes, authorised like daily-fetch (Vault key as apikey and bearer), and the outbox
-- hands it only the alerts that are due: pending ones and failed ones past their backoff,
-- until ALERT_MAX_ATTEMPTS.
begin;
select plan(11);

select is((select schedule from cron.job where jobname = 'alerts-deliver'), '*/5 * * * *',
  'alerts-deliver runs every 5 minutes');
-- The command as pg_cron runs it (rolled back with the test: the request is never sent).
do $$ begin execute (select command from cron.job where jobname = 'alerts-deliver'); end $$;
create temp view deliver_request as
select q.url, q.headers, convert_from(q.body, 'utf8')::jsonb as body
from private.cron_dispatches d join net.http_request_queue q on q.id = d.request_id
-- (now(): this transaction's rows only)
where d.job_name = 'alerts-deliver' and d.dispatched_at = now();
select ok((select url like '%/functions/v1/api/jobs/alerts/deliver' from deliver_request),
  'it posts to /api/jobs/alerts/deliver, and records its dispatch');
select ok((select r.headers ->> 'apikey' = k.decrypted_secret
              and r.headers ->> 'Authorization' = 'Bearer ' || k.decrypted_secret
           from deliver_request r, vault.decrypted_secrets k where k.name = 'service_role_key'),
  'with the Vault service key as apikey and bearer, like daily-fetch');
select is((select headers ->> 'Prefer' from deliver_request), null,
  'and waits for the pass''s answer (no respond-async)');

insert into public.sources (id, name, url) values
  ('a3500000-0000-4000-8000-000000000001', 'retry schedule source', 'https://example.org/retry');
insert into public.policy_changes (id, source_id, diff) values
  ('a3500000-0000-4000-8000-000000000021', 'a3500000-0000-4000-8000-000000000001', '-a
+b');
insert into public.subscriptions (id, source_id, channel, target) values
  ('a3500000-0000-4000-8000-000000000031', 'a3500000-0000-4000-8000-000000000001', 'webhook',
   'https://example.org/retry-hook');
select jsonb_array_length(public.enqueue_policy_change_alerts('a3500000-0000-4000-8000-000000000021', now())) > 0;
-- This test's own alert (the seed may hold global subscriptions too).
create temp table ids as select id from public.alerts
  where policy_change_id = 'a3500000-0000-4000-8000-000000000021'
    and subscription_id = 'a3500000-0000-4000-8000-000000000031';

-- First attempt, then a failure with a backoff of 10 minutes.
select is(jsonb_array_length(public.claim_alerts(now(), 60000, 10, 3,
  array(select id from ids), '{}') -> 'claimed'), 1, 'a pending alert is due at once');
select ok((public.finish_alert((select id from ids), 1, 'failed', 'HTTP 503',
  now() + interval '10 minutes', now()) ->> 'recorded')::boolean, 'its failure is recorded with the next attempt time');
select is(jsonb_array_length(public.claim_alerts(now() + interval '5 minutes', 60000, 10, 3,
  array(select id from ids), '{}') -> 'claimed'), 0, 'five minutes later it is not due yet');
select is(jsonb_array_length(public.claim_alerts(now() + interval '11 minutes', 60000, 10, 3,
  array(select id from ids), '{}') -> 'claimed'), 1, 'past its backoff the next pass claims it');
select is((select attempts from public.alerts where id = (select id from ids)), 2,
  'as attempt 2');
-- The last attempt fails: dead, and never claimed again.
select ok((public.finish_alert((select id from ids), 2, 'dead', 'HTTP 503 (gave up)', null,
  now() + interval '11 minutes') ->> 'recorded')::boolean, 'giving up is recorded');
select is(jsonb_array_length(public.claim_alerts(now() + interval '1 day', 60000, 10, 3,
  array(select id from ids), '{}') -> 'claimed'), 0, 'a dead alert is not retried by the cron job');

select * from finish();
rollback;
