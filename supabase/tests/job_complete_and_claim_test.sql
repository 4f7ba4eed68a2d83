-- One round trip of an invocation (job_complete_and_claim): outcomes recorded first (their
-- host slots free again), then the next items claimed, in one transaction; a claim alone
-- does not write the run's row; report_at_once on items whose host is full when the claim
-- came short; the items left
-- counted only when asked and nothing was claimed; the last outcome finalises the run.
begin;
select plan(18);

insert into public.sources (id, name, url)
select ('52000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'exchange test ' || g,
       case when g <= 4 then 'https://one.example/p' || g else 'https://many.example/p' || g end
from generate_series(1, 6) g;
insert into public.job_runs (id, job_name, trigger)
values ('52000000-0000-4000-8000-100000000000', 'exchange-tap', 'manual');
select public.job_add_items('52000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'exchange test %'), '{}');

-- The outcome of the item `p_source` (attempt 1) as the job sends it.
create function pg_temp.outcome(p_source integer, p_attempt integer default 1) returns jsonb
language sql as $$
  select jsonb_build_array(jsonb_build_object(
    'source_id', '52000000-0000-4000-8000-' || lpad(p_source::text, 12, '0'),
    'attempt', p_attempt, 'status', 'succeeded', 'changed', false, 'baseline', false,
    'duration_ms', 5, 'alerts_sent', 0))
$$;
-- Where the run's row is (an update writes a new version elsewhere).
create function pg_temp.run_row() returns text language sql as $$
  select ctid::text from public.job_runs where id = '52000000-0000-4000-8000-100000000000'
$$;
create temp table answer (n serial, a jsonb);

-- 1. A claim alone: one.example (limit 1) gives one item, many.example two.
insert into answer (a) select public.job_complete_and_claim(
  '52000000-0000-4000-8000-100000000000', '[]', null, 'inv-a', 10, 60000, 1, 0, 3, 1);
select is((select jsonb_array_length(a -> 'items') from answer where n = 1), 2,
  'a claim alone takes one item per host (per-host limit 1)');
select is((select (a ->> 'completed')::int from answer where n = 1), 0, 'nothing recorded');
select ok((select a -> 'run' = 'null'::jsonb from answer where n = 1),
  'no run row without outcomes');
select ok((select (a -> 'open') = 'null'::jsonb from answer where n = 1),
  'items were claimed: no count of the items left');
-- (An invocation's first claim counts it in job_runs.invocations; its next ones write nothing.)
create temp table run_row_before as select pg_temp.run_row() as row_at;
select public.job_complete_and_claim(
  '52000000-0000-4000-8000-100000000000', '[]', null, 'inv-a', 10, 60000, 1, 0, 3, 1);
select is(pg_temp.run_row(), (select row_at from run_row_before),
  'a claim alone does not write the run''s row');
select ok((select bool_and((e ->> 'report_at_once')::boolean) from answer,
             jsonb_array_elements(a -> 'items') e where n = 1),
  'both hosts are full (limit 1): their items are to be reported at once');

-- 2. Completing one.example's item frees its slot, and the same call takes the next one.
insert into answer (a) select public.job_complete_and_claim(
  '52000000-0000-4000-8000-100000000000',
  pg_temp.outcome((select right(e -> 'source' ->> 'id', 1)::int from answer,
                     jsonb_array_elements(a -> 'items') e
                   where n = 1 and e ->> 'host' = 'one.example')),
  null, 'inv-a', 10, 60000, 1, 0, 3, 1);
select is((select (a ->> 'completed')::int from answer where n = 2), 1, 'the outcome is recorded');
select is((select a -> 'run' ->> 'sources_succeeded' from answer where n = 2), '1',
  'and the run''s counters moved');
select is((select jsonb_agg(e ->> 'host') from answer, jsonb_array_elements(a -> 'items') e
           where n = 2), '["one.example"]'::jsonb,
  'the slot its completion freed is claimed in the same call');

-- 3. Nothing claimable: the items left and those a live lease holds are counted.
insert into answer (a) select public.job_complete_and_claim(
  '52000000-0000-4000-8000-100000000000', '[]', null, 'inv-b', 10, 60000, 1, 0, 3, 1);
select is((select a -> 'items' from answer where n = 3), '[]'::jsonb,
  'another invocation finds both hosts full');
select is((select array[(a ->> 'open')::int, (a ->> 'held')::int] from answer where n = 3),
  array[5, 2], 'five items left, two held by a live lease');
select ok((select (a -> 'open') = 'null'::jsonb
           from (select public.job_complete_and_claim('52000000-0000-4000-8000-100000000000',
                   '[]', null, 'inv-b', null, 60000, 1, 0, 3, 1) as a) x),
  'p_limit null: no claim and no count');

-- Another run on 20 hosts of one item each: none holds 1/16 of the run, and a claim that
-- got all it asked for says hosts do not limit the run: nothing is reported at once.
insert into public.sources (id, name, url)
select ('52000000-0000-4000-8000-' || lpad((100 + g)::text, 12, '0'))::uuid,
       'exchange test wide ' || g, 'https://wide' || g || '.example/p'
from generate_series(1, 20) g;
insert into public.job_runs (id, job_name, trigger)
values ('52000000-0000-4000-8000-200000000000', 'exchange-tap-wide', 'manual');
select public.job_add_items('52000000-0000-4000-8000-200000000000',
  array(select id from public.sources where name like 'exchange test wide %'), '{}');
select is((select array[count(*)::int, count(*) filter (where (e ->> 'report_at_once')::boolean)::int]
           from jsonb_array_elements(public.job_complete_and_claim(
             '52000000-0000-4000-8000-200000000000', '[]', null, 'inv-w', 3, 60000, 1, 0, 3, 1)
             -> 'items') e), array[3, 0],
  'a claim that got all it asked for, on hosts of under 1/16 of the run: nothing is reported at once');

select is((select array[jsonb_array_length(a -> 'items'), (a ->> 'open')::int, (a ->> 'held')::int]
           from (select public.job_complete_and_claim('52000000-0000-4000-8000-100000000000',
                   '[]', null, 'inv-e', 1, 60000, 3, 0, 3, 1, true) as a) x),
  array[1, 5, 3], 'p_count: the items left are counted after the claim, even when it took some');

-- 4. The last outcomes finalise the run, once; no claim after that.
update public.job_run_sources set status = 'claimed', attempts = 1, claimed_by = 'inv-a',
  lease_until = now() + interval '1 minute'
where run_id = '52000000-0000-4000-8000-100000000000' and status = 'pending';
insert into answer (a) select public.job_complete_and_claim(
  '52000000-0000-4000-8000-100000000000',
  (select jsonb_agg(o) from generate_series(1, 6) g, jsonb_array_elements(pg_temp.outcome(g)) o
   where ('52000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid in (
     select source_id from public.job_run_sources
     where run_id = '52000000-0000-4000-8000-100000000000' and status = 'claimed')),
  jsonb_build_array(jsonb_build_object('id', '52000000-0000-4000-8000-000000000006',
    'last_checked_at', now(), 'consecutive_failures', 0)),
  'inv-a', 10, 60000, 1, 0, 3, 1);
select is((select a ->> 'finalised' from answer where n = 4), 'true', 'the last outcomes finalise the run');
select is((select a -> 'run' ->> 'status' from answer where n = 4), 'succeeded', 'succeeded');
select is((select array[(a ->> 'open')::int, (a ->> 'held')::int] from answer where n = 4),
  array[0, 0], 'nothing left');
select ok(not has_function_privilege('authenticated',
  'public.job_complete_and_claim(uuid, jsonb, jsonb, text, integer, integer, integer, integer, integer, integer, boolean)',
  'execute'), 'only the service role calls it');

select * from finish();
rollback;
