-- The fetch schedule: hourly by default (the finest check_frequency), changed by one call
-- (public.set_fetch_schedule) that stores it where the migration's cron.schedule reads it,
-- and a missed-run watchdog whose window follows the schedule in force.
begin;
select plan(28);

-- 1. Default ---------------------------------------------------------------------------
select is((select schedule from cron.job where jobname = 'daily-fetch'),
  (select schedule from private.fetch_schedule where job_name = 'daily-fetch'),
  'pg_cron runs daily-fetch on the stored schedule');
select is((select schedule from private.fetch_schedule where job_name = 'daily-fetch'),
  '0 * * * *', 'which is hourly by default: the finest check_frequency');
select is((select max_gap from private.fetch_schedule where job_name = 'daily-fetch'),
  interval '1 hour', 'with a longest gap of one hour');

-- 2. Longest gap of a cron expression ------------------------------------------------------
select is(private.cron_max_gap('0 * * * *'), interval '1 hour', 'hourly: 1 hour');
select is(private.cron_max_gap('30 4 * * *'), interval '24 hours', 'daily at 04:30: 24 hours');
select is(private.cron_max_gap('0 3 * * 1'), interval '168 hours', 'weekly on Monday: 7 days');
select is(private.cron_max_gap('*/15 8-17 * * 1-5'), interval '62 hours 15 minutes',
  'office hours: Friday 17:45 to Monday 08:00');
select is(private.cron_max_gap('0 0 1 * *'), interval '31 days', 'monthly: the longest month');
select is(private.cron_max_gap('0 2,14 * * *'), interval '12 hours', 'twice a day: 12 hours');
select throws_ok($$select private.cron_max_gap('0 2 * *')$$, '22023', null,
  'four fields are refused');
select throws_ok($$select private.cron_max_gap('61 * * * *')$$, '22023', null,
  'a minute out of range is refused');
select throws_ok($$select private.cron_max_gap('0 0 31 2 *')$$, '22023', null,
  'a schedule that never fires is refused');
select throws_ok($$select private.cron_max_gap('@daily')$$, '22023', null,
  'only the five-field form is accepted');

-- 3. Changing it ------------------------------------------------------------------------------
insert into public.sources (name, url, check_frequency, active, render)
  values ('fetch schedule test hourly', 'https://schedule-test.example.org/', 'hourly', true, 'static');
update private.watchdog_state set watching_since = now() - interval '30 days'
  where job_name = 'daily-fetch';
select is(public.set_fetch_schedule('30  4 * * *') ->> 'schedule', '30 4 * * *',
  'set_fetch_schedule returns the schedule in force');
select is((select schedule from cron.job where jobname = 'daily-fetch'), '30 4 * * *',
  'pg_cron fires at the new time');
select is((select command from cron.job where jobname = 'daily-fetch') like '%/functions/v1/api/jobs/daily-fetch%',
  true, 'with its command unchanged');
-- The command as pg_cron runs it (rolled back with the test: the request is never sent).
do $$ begin execute (select command from cron.job where jobname = 'daily-fetch'); end $$;
create temp view fetch_request as
select q.url, q.headers, convert_from(q.body, 'utf8')::jsonb as body
from private.cron_dispatches d join net.http_request_queue q on q.id = d.request_id
-- (now(): this transaction's rows only)
where d.job_name = 'daily-fetch' and d.dispatched_at = now();
select is((select jsonb_build_object('path', substring(url from '/functions/.*$'),
             'prefer', headers ->> 'Prefer', 'body', body) from fetch_request),
  '{"path": "/functions/v1/api/jobs/daily-fetch", "prefer": "respond-async", "body": {"trigger": "cron"}}'::jsonb,
  'it posts {"trigger": "cron"} to /api/jobs/daily-fetch with Prefer: respond-async, and records its dispatch');
select ok((select r.headers ->> 'apikey' = k.decrypted_secret
              and r.headers ->> 'Authorization' = 'Bearer ' || k.decrypted_secret
           from fetch_request r, vault.decrypted_secrets k where k.name = 'service_role_key'),
  'with the Vault service key as apikey and bearer');
select is((select schedule || ' ' || max_gap from private.fetch_schedule where job_name = 'daily-fetch'),
  '30 4 * * * 24:00:00', 'the stored schedule (what a later db push installs) follows');
select ok((select watching_since > now() - interval '1 minute' from private.watchdog_state
           where job_name = 'daily-fetch'), 'the watchdog window restarts with the new schedule');
select ok((public.set_fetch_schedule('0 2 * * *') -> 'slower_than_asked') ? 'hourly',
  'it says which frequencies in use the schedule serves less often than asked');
select throws_ok($$select public.set_fetch_schedule('every night')$$, '22023', null,
  'an invalid schedule is refused and nothing changes');

-- 4. Who may call it ----------------------------------------------------------------------------
select ok(not has_function_privilege('anon', 'public.set_fetch_schedule(text)', 'execute')
      and not has_function_privilege('authenticated', 'public.set_fetch_schedule(text)', 'execute'),
  'anon and authenticated cannot change the schedule');
select ok(has_function_privilege('service_role', 'public.set_fetch_schedule(text)', 'execute'),
  'service_role (the secret key) can');

-- 5. The watchdog follows the schedule ------------------------------------------------------------
update public.job_runs set started_at = started_at - interval '30 days',
  completed_at = coalesce(completed_at, now()) - interval '30 days',
  status = case when status = 'running' then 'failed' else status end;
insert into public.job_runs (job_name, trigger, status, started_at, completed_at)
  values ('daily-fetch', 'cron', 'succeeded', now() - interval '3 hours', now() - interval '3 hours');
select public.set_fetch_schedule('0 2 * * *');
update private.watchdog_state set watching_since = now() - interval '30 days'
  where job_name = 'daily-fetch';
select is(private.check_missed_daily_fetch(), null,
  'daily schedule, last run 3 hours ago: nothing missed');
select public.set_fetch_schedule('0 * * * *');
update private.watchdog_state set watching_since = now() - interval '30 days'
  where job_name = 'daily-fetch';
select isnt(private.check_missed_daily_fetch(), null,
  'hourly schedule, last run 3 hours ago: a missed run is recorded');
select matches((select errors ->> 0 from public.job_runs where options ->> 'watchdog' = 'missed_run'
                order by started_at desc limit 1),
  '^scheduled run \(0 \* \* \* \*\) did not start in the last 2 hours: ',
  'its error names the schedule and the window');

-- A project whose Vault lacks the key: pg_cron's call fails, saying so (job_run_details).
delete from vault.secrets where name = 'service_role_key';
select throws_ok($$select private.call_api('daily-fetch', '/functions/v1/api/jobs/daily-fetch', '{}', true)$$,
  'P0002', null, 'without the Vault service key the call fails and says why');

select * from finish();
rollback;
