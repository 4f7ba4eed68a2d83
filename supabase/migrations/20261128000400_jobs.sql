-- The daily-fetch job's database side: a run is data (job_runs + one job_run_sources
-- work item per source), invocations claim items with `for update skip locked` and a
-- lease, complete them in batches (counters move, so Studio shows progress), and the last
-- completed item finalises the run exactly once. Only one running run per job (unique
-- index job_runs_one_running). Called by the edge function with the service-role key.

alter table public.job_run_sources
  add column if not exists fetch_id uuid not null default gen_random_uuid();
comment on column public.job_run_sources.fetch_id is 'Idempotency key of this item''s fetch: a snapshot written with it belongs to this item, so a re-claimed item never records a second change.';

alter table public.job_runs
  add column if not exists invocations integer not null default 0 check (invocations >= 0);
comment on column public.job_runs.invocations is 'How many function invocations worked on the run.';

-- ---------------------------------------------------------------------------
create or replace function public.job_expire_stale_runs(p_job_name text)
returns integer
language plpgsql security definer set search_path = '' as $$
declare v_count integer;
begin
  with expired as (
    update public.job_runs r set
      status = 'failed',
      completed_at = now(),
      errors = r.errors || jsonb_build_array(format(
        'run did not finish before its deadline %s: finalised failed by the watchdog (%s of %s sources done)',
        to_char(r.deadline_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        r.sources_processed, r.total_items - r.sources_skipped))
    where r.job_name = p_job_name and r.status = 'running' and r.deadline_at < now()
    returning r.id
  ), items as (
    update public.job_run_sources s set status = 'failed', error_class = 'internal',
      error_message = 'run expired before this source was processed', lease_until = null,
      finished_at = now()
    where s.run_id in (select id from expired) and s.status in ('pending', 'claimed')
  )
  select count(*) into v_count from expired;
  return v_count;
end $$;
comment on function public.job_expire_stale_runs(text) is 'Watchdog: finalises as failed every running run of the job whose deadline has passed (its invocations died). Returns how many.';

-- ---------------------------------------------------------------------------
create or replace function public.job_start_run(
  p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_run public.job_runs;
  v_running uuid;
begin
  perform public.job_expire_stale_runs(p_job_name);
  begin
    insert into public.job_runs (job_name, trigger, options, deadline_at)
    values (p_job_name, p_trigger, coalesce(p_options, '{}'::jsonb),
            now() + make_interval(secs => p_deadline_ms / 1000.0))
    returning * into v_run;
  exception when unique_violation then
    select id into v_running from public.job_runs
      where job_name = p_job_name and status = 'running' limit 1;
    return jsonb_build_object('conflict', true, 'running_run_id', v_running);
  end;
  return jsonb_build_object('conflict', false, 'run', to_jsonb(v_run));
end $$;
comment on function public.job_start_run(text, text, jsonb, integer) is 'Starts a run (status running) after expiring stale ones; returns {conflict: true, running_run_id} when a run of the job is in progress.';

-- ---------------------------------------------------------------------------
create or replace function public.job_add_items(
  p_run_id uuid, p_due uuid[], p_skipped uuid[]
) returns public.job_runs
language plpgsql security definer set search_path = '' as $$
declare v_run public.job_runs;
begin
  insert into public.job_run_sources (run_id, source_id, status)
  select p_run_id, id, 'pending' from unnest(coalesce(p_due, '{}')) as id
  on conflict do nothing;
  insert into public.job_run_sources (run_id, source_id, status, finished_at)
  select p_run_id, id, 'skipped', now() from unnest(coalesce(p_skipped, '{}')) as id
  on conflict do nothing;
  update public.job_runs r set
    total_items = (select count(*) from public.job_run_sources s where s.run_id = p_run_id),
    sources_skipped = (select count(*) from public.job_run_sources s
                       where s.run_id = p_run_id and s.status = 'skipped')
  where r.id = p_run_id
  returning * into v_run;
  return v_run;
end $$;
comment on function public.job_add_items(uuid, uuid[], uuid[]) is 'Adds the work items of a run: due sources pending, the others skipped; sets total_items and sources_skipped.';

-- ---------------------------------------------------------------------------
create or replace function public.job_claim_items(
  p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare v_items jsonb;
begin
  update public.job_runs set invocations = invocations + 1
  where id = p_run_id and status = 'running' and p_claimed_by is not null
    and not exists (select 1 from public.job_run_sources s
                    where s.run_id = p_run_id and s.claimed_by = p_claimed_by);
  with picked as (
    select s.run_id, s.source_id from public.job_run_sources s
    join public.job_runs r on r.id = s.run_id and r.status = 'running'
    where s.run_id = p_run_id
      and (s.status = 'pending' or (s.status = 'claimed' and s.lease_until < now()))
    order by s.source_id
    limit greatest(p_limit, 0)
    for update of s skip locked
  ), claimed as (
    update public.job_run_sources s set
      status = 'claimed', attempts = s.attempts + 1, claimed_by = p_claimed_by,
      lease_until = now() + make_interval(secs => p_lease_ms / 1000.0)
    from picked p
    where s.run_id = p.run_id and s.source_id = p.source_id
    returning s.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'source', jsonb_build_object(
        'id', src.id, 'name', src.name, 'url', src.url, 'active', src.active,
        'check_frequency', src.check_frequency, 'css_selector', src.css_selector,
        'ignore_patterns', to_jsonb(src.ignore_patterns), 'etag', src.etag,
        'last_modified', src.last_modified, 'last_hash', src.last_hash,
        'last_snapshot_id', src.last_snapshot_id, 'last_checked_at', src.last_checked_at,
        'last_success_at', src.last_success_at,
        'consecutive_failures', src.consecutive_failures,
        'failing_alerted', src.failing_alerted),
      'attempt', c.attempts,
      'fetch_id', c.fetch_id,
      'lease_until', c.lease_until,
      'prior_policy_change_id', pc.id,
      'prior_snapshot_id', sn.id) order by c.source_id), '[]'::jsonb)
  into v_items
  from claimed c
  join public.sources src on src.id = c.source_id
  left join public.snapshots sn on sn.fetch_id = c.fetch_id
  left join public.policy_changes pc on pc.snapshot_id = sn.id;
  return v_items;
end $$;
comment on function public.job_claim_items(uuid, text, integer, integer) is 'Claims up to p_limit pending (or lease-expired) items of a running run for one invocation, with everything the pipeline needs (source, last hash, etag) in one round trip. prior_policy_change_id is set when an earlier, dead claim already recorded this item''s change.';

-- ---------------------------------------------------------------------------
create or replace function public.job_complete_items(p_run_id uuid, p_outcomes jsonb)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_done integer;
  v_run public.job_runs;
  v_finalised boolean := false;
begin
  with o as (
    select * from jsonb_to_recordset(coalesce(p_outcomes, '[]'::jsonb)) as x(
      source_id uuid, attempt integer, status text, changed boolean, baseline boolean,
      policy_change_id uuid, error_class text, error_message text, duration_ms integer,
      alerts_sent integer, error_text text, content jsonb)
  ), upd as (
    update public.job_run_sources s set
      status = o.status, changed = coalesce(o.changed, false),
      baseline = coalesce(o.baseline, false), policy_change_id = o.policy_change_id,
      error_class = o.error_class, error_message = o.error_message,
      duration_ms = o.duration_ms, content = o.content, lease_until = null, finished_at = now()
    from o
    where s.run_id = p_run_id and s.source_id = o.source_id
      and s.status = 'claimed' and s.attempts = o.attempt   -- the claim is still ours
      and o.status in ('succeeded', 'failed')
    returning o.*
  )
  update public.job_runs r set
    sources_processed = r.sources_processed + a.n,
    sources_succeeded = r.sources_succeeded + a.ok,
    sources_failed = r.sources_failed + a.failed,
    changes_detected = r.changes_detected + a.changes,
    alerts_sent = r.alerts_sent + a.alerts,
    errors = r.errors || a.errs
  from (
    select count(*)::int as n,
           count(*) filter (where status = 'succeeded')::int as ok,
           count(*) filter (where status = 'failed')::int as failed,
           count(*) filter (where changed)::int as changes,
           coalesce(sum(alerts_sent), 0)::int as alerts,
           coalesce(jsonb_agg(error_text) filter (where error_text is not null), '[]'::jsonb) as errs
    from upd
  ) a
  where r.id = p_run_id and r.status = 'running'
  returning a.n into v_done;

  -- The last item finalises the run, exactly once (status = 'running' guards it).
  if not exists (select 1 from public.job_run_sources s
                 where s.run_id = p_run_id and s.status in ('pending', 'claimed')) then
    update public.job_runs r set
      status = case
        when r.sources_failed > 0 and r.sources_succeeded = 0 then 'failed'
        when r.sources_failed > 0 then 'partial'
        else 'succeeded' end,
      completed_at = now()
    where r.id = p_run_id and r.status = 'running';
    v_finalised := found;
  end if;
  select * into v_run from public.job_runs where id = p_run_id;
  return jsonb_build_object('completed', coalesce(v_done, 0), 'finalised', v_finalised,
                            'run', to_jsonb(v_run));
end $$;
comment on function public.job_complete_items(uuid, jsonb) is 'Records the outcomes of claimed items (ignoring items whose claim was lost), moves the run''s counters, and finalises the run when no item is left (exactly once). Returns {completed, finalised, run}.';

-- ---------------------------------------------------------------------------
create or replace function public.job_fail_run(p_run_id uuid, p_error text)
returns public.job_runs
language plpgsql security definer set search_path = '' as $$
declare v_run public.job_runs;
begin
  update public.job_run_sources s set status = 'failed', error_class = 'internal',
    error_message = p_error, lease_until = null, finished_at = now()
  where s.run_id = p_run_id and s.status in ('pending', 'claimed');
  update public.job_runs r set status = 'failed', completed_at = now(),
    errors = r.errors || jsonb_build_array(p_error)
  where r.id = p_run_id and r.status = 'running'
  returning * into v_run;
  if v_run.id is null then
    select * into v_run from public.job_runs where id = p_run_id;
  end if;
  return v_run;
end $$;
comment on function public.job_fail_run(uuid, text) is 'Finalises a running run as failed with a run-level error (e.g. the sources could not be read).';

-- ---------------------------------------------------------------------------
revoke execute on function public.job_expire_stale_runs(text) from public, anon, authenticated;
revoke execute on function public.job_start_run(text, text, jsonb, integer) from public, anon, authenticated;
revoke execute on function public.job_add_items(uuid, uuid[], uuid[]) from public, anon, authenticated;
revoke execute on function public.job_claim_items(uuid, text, integer, integer) from public, anon, authenticated;
revoke execute on function public.job_complete_items(uuid, jsonb) from public, anon, authenticated;
revoke execute on function public.job_fail_run(uuid, text) from public, anon, authenticated;
grant execute on function public.job_expire_stale_runs(text) to service_role;
grant execute on function public.job_start_run(text, text, jsonb, integer) to service_role;
grant execute on function public.job_add_items(uuid, uuid[], uuid[]) to service_role;
grant execute on function public.job_claim_items(uuid, text, integer, integer) to service_role;
grant execute on function public.job_complete_items(uuid, jsonb) to service_role;
grant execute on function public.job_fail_run(uuid, text) to service_role;

-- Seconds of each frequency, so clients read a number instead of parsing an interval.
alter table public.check_frequencies
  add column if not exists interval_seconds double precision
  generated always as (extract(epoch from check_interval)) stored;
comment on column public.check_frequencies.interval_seconds is 'check_interval in seconds (derived).';
