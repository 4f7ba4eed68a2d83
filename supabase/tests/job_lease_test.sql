-- Leases with a heartbeat: a live invocation renews the leases of the items it holds
-- (job_renew_leases), never those another invocation claimed again, so a lease can be short
-- and its expiry means a dead invocation; the resume watchdog (private.resume_stalled_runs,
-- every minute) then asks for a new invocation on a daily-fetch run nobody holds, with
-- graces so that it does not race a claim. (now() stands still in a test: leases are moved
-- by hand.)
begin;
select plan(15);

insert into public.sources (id, name, url)
select ('51000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'lease test ' || g,
       'https://lease.example/p' || g
from generate_series(1, 3) g;
insert into public.job_runs (id, job_name, trigger)
values ('51000000-0000-4000-8000-100000000000', 'lease-tap', 'manual');
select public.job_add_items('51000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'lease test %'), '{}');

-- 1. Renewal ---------------------------------------------------------------------------
-- How long the shortest lease an invocation holds in the lease-tap run has left.
create function pg_temp.shortest_lease(p_claimed_by text) returns interval language sql as $$
  select min(s.lease_until) - now() from public.job_run_sources s
  where s.run_id = '51000000-0000-4000-8000-100000000000' and s.claimed_by = p_claimed_by
$$;
select is(jsonb_array_length(public.job_claim_items(
  '51000000-0000-4000-8000-100000000000', 'inv-a', 2, 30000)), 2, 'inv-a claims two items');
select is(public.job_claim_items('51000000-0000-4000-8000-100000000000', 'inv-b', 5, 30000)
  -> 0 ->> 'attempt', '1', 'inv-b claims the third');
select is(public.job_renew_leases('51000000-0000-4000-8000-100000000000', 'inv-a', 600000), 2,
  'inv-a renews the two leases it holds');
select ok(pg_temp.shortest_lease('inv-a') > interval '500 seconds',
  'its leases now end p_lease_ms from now');
select ok(pg_temp.shortest_lease('inv-b') < interval '60 seconds',
  'another invocation''s lease is not touched');
select is(public.job_renew_leases('51000000-0000-4000-8000-100000000000', 'inv-a', 1), 2,
  'a renewal with a shorter lease still answers');
select ok(pg_temp.shortest_lease('inv-a') > interval '500 seconds',
  'but never shortens a lease');
-- inv-b dies: its lease ends, inv-c claims the item again; inv-b's late beat changes nothing.
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = '51000000-0000-4000-8000-100000000000' and claimed_by = 'inv-b';
select is(public.job_claim_items('51000000-0000-4000-8000-100000000000', 'inv-c', 5, 30000)
  -> 0 ->> 'attempt', '2', 'inv-c claims the dead invocation''s item (attempt 2)');
select is(public.job_renew_leases('51000000-0000-4000-8000-100000000000', 'inv-b', 600000), 0,
  'the dead invocation''s renewal finds nothing of its own');
select throws_ok(
  $$select public.job_renew_leases('51000000-0000-4000-8000-100000000000', 'inv-a', 0)$$,
  '22023', null, 'p_lease_ms below 1 is refused');
select ok(not has_function_privilege('authenticated',
  'public.job_renew_leases(uuid, text, integer)', 'execute'), 'only the service role renews');

-- 2. The resume watchdog ---------------------------------------------------------------
-- One daily-fetch run at a time: an earlier one left running is ended (rolled back after).
update public.job_runs set status = 'failed', completed_at = now()
  where job_name = 'daily-fetch' and status = 'running';
insert into public.job_runs (id, job_name, trigger, started_at)
values ('51000000-0000-4000-8000-200000000000', 'daily-fetch', 'cron', now() - interval '5 minutes');
select public.job_add_items('51000000-0000-4000-8000-200000000000',
  array(select id from public.sources where name like 'lease test %'), '{}');
select public.job_claim_items('51000000-0000-4000-8000-200000000000', 'dead', 5, 30000);
create function pg_temp.resumed(p_run uuid) returns integer language sql as $$
  select count(*)::int from net.http_request_queue q
  where q.url like '%/jobs/runs/' || p_run || '/continue'
$$;

update public.job_run_sources set lease_until = now() - interval '2 seconds'
  where run_id = '51000000-0000-4000-8000-200000000000';
select private.resume_stalled_runs();
select is(pg_temp.resumed('51000000-0000-4000-8000-200000000000'), 0,
  'a lease that ended 2 s ago: not yet (another invocation may be claiming the items)');
update public.job_run_sources set lease_until = now() - interval '20 seconds'
  where run_id = '51000000-0000-4000-8000-200000000000';
select private.resume_stalled_runs();
select is(pg_temp.resumed('51000000-0000-4000-8000-200000000000'), 1,
  'leases that ended 20 s ago: the run is resumed (one request for another invocation)');
update public.job_run_sources set lease_until = now() + interval '20 seconds'
  where run_id = '51000000-0000-4000-8000-200000000000' and source_id = '51000000-0000-4000-8000-000000000001';
select private.resume_stalled_runs();
select is(pg_temp.resumed('51000000-0000-4000-8000-200000000000'), 1,
  'while one lease is live (its invocation renews it) nothing more is asked');
-- The lease-tap run of another job, stalled too, is never resumed by the daily-fetch watchdog.
update public.job_run_sources set lease_until = now() - interval '1 minute'
  where run_id = '51000000-0000-4000-8000-100000000000' and status = 'claimed';
update public.job_runs set started_at = now() - interval '5 minutes'
  where id = '51000000-0000-4000-8000-100000000000';
select private.resume_stalled_runs();
select is(pg_temp.resumed('51000000-0000-4000-8000-100000000000'), 0,
  'another job''s run is left to its own job');

select * from finish();
rollback;
