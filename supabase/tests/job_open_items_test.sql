-- What a claim or a completion reads does not grow with the run (issue 14 item 3): a run's
-- open items are counted from its counters (private.job_open_items, with the open items whose
-- source was deleted mid-run: private.run_items_gone), chunks of job_add_items add what they
-- inserted, job_complete_and_claim writes the run's row last (after its claim), a host's
-- items are taken from the head of its queue (expired claims first, then pending ones in
-- source_id order) and the run's open items are in an index of their own. (Leases are expired
-- by hand: now() stands still in a test.)
begin;
select plan(17);

insert into public.sources (id, name, url)
select ('53000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'open items test ' || g,
       'https://open' || (g % 2) || '.example/p' || g
from generate_series(1, 8) g;
create function pg_temp.src(p integer) returns uuid language sql as $$
  select ('53000000-0000-4000-8000-' || lpad(p::text, 12, '0'))::uuid
$$;
create function pg_temp.outcomes(p_items jsonb) returns jsonb language sql as $$
  select coalesce(jsonb_agg(jsonb_build_object('source_id', e -> 'source' ->> 'id',
    'attempt', (e ->> 'attempt')::int, 'status', 'succeeded', 'duration_ms', 5)), '[]')
  from jsonb_array_elements(p_items) e where not (e ->> 'poisoned')::boolean
$$;
create temp table t as
  select (public.job_start_run('open-items-tap', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as run_id;
create function pg_temp.run() returns public.job_runs language sql as $$
  select * from public.job_runs where id = (select run_id from t)
$$;

-- 1. Chunks: each adds what it inserted (a source in two chunks counts once).
select public.job_add_items((select run_id from t), array[pg_temp.src(1), pg_temp.src(2), pg_temp.src(3)], '{}');
select public.job_add_items((select run_id from t),
  array[pg_temp.src(3), pg_temp.src(4), pg_temp.src(5), pg_temp.src(6)], array[pg_temp.src(7)]);
select public.job_add_items((select run_id from t), '{}', array[pg_temp.src(7), pg_temp.src(8)]);
select results_eq($$select total_items, sources_skipped from pg_temp.run()$$,
  $$values (8, 2)$$, 'chunks count what they added: 6 due, 2 skipped, the repeated ones once');
select is(private.job_open_items(pg_temp.run()), 6, 'six items are open');
select is((select sum(items)::int from private.run_hosts where run_id = (select run_id from t)), 6,
  'and their hosts hold six');

-- 2. A host's queue: pending items in source_id order, a claim whose invocation died first.
create temp table answer (n serial, a jsonb);
insert into answer (a) select public.job_complete_and_claim((select run_id from t), '[]', null,
  'inv-a', 2, 60000, 1, 0, 3, 1);
select is((select jsonb_agg(e -> 'source' ->> 'id' order by e -> 'source' ->> 'id') from answer,
             jsonb_array_elements(a -> 'items') e where n = 1),
  jsonb_build_array(pg_temp.src(1), pg_temp.src(2)),
  'one item per host (limit 1): the first of each host''s queue');
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select run_id from t) and source_id = pg_temp.src(1);
insert into answer (a) select public.job_complete_and_claim((select run_id from t), '[]', null,
  'inv-b', 1, 60000, 1, 0, 3, 1);
select results_eq($$select e -> 'source' ->> 'id', (e ->> 'attempt')::int from answer,
                    jsonb_array_elements(a -> 'items') e where n = 2$$,
  $$values (pg_temp.src(1)::text, 2)$$,
  'the claim whose lease expired is taken again before the host''s pending items');
select is((select count(*)::int from public.job_run_sources
           where run_id = (select run_id from t) and status = 'pending'), 4, 'four still pending');

-- 3. The items left, counted: open from the counters, held from the claimed items.
insert into answer (a) select public.job_complete_and_claim((select run_id from t), '[]', null,
  'inv-c', 0, 60000, 1, 0, 3, 1, true);
select results_eq($$select (a ->> 'open')::int, (a ->> 'held')::int from answer where n = 3$$,
  $$values (6, 2)$$, 'six open, two held by a live lease');

-- 4. A source deleted mid-run takes its open item along, and the count follows.
-- (by the service role, as the API deletes a source: it has no right on schema private)
set local role service_role;
delete from public.sources where id = pg_temp.src(6);
reset role;
select is((select items from private.run_items_gone where run_id = (select run_id from t)), 1,
  'the deleted source''s open item is counted as gone');
select is(private.job_open_items(pg_temp.run()), 5, 'five items are open');

-- 5. Outcomes, a claim and the counters in one call: the counters move once per outcome.
insert into answer (a) select public.job_complete_and_claim((select run_id from t),
  pg_temp.outcomes((select jsonb_agg(e) from answer, jsonb_array_elements(a -> 'items') e
                    where n = 1 and e -> 'source' ->> 'id' = pg_temp.src(2)::text)
                   || (select a -> 'items' from answer where n = 2)),
  null, 'inv-a', 2, 60000, 1, 0, 3, 1, true);
select is((select (a ->> 'completed')::int from answer where n = 4), 2, 'both outcomes recorded');
select is((select jsonb_array_length(a -> 'items') from answer where n = 4), 2,
  'the slots they freed are claimed in the same call');
select results_eq($$select (a ->> 'open')::int, (a ->> 'held')::int from answer where n = 4$$,
  $$values (3, 2)$$, 'three open (two of them held): the deleted source''s item is not waited for');
select results_eq($$select sources_processed, sources_succeeded, status from pg_temp.run()$$,
  $$values (2, 2, 'running'::text)$$, 'the run''s counters moved once per outcome');

-- 6. The last outcomes finalise the run at once, though a source went away mid-run.
insert into answer (a) select public.job_complete_and_claim((select run_id from t),
  pg_temp.outcomes((select a -> 'items' from answer where n = 4)), null, 'inv-a', 2, 60000, 1, 0, 3, 1);
insert into answer (a) select public.job_complete_and_claim((select run_id from t),
  pg_temp.outcomes((select a -> 'items' from answer where n = 5)), null, 'inv-a', 2, 60000, 1, 0, 3, 1);
select is((select (a ->> 'finalised')::boolean from answer where n = 6), true,
  'the last outcome finalises the run');
select results_eq($$select status, sources_processed, total_items - sources_skipped from pg_temp.run()$$,
  $$values ('succeeded'::text, 5, 6)$$, 'succeeded: five fetched, the sixth''s source is gone');
select is(private.job_open_items(pg_temp.run()), 0, 'a finalised run has no open item');

-- 7. A poison item that is the run's last open one, failed in the call that records the
-- other outcomes: the run finishes with every outcome counted.
insert into public.sources (id, name, url) values
  ('53000000-0000-4000-8000-000000000101', 'open items poison A', 'https://poison-a.example/'),
  ('53000000-0000-4000-8000-000000000102', 'open items poison B', 'https://poison-b.example/');
create temp table t2 as
  select (public.job_start_run('open-items-tap-2', 'manual', '{}'::jsonb, 7200000) -> 'run' ->> 'id')::uuid as run_id;
select public.job_add_items((select run_id from t2),
  array['53000000-0000-4000-8000-000000000101'::uuid, '53000000-0000-4000-8000-000000000102'::uuid], '{}');
insert into answer (a) select public.job_complete_and_claim((select run_id from t2), '[]', null,
  'inv-p', 2, 60000, 4, 0, 1, 1);
update public.job_run_sources set lease_until = now() - interval '1 second'
  where run_id = (select run_id from t2) and source_id = '53000000-0000-4000-8000-000000000102';
insert into answer (a) select public.job_complete_and_claim((select run_id from t2),
  pg_temp.outcomes((select jsonb_agg(e) from answer, jsonb_array_elements(a -> 'items') e
                    where n = 7 and e -> 'source' ->> 'id' like '%101')),
  null, 'inv-p', 2, 60000, 4, 0, 1, 1);
select results_eq($$select status, sources_processed, sources_succeeded, sources_failed
                    from public.job_runs where id = (select run_id from t2)$$,
  $$values ('partial'::text, 2, 1, 1)$$,
  'the poison item and the recorded outcome are both counted, and the run is finalised');

select * from finish();
rollback;
