-- Retention (private.prune_history): a change's before and after snapshots and a source's
-- latest survive; an old snapshot nothing needs goes; unchanged run items of old runs go,
-- a change's item stays; recent rows are not touched; the nightly cron job calls it.
begin;
select plan(11);

insert into public.sources (id, name, url) values
  ('60000000-0000-4000-8000-000000000001', 'retention', 'https://retention.example/terms');
insert into public.snapshots (id, source_id, fetch_id, content_hash, content, content_type, fetched_at) values
  ('60000000-0000-4000-8000-0000000000a1', '60000000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('a', 64), 'orphan', 'text/html', now() - interval '90 days'),
  ('60000000-0000-4000-8000-0000000000b1', '60000000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('b', 64), 'before', 'text/html', now() - interval '80 days'),
  ('60000000-0000-4000-8000-0000000000c1', '60000000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('c', 64), 'after', 'text/html', now() - interval '70 days'),
  ('60000000-0000-4000-8000-0000000000d1', '60000000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('d', 64), 'latest', 'text/html', now() - interval '60 days'),
  ('60000000-0000-4000-8000-0000000000e1', '60000000-0000-4000-8000-000000000001', gen_random_uuid(), repeat('e', 64), 'recent', 'text/html', now() - interval '1 day');
insert into public.policy_changes (id, source_id, snapshot_id, previous_snapshot_id, diff)
values ('60000000-0000-4000-8000-0000000000f1', '60000000-0000-4000-8000-000000000001',
        '60000000-0000-4000-8000-0000000000c1', '60000000-0000-4000-8000-0000000000b1', '-before
+after');
update public.sources set last_snapshot_id = '60000000-0000-4000-8000-0000000000d1'
where id = '60000000-0000-4000-8000-000000000001';

insert into public.job_runs (id, job_name, trigger, status, started_at, completed_at) values
  ('60000000-0000-4000-8000-100000000001', 'retention-tap', 'cron', 'succeeded', now() - interval '40 days', now() - interval '40 days'),
  ('60000000-0000-4000-8000-100000000002', 'retention-tap', 'cron', 'succeeded', now() - interval '2 hours', now() - interval '1 hour');
insert into public.job_run_sources (run_id, source_id, status, changed, policy_change_id, finished_at) values
  ('60000000-0000-4000-8000-100000000001', '60000000-0000-4000-8000-000000000001', 'succeeded', false, null, now() - interval '40 days'),
  ('60000000-0000-4000-8000-100000000002', '60000000-0000-4000-8000-000000000001', 'succeeded', false, null, now() - interval '1 hour');
insert into public.sources (id, name, url) values
  ('60000000-0000-4000-8000-000000000002', 'retention changed', 'https://retention.example/privacy');
insert into public.job_run_sources (run_id, source_id, status, changed, policy_change_id, finished_at) values
  ('60000000-0000-4000-8000-100000000001', '60000000-0000-4000-8000-000000000002', 'succeeded', true, '60000000-0000-4000-8000-0000000000f1', now() - interval '40 days');
insert into private.run_hosts (run_id, host) values
  ('60000000-0000-4000-8000-100000000001', 'retention.example'),
  ('60000000-0000-4000-8000-100000000002', 'retention.example');

select ok((private.prune_history() ->> 'snapshots')::int >= 1, 'prune_history prunes and counts');
select is((select count(*)::int from public.snapshots where id = '60000000-0000-4000-8000-0000000000a1'), 0,
  'an old snapshot no change needs is pruned');
select is((select count(*)::int from public.snapshots where id = '60000000-0000-4000-8000-0000000000b1'), 1,
  'a change''s before is kept');
select is((select count(*)::int from public.snapshots where id = '60000000-0000-4000-8000-0000000000c1'), 1,
  'a change''s after is kept');
select is((select count(*)::int from public.snapshots where id = '60000000-0000-4000-8000-0000000000d1'), 1,
  'a source''s latest snapshot is kept');
select is((select count(*)::int from public.snapshots where id = '60000000-0000-4000-8000-0000000000e1'), 1,
  'a recent snapshot is kept');
select is((select count(*)::int from public.job_run_sources where run_id = '60000000-0000-4000-8000-100000000001'
           and source_id = '60000000-0000-4000-8000-000000000001'), 0,
  'an unchanged item of an old run is pruned');
select is((select count(*)::int from public.job_run_sources where run_id = '60000000-0000-4000-8000-100000000001'
           and source_id = '60000000-0000-4000-8000-000000000002'), 1,
  'a change''s item is kept');
select is((select count(*)::int from public.job_run_sources where run_id = '60000000-0000-4000-8000-100000000002'), 1,
  'items of a recent run are kept');
select is((select array_agg(run_id::text) from private.run_hosts where host = 'retention.example'),
  array['60000000-0000-4000-8000-100000000002'], 'per-host rows of a run finished over a day ago are pruned');
select ok(exists (select 1 from cron.job where jobname = 'prune-history'
                  and command like '%private.prune_history()%'), 'pg_cron runs it nightly');

select * from finish();
rollback;
