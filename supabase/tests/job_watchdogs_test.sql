-- The job's watchdogs: a run past its deadline is finalised failed when the job is next
-- started, and a missed run is recorded by SQL alone (no HTTP), once per window of the
-- schedule in force (the default hourly schedule: 2 hours; see fetch_schedule_test.sql).
begin;
select plan(12);

-- Isolate from whatever the database already holds: move every run 30 hours back.
update public.job_runs set started_at = started_at - interval '30 hours',
  completed_at = coalesce(completed_at, now()) - interval '30 hours',
  status = case when status = 'running' then 'failed' else status end;

-- 1. Deadline watchdog -------------------------------------------------------------
insert into public.job_runs (id, job_name, trigger, started_at, deadline_at, total_items)
values ('40000000-0000-4000-8000-000000000001', 'daily-fetch', 'cron',
        now() - interval '3 hours', now() - interval '1 hour', 10);
select is(
  (public.job_start_run('daily-fetch', 'manual', '{}'::jsonb, 7200000) ->> 'conflict')::boolean,
  false, 'a run past its deadline does not block a new one');
select is((select status from public.job_runs where id = '40000000-0000-4000-8000-000000000001'),
  'failed', 'the stale run is finalised failed');
select ok((select completed_at is not null from public.job_runs
           where id = '40000000-0000-4000-8000-000000000001'), 'with a completion time');
select matches((select errors ->> 0 from public.job_runs
                where id = '40000000-0000-4000-8000-000000000001'),
  '^run did not finish before its deadline .*finalised failed by the watchdog',
  'and an error that says so');
select is((public.job_start_run('daily-fetch', 'manual', '{}'::jsonb, 7200000) ->> 'conflict')::boolean,
  true, 'a run within its deadline still blocks a second one');

-- 2. Missed-night watchdog -----------------------------------------------------------
delete from public.job_runs where started_at > now() - interval '26 hours';
update private.watchdog_state set watching_since = now() - interval '30 hours'
  where job_name = 'daily-fetch';
insert into net._http_response (id, status_code, content, timed_out)
  values (987654321, 500, '{"error":"boom"}', false);
delete from private.cron_dispatches;
insert into private.cron_dispatches (job_name, request_id, dispatched_at)
  values ('daily-fetch', 987654321, now() - interval '25 hours');

select isnt(private.check_missed_daily_fetch(), null, 'no run in 26 hours: a row is recorded');
select is((select count(*)::int from public.job_runs
           where options ->> 'watchdog' = 'missed_run' and started_at > now() - interval '1 minute'),
  1, 'one failed missed-run row');
select is((select status from public.job_runs where options ->> 'watchdog' = 'missed_run'
           order by started_at desc limit 1), 'failed', 'its status is failed');
select matches((select errors ->> 0 from public.job_runs where options ->> 'watchdog' = 'missed_run'
                order by started_at desc limit 1),
  '^scheduled run \(0 \* \* \* \*\) did not start in the last 2 hours: last dispatch at .* got HTTP 500$',
  'its error says the night was missed, with the pg_net response status');
select is(private.check_missed_daily_fetch(), null, 'the next check records nothing more');

-- A freshly installed schedule is not reported missed in its first 26 hours.
delete from public.job_runs where options ->> 'watchdog' = 'missed_run';
update private.watchdog_state set watching_since = now() where job_name = 'daily-fetch';
select is(private.check_missed_daily_fetch(), null, 'not within 26 hours of installation');

select ok(exists (select 1 from cron.job where jobname = 'daily-fetch-watchdog'
                  and command like '%check_missed_daily_fetch%'),
  'pg_cron runs the check');

select * from finish();
rollback;
