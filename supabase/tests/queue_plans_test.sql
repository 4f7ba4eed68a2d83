-- The queue's functions plan once per connection (plan_cache_mode = force_generic_plan)
-- with the statistics of that moment; statistics taken while job_run_sources was nearly
-- empty made a claim scan the run's items once per host. Each such function also sets
-- enable_seqscan = off, so its key reads take their index whatever the statistics say.
begin;
select plan(3);

select is(
  (select count(*)::int from pg_proc p
   where 'plan_cache_mode=force_generic_plan' = any (p.proconfig)
     and not ('enable_seqscan=off' = any (p.proconfig))),
  0,
  'every function planned generically also sets enable_seqscan = off');

select cmp_ok(
  (select count(*)::int from pg_proc p
   where 'plan_cache_mode=force_generic_plan' = any (p.proconfig)),
  '>=', 8,
  'the queue and snapshot functions plan generically');

-- The full-hosts hint of a claim, as job_complete_and_claim plans it, with the statistics
-- of an empty job_run_sources: an index probe per host, no sequential scan of the items.
analyze public.job_run_sources;
set local plan_cache_mode = force_generic_plan;
set local enable_seqscan = off;
prepare full_hosts(uuid, jsonb, int, int) as
  select coalesce(array_agg(h.host), '{}')
  from private.run_hosts h
  join public.job_runs r on r.id = h.run_id
  where h.run_id = $1
    and h.host in (select e ->> 'host' from jsonb_array_elements($2) e)
    and ($3 < 16 or h.items * 16 >= r.total_items - r.sources_skipped)
    and (select count(*) from public.job_run_sources s
         where s.run_id = $1 and s.host = h.host and s.status = 'claimed'
           and s.lease_until >= clock_timestamp())
        >= least(coalesce($4, 2147483647), coalesce(h.max_in_flight, 2147483647));
create temp table plan_lines (line text);
do $$
declare l text;
begin
  for l in execute 'explain execute full_hosts(gen_random_uuid(), ''[]''::jsonb, 1, 4)' loop
    insert into plan_lines values (l);
  end loop;
end $$;
select is(
  (select count(*)::int from plan_lines where line like '%Seq Scan on job_run_sources%'),
  0,
  'no sequential scan of job_run_sources in the hint''s generic plan');

select * from finish();
rollback;
