-- The schedule: pg_cron calls the edge function over pg_net every night at 02:00 UTC with
-- the service-role key, both read from Vault (secrets `project_url` and
-- `service_role_key`; see README, Deploy). pg_cron reports "succeeded" as soon as the
-- request is queued, so watchdogs make failures visible without any HTTP:
--   * the job itself finalises a run still `running` past its deadline (job_start_run);
--   * `private.check_missed_daily_fetch()` records a failed job_runs row when no run
--     started in the last 26 hours; the next run sends a `run_missed` operational alert;
--   * `private.resume_stalled_runs()` (every 5 minutes) finalises a running run with no
--     item left and asks for a new invocation on a run whose items nobody holds (every
--     invocation died), so a run never waits for its deadline.
-- A fourth job prunes cron.job_run_details older than 30 days.

create extension if not exists pg_cron;
do $$
begin
  -- Hosted projects enable pg_net as an extension; the local stack provides the same
  -- functions from its bootstrap, so only create the extension when `net` is missing.
  if not exists (select 1 from pg_namespace where nspname = 'net') then
    create extension if not exists pg_net with schema extensions;
  end if;
end $$;

create table if not exists private.cron_dispatches (
  id bigserial primary key,
  job_name text not null,
  request_id bigint,
  dispatched_at timestamptz not null default now()
);
comment on table private.cron_dispatches is 'Each pg_net request the cron job queued, to find its response (net._http_response) when a night was missed.';
comment on column private.cron_dispatches.id is 'Row id.';
comment on column private.cron_dispatches.job_name is 'Job the request started.';
comment on column private.cron_dispatches.request_id is 'pg_net request id.';
comment on column private.cron_dispatches.dispatched_at is 'When the request was queued.';
alter table private.cron_dispatches enable row level security;

create table if not exists private.watchdog_state (
  job_name text primary key,
  watching_since timestamptz not null default now()
);
comment on table private.watchdog_state is 'Since when the missed-run watchdog watches a job: no night is reported missed in the first 26 hours after installation.';
comment on column private.watchdog_state.job_name is 'Watched job.';
comment on column private.watchdog_state.watching_since is 'When the schedule was installed.';
alter table private.watchdog_state enable row level security;
insert into private.watchdog_state (job_name) values ('daily-fetch') on conflict do nothing;

-- ---------------------------------------------------------------------------
create or replace function private.check_missed_daily_fetch()
returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_dispatch private.cron_dispatches;
  v_status integer;
  v_error text;
  v_detail text;
  v_id uuid;
begin
  if exists (select 1 from public.job_runs
             where job_name = 'daily-fetch' and started_at > now() - interval '26 hours')
     or exists (select 1 from private.watchdog_state
                where job_name = 'daily-fetch' and watching_since > now() - interval '26 hours') then
    return null;
  end if;
  select * into v_dispatch from private.cron_dispatches
  where job_name = 'daily-fetch' order by dispatched_at desc limit 1;
  if v_dispatch.id is not null then
    select r.status_code, coalesce(r.error_msg, case when r.timed_out then 'timed out' end)
      into v_status, v_error
    from net._http_response r where r.id = v_dispatch.request_id;
  end if;
  v_detail := case
    when v_dispatch.id is null then 'the cron job never dispatched a request'
    when v_status is not null then format('last dispatch at %s got HTTP %s',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_status)
    when v_error is not null then format('last dispatch at %s failed: %s',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_error)
    else format('last dispatch at %s has no response',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
  end;
  insert into public.job_runs (job_name, trigger, status, completed_at, options, errors)
  values ('daily-fetch', 'cron', 'failed', now(),
          jsonb_build_object('watchdog', 'missed_run', 'http_status', v_status),
          jsonb_build_array('nightly run did not start in the last 26 hours: ' || v_detail))
  returning id into v_id;
  return v_id;
end $$;
comment on function private.check_missed_daily_fetch() is 'Watchdog run by pg_cron: when no daily-fetch run started in the last 26 hours, records a failed job_runs row saying so (with the last pg_net response status) and returns its id.';
revoke execute on function private.check_missed_daily_fetch() from public, anon, authenticated;

-- ---------------------------------------------------------------------------
create or replace function private.resume_stalled_runs()
returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_run record;
  v_count integer := 0;
  v_url text;
  v_key text;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into v_key from vault.decrypted_secrets where name = 'service_role_key';
  -- A run whose items are all gone (their sources were deleted mid-run) has nothing left
  -- to claim: finalise it now instead of at its deadline.
  for v_run in
    select r.id from public.job_runs r
    where r.status = 'running' and r.started_at < now() - interval '2 minutes'
      and not exists (select 1 from public.job_run_sources s where s.run_id = r.id
                      and s.status in ('pending', 'claimed'))
  loop
    perform public.job_complete_items(v_run.id, '[]'::jsonb);
    v_count := v_count + 1;
  end loop;
  if v_url is null or v_key is null then
    return v_count;
  end if;
  for v_run in
    select r.id from public.job_runs r
    where r.status = 'running' and r.started_at < now() - interval '2 minutes'
      and exists (select 1 from public.job_run_sources s where s.run_id = r.id
                  and (s.status = 'pending' or (s.status = 'claimed' and s.lease_until < now())))
      and not exists (select 1 from public.job_run_sources s where s.run_id = r.id
                      and s.status = 'claimed' and s.lease_until >= now())
  loop
    insert into private.cron_dispatches (job_name, request_id)
    select 'daily-fetch-resume', net.http_post(
      url := v_url || '/functions/v1/api/jobs/runs/' || v_run.id || '/continue',
      body := '{}'::jsonb,
      headers := jsonb_build_object('Content-Type', 'application/json',
        'Prefer', 'respond-async', 'apikey', v_key, 'Authorization', 'Bearer ' || v_key),
      timeout_milliseconds := 30000);
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;
comment on function private.resume_stalled_runs() is 'Run by pg_cron every 5 minutes: finalises running runs with no item left, and asks for a new invocation on every running run whose items nobody holds (its invocations died). Returns how many runs it acted on.';
revoke execute on function private.resume_stalled_runs() from public, anon, authenticated;

-- (Re)schedule idempotently: cron.schedule with an existing name updates the job.
select cron.schedule(
  'daily-fetch',
  '0 2 * * *',
  $cmd$
  insert into private.cron_dispatches (job_name, request_id)
  select 'daily-fetch', net.http_post(
    url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
           || '/functions/v1/api/jobs/daily-fetch',
    body := '{"trigger": "cron"}'::jsonb,
    -- The key (secret key sb_secret_…, or the legacy service-role JWT) goes in `apikey`,
    -- where Supabase's gateway and @supabase/server read API keys, and as bearer, where
    -- the legacy JWT is read.
    headers := (select jsonb_build_object(
      'Content-Type', 'application/json',
      'Prefer', 'respond-async',
      'apikey', k.decrypted_secret,
      'Authorization', 'Bearer ' || k.decrypted_secret)
      from vault.decrypted_secrets k where k.name = 'service_role_key'),
    timeout_milliseconds := 30000)
  $cmd$
);

select cron.schedule('daily-fetch-watchdog', '15 * * * *',
  $cmd$select private.check_missed_daily_fetch()$cmd$);

select cron.schedule('prune-cron-history', '30 3 * * *',
  $cmd$delete from cron.job_run_details where end_time < now() - interval '30 days'$cmd$);

select cron.schedule('daily-fetch-resume', '*/5 * * * *',
  $cmd$select private.resume_stalled_runs()$cmd$);
