-- What a claim hands out and which hosts it looks at: an item claimed again after its
-- invocation died comes with the snapshot and change its earlier claim recorded (prior_*),
-- a poison item too, even after a single attempt; a host whose request slots are all in use
-- (read once per claim, before the hosts are locked) gives nothing, while a host whose slots
-- are held only by dead claims (expired leases) is claimed again, and a claimer's own slots
-- still take its queued items (p_slot_depth). (Leases are expired by hand: now() stands
-- still in a test.)
begin;
select plan(10);

insert into public.sources (id, name, url)
select ('a5100000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'claim answer ' || g,
       case when g <= 2 then 'https://answer.example/p' || g
            when g <= 6 then 'https://full.example/p' || g
            else 'https://deep.example/p' || g end
from generate_series(1, 86) g;

-- 1. A change recorded by a claim that then died -----------------------------------------
create temp table r1 as
  select (public.job_start_run('claim-answer-1', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as id;
select public.job_add_items((select id from r1),
  array['a5100000-0000-4000-8000-000000000001'::uuid, 'a5100000-0000-4000-8000-000000000002'::uuid], '{}');
create temp table c1 as
  select public.job_claim_items((select id from r1), 'inv-1', 10, 60000, p_max_attempts => 3) as items;
select is((select count(*)::int from jsonb_array_elements((select items from c1)) e
           where e ->> 'prior_snapshot_id' is null and e ->> 'prior_policy_change_id' is null), 2,
  'a first claim has no prior snapshot or change');
-- The first item had a baseline before this run; its claim records a change, then dies.
select public.record_snapshot('a5100000-0000-4000-8000-000000000001',
  'a5100000-0000-4000-8000-0000000000f0', null, repeat('0', 64), 'Old rule.', 'text/html',
  null, null, '2026-12-01 01:00+00', null);
create temp table rec1 as
select public.record_snapshot('a5100000-0000-4000-8000-000000000001',
  (select (e ->> 'fetch_id')::uuid from jsonb_array_elements((select items from c1)) e
   where e -> 'source' ->> 'id' = 'a5100000-0000-4000-8000-000000000001'),
  repeat('0', 64), repeat('1', 64), 'New rule.', 'text/html', '-Old rule.\n+New rule.', null,
  '2026-12-01 02:00+00', null) as r;
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select id from r1);
create temp table c2 as
  select public.job_claim_items((select id from r1), 'inv-2', 10, 60000, p_max_attempts => 3) as items;
select results_eq(
  $$select (e ->> 'attempt')::int, e ->> 'prior_snapshot_id', e ->> 'prior_policy_change_id'
    from jsonb_array_elements((select items from c2)) e
    where e -> 'source' ->> 'id' = 'a5100000-0000-4000-8000-000000000001'$$,
  $$select 2, (select r ->> 'snapshot_id' from rec1), (select r ->> 'policy_change_id' from rec1)$$,
  'claimed again, the item comes with the snapshot and the change its dead claim recorded');
select is((select e ->> 'prior_snapshot_id' from jsonb_array_elements((select items from c2)) e
           where e -> 'source' ->> 'id' = 'a5100000-0000-4000-8000-000000000002'), null,
  'an item whose dead claim recorded nothing has none');

-- 2. A poison item after a single attempt (p_max_attempts 1) still reports its snapshot --
create temp table r2 as
  select (public.job_start_run('claim-answer-2', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as id;
select public.job_add_items((select id from r2), array['a5100000-0000-4000-8000-000000000002'::uuid], '{}');
create temp table c3 as
  select public.job_claim_items((select id from r2), 'inv-1', 10, 60000, p_max_attempts => 1) as items;
create temp table rec2 as
select public.record_snapshot('a5100000-0000-4000-8000-000000000002',
  (select (items -> 0 ->> 'fetch_id')::uuid from c3), null, repeat('2', 64), 'A rule.',
  'text/html', null, null, '2026-12-01 02:00+00', null) as r;
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select id from r2);
create temp table c4 as
  select public.job_claim_items((select id from r2), 'inv-2', 10, 60000, p_max_attempts => 1) as items;
select results_eq(
  $$select (items -> 0 ->> 'poisoned')::boolean, (items -> 0 ->> 'attempt')::int,
           items -> 0 ->> 'prior_snapshot_id' from c4$$,
  $$select true, 1, (select r ->> 'snapshot_id' from rec2)$$,
  'a poison item failed after its only attempt comes with the snapshot that attempt recorded');

-- 3. Which hosts a claim takes from ---------------------------------------------------------
-- full.example: 4 items, 2 slots; deep.example: 80 items (the run's bottleneck), 2 slots.
create temp table r3 as
  select (public.job_start_run('claim-answer-3', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as id;
select public.job_add_items((select id from r3),
  array(select id from public.sources where name like 'claim answer %' and url not like '%answer.example%'), '{}');
create temp table c5 as
  select public.job_claim_items((select id from r3), 'a', 4, 60000, 2, 0, 3, 2) as items;
select is((select array_agg(distinct e ->> 'host') from jsonb_array_elements((select items from c5)) e),
  array['deep.example'], 'a takes the bottleneck first: two slots, two items queued in each');
create temp table c6 as
  select public.job_claim_items((select id from r3), 'b', 10, 60000, 2, 0, 3, 2) as items;
select results_eq(
  $$select e ->> 'host', count(*)::int from jsonb_array_elements((select items from c6)) e group by 1$$,
  $$values ('full.example'::text, 2)$$,
  'b: nothing of the host whose slots a holds, one item per slot of the small host');
select is(public.job_claim_items((select id from r3), 'c', 10, 60000, 2, 0, 3, 2), '[]'::jsonb,
  'c: every host''s slots are in use: nothing');
-- a's slots: one item of each done (its slot free for a's next one only while a holds it).
update public.job_run_sources set status = 'succeeded', lease_until = null, slot = null
where (run_id, source_id) in (
  select (select id from r3), (e -> 'source' ->> 'id')::uuid
  from jsonb_array_elements((select items from c5)) e order by e -> 'source' ->> 'id' limit 2);
select is((select count(*)::int from jsonb_array_elements(
    public.job_claim_items((select id from r3), 'a', 10, 60000, 2, 0, 3, 2)) e
  where e ->> 'host' = 'deep.example'), 2,
  'a''s own slots of the bottleneck take its next queued items');
-- b's invocation dies: its slots of full.example are held by expired leases only.
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select id from r3) and claimed_by = 'b';
create temp table c7 as
  select public.job_claim_items((select id from r3), 'c', 10, 60000, 2, 0, 3, 2) as items;
select results_eq(
  $$select e ->> 'host', count(*)::int, min((e ->> 'attempt')::int)
    from jsonb_array_elements((select items from c7)) e group by 1$$,
  $$values ('full.example'::text, 2, 2)$$,
  'a host whose slots only dead claims hold is claimed again: their items, attempt 2');
select is((select count(*)::int from public.job_run_sources
           where run_id = (select id from r3) and host = 'full.example' and status = 'claimed'
             and lease_until >= now()), 2, 'and never more than its 2 slots');

select * from finish();
rollback;
