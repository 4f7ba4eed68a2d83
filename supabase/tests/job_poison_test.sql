-- Poison items: an item is claimed at most p_max_attempts times; when the invocation of its
-- last claim died too (its lease expired), job_claim_items fails it with class poison and
-- its last error instead of claiming it again (and returns it marked poisoned, so the job
-- sends the source-failing alert as for any failure), the run goes on and finishes, the
-- source's failure streak moves as for any failure, and the next run of the job is not
-- blocked. (Leases are expired by hand: now() stands still in a test.)
begin;
select plan(22);

insert into public.sources (id, name, url) values
  ('50000000-0000-4000-8000-000000000001', 'poison test P', 'http://127.0.0.1:9/p'),
  ('50000000-0000-4000-8000-000000000002', 'poison test P2', 'http://127.0.0.1:9/p2'),
  ('50000000-0000-4000-8000-000000000003', 'poison test H', 'http://127.0.0.1:9/h');
update public.sources set consecutive_failures = 1
  where id = '50000000-0000-4000-8000-000000000002';
insert into public.subscriptions (id, source_id, channel, target, operational_alerts) values
  ('50000000-0000-4000-8000-0000000000a1', null, 'webhook', 'http://127.0.0.1:9/hook', true);

-- 1. One item whose invocation dies on every claim ------------------------------------
create temp table t1 as
  select (public.job_start_run('poison-test', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as run_id;
select public.job_add_items((select run_id from t1), array['50000000-0000-4000-8000-000000000001'::uuid], '{}');
create temp table claims (n int, items jsonb);

insert into claims select 1, public.job_claim_items((select run_id from t1), 'inv-1', 10, 60000, p_max_attempts => 3);
select is((select (items -> 0 ->> 'attempt')::int from claims where n = 1), 1, 'the first claim is attempt 1');
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select run_id from t1);
insert into claims select 2, public.job_claim_items((select run_id from t1), 'inv-2', 10, 60000, p_max_attempts => 3);
select is((select (items -> 0 ->> 'attempt')::int from claims where n = 2), 2,
  'after the lease expired the item is claimed again: attempt 2');
select matches((select error_message from public.job_run_sources where run_id = (select run_id from t1)),
  '^attempt 1 by invocation inv-1 stopped before finishing \(its lease ended at ',
  'while it is retried, the item says why');
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select run_id from t1);
insert into claims select 3, public.job_claim_items((select run_id from t1), 'inv-3', 10, 60000, p_max_attempts => 3);
select is((select (items -> 0 ->> 'attempt')::int from claims where n = 3), 3, 'attempt 3');
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select run_id from t1);
insert into claims select 4, public.job_claim_items((select run_id from t1), 'inv-4', 10, 60000, p_max_attempts => 3);
select results_eq(
  $$select jsonb_array_length(items), (items -> 0 ->> 'poisoned')::boolean, (items -> 0 ->> 'attempt')::int
    from claims where n = 4$$,
  $$values (1, true, 3)$$,
  'after its third claim died the item is not claimed a fourth time: it comes back marked poisoned');
select is((select attempts from public.job_run_sources where run_id = (select run_id from t1)), 3,
  'it was attempted 3 times');
select results_eq(
  $$select status, error_class from public.job_run_sources where run_id = (select run_id from t1)$$,
  $$values ('failed'::text, 'poison'::text)$$,
  'it is finalised failed with class poison');
select matches((select error_message from public.job_run_sources where run_id = (select run_id from t1)),
  '^Cannot process source 50000000-0000-4000-8000-000000000001: gave up after 3 attempts, each stopped before finishing .*; last error: attempt 3 by invocation inv-3 stopped before finishing',
  'with its last error');
select results_eq(
  $$select status, sources_processed, sources_failed, completed_at is not null
    from public.job_runs where id = (select run_id from t1)$$,
  $$values ('failed'::text, 1, 1, true)$$,
  'the run moved its counters and finished (its only item failed)');
select matches((select errors ->> 0 from public.job_runs where id = (select run_id from t1)),
  '^source 50000000-0000-4000-8000-000000000001 \(poison test P\): poison: gave up after 3 attempts',
  'the run''s errors name the source and the class');
select results_eq(
  $$select consecutive_failures, last_error_class, last_error like 'Cannot process source %: gave up after 3 attempts%',
           last_checked_at = now()
    from public.sources where id = '50000000-0000-4000-8000-000000000001'$$,
  $$values (1, 'poison'::text, true, true)$$,
  'the source''s failure streak, last error and check time move as for any failure');
-- What the job does with a poisoned item, as for any failure (threshold 1 here).
select is(public.record_source_health('50000000-0000-4000-8000-000000000001', false, 1, now()) ->> 'transition',
  'source_failing', 'the streak counts for the failing alert');
select is((select count(*)::int from public.alerts
           where kind = 'source_failing' and source_id = '50000000-0000-4000-8000-000000000001'
             and subscription_id = '50000000-0000-4000-8000-0000000000a1' and status = 'pending'),
  1, 'and the source-failing alert is queued for the operational subscription');
select is((public.job_start_run('poison-test', 'manual', '{}'::jsonb, 7200000) ->> 'conflict')::boolean,
  false, 'the next run of the job is not blocked');
update public.job_runs set status = 'failed', completed_at = now()
  where job_name = 'poison-test' and status = 'running';

-- 2. A poison item among healthy ones: the run goes on ---------------------------------
create temp table t2 as
  select (public.job_start_run('poison-test', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as run_id;
select public.job_add_items((select run_id from t2),
  array['50000000-0000-4000-8000-000000000002', '50000000-0000-4000-8000-000000000003']::uuid[], '{}');
-- P2's third claim died; H was never claimed.
update public.job_run_sources set status = 'claimed', attempts = 3, claimed_by = 'dead-3',
    lease_until = now() - interval '1 second'
  where run_id = (select run_id from t2) and source_id = '50000000-0000-4000-8000-000000000002';
insert into claims select 5, public.job_claim_items((select run_id from t2), 'inv-5', 10, 60000, p_max_attempts => 3);
select is((select jsonb_agg(jsonb_build_array(i -> 'source' ->> 'name', i -> 'poisoned') order by i -> 'source' ->> 'name')
           from claims, jsonb_array_elements(items) i where n = 5),
  '[["poison test H", false], ["poison test P2", true]]'::jsonb,
  'the same claim fails the poison item (marked) and hands out the healthy one');
select results_eq(
  $$select r.status, r.sources_failed, s.status, s.error_class
    from public.job_runs r join public.job_run_sources s on s.run_id = r.id
    where r.id = (select run_id from t2) and s.source_id = '50000000-0000-4000-8000-000000000002'$$,
  $$values ('running'::text, 1, 'failed'::text, 'poison'::text)$$,
  'the run goes on with one failed item');
select is((select consecutive_failures from public.sources where id = '50000000-0000-4000-8000-000000000002'),
  2, 'the streak grows by one');
select is(public.record_source_health('50000000-0000-4000-8000-000000000002', false, 3, now()) ->> 'transition',
  null, 'below the threshold (3) no source-failing alert');
select is((public.job_complete_items((select run_id from t2), jsonb_build_array(jsonb_build_object(
    'source_id', '50000000-0000-4000-8000-000000000003', 'attempt', 1, 'status', 'succeeded')))
    -> 'run' ->> 'status'),
  'partial', 'when the healthy item completes the run finishes partial');
select is((select sources_processed from public.job_runs where id = (select run_id from t2)), 2,
  'both items counted');

-- 3. Arguments ---------------------------------------------------------------------------
select throws_ok(
  $$select public.job_claim_items((select run_id from t2), 'inv-6', 10, 60000, p_max_attempts => 0)$$,
  '22023', null, 'p_max_attempts below 1 is refused');
select ok(not has_function_privilege('authenticated',
  'public.job_claim_items(uuid, text, integer, integer, integer, integer, integer, integer)', 'execute'),
  'only the service role may claim');

select * from finish();
rollback;
