-- The schedule: pg_cron calls the edge function over pg_net on the schedule stored in
-- private.fetch_schedule (default every hour, at minute 0, UTC: the finest check_frequency
-- is hourly; each run fetches only the sources that are due) with the service-role key,
-- both read from Vault (secrets `project_url` and `service_role_key`; see README, Deploy).
-- Operators change it with public.set_fetch_schedule(cron_expression); the stored value
-- is what the cron.schedule below installs, so re-running this file does not reset it.
-- pg_cron reports "succeeded" as soon as the request is queued, so watchdogs make failures
-- visible without any HTTP:
--   * the job itself finalises a run still `running` past its deadline (job_start_run);
--   * `private.check_missed_daily_fetch()` records a failed job_runs row when no run
--     started within the schedule's longest gap plus a grace (26 hours for a daily
--     schedule, 2 hours for hourly); the next run sends a `run_missed` operational alert;
--   * `private.resume_stalled_runs()` (every minute) finalises a running run with no
--     item left and asks for a new invocation on a run whose items nobody holds (every
--     invocation died: live ones renew their leases, JOB_LEASE_RENEW_MS, so an expired
--     lease means a dead invocation), so a killed run goes on within about a lease and a
--     minute instead of waiting for its deadline.
-- A fourth job prunes cron.job_run_details older than 30 days; a fifth, `alerts-deliver`,
-- retries the alert outbox every 5 minutes (POST /api/jobs/alerts/deliver). Every request
-- of the function goes through private.call_api (Vault secrets, headers, cron_dispatches).

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
select private.describe('private.cron_dispatches',
  'Each pg_net request the cron job queued, to find its response (net._http_response) when a night was missed.',
  jsonb_build_object(
    'id', 'Row id.',
    'job_name', 'Job the request started.',
    'request_id', 'pg_net request id.',
    'dispatched_at', 'When the request was queued.'));
alter table private.cron_dispatches enable row level security;

create table if not exists private.watchdog_state (
  job_name text primary key,
  watching_since timestamptz not null default now()
);
select private.describe('private.watchdog_state',
  'Since when the missed-run watchdog watches a job: no run is reported missed within the first window (the schedule''s longest gap plus grace) after installation or a schedule change.',
  jsonb_build_object(
    'job_name', 'Watched job.',
    'watching_since', 'When the schedule was installed or last changed.'));
alter table private.watchdog_state enable row level security;
insert into private.watchdog_state (job_name) values ('daily-fetch') on conflict do nothing;

create table if not exists private.fetch_schedule (
  job_name text primary key,
  schedule text not null,
  max_gap interval not null check (max_gap > interval '0'),
  updated_at timestamptz not null default now()
);
select private.describe('private.fetch_schedule',
  'The schedule in force of each fetch job, set by public.set_fetch_schedule(); cron.schedule in the migration installs the stored value, so a later db push does not reset it.',
  jsonb_build_object(
    'job_name', 'pg_cron job name (daily-fetch).',
    'schedule', 'Five-field cron expression, UTC.',
    'max_gap', 'Longest time between two firings of the schedule (what the missed-run watchdog waits for, plus grace).',
    'updated_at', 'When the schedule was last set.'));
alter table private.fetch_schedule enable row level security;
insert into private.fetch_schedule (job_name, schedule, max_gap)
  values ('daily-fetch', '0 * * * *', interval '1 hour') on conflict do nothing;

-- ---------------------------------------------------------------------------
create or replace function private.cron_field_values(p_field text, p_min integer, p_max integer)
returns integer[]
language plpgsql immutable set search_path = '' as $$
declare
  v_part text;
  v_m text[];
  v_lo integer;
  v_hi integer;
  v_step integer;
  v_out integer[] := '{}';
begin
  foreach v_part in array string_to_array(p_field, ',') loop
    v_m := regexp_match(v_part, '^(\*|([0-9]{1,2})(?:-([0-9]{1,2}))?)(?:/([0-9]{1,2}))?$');
    if v_m is null then
      raise exception 'invalid cron field "%": use numbers, *, a-b, lists and /step', p_field
        using errcode = '22023';
    end if;
    if v_m[1] = '*' then
      v_lo := p_min; v_hi := p_max;
    else
      v_lo := v_m[2]::integer;
      v_hi := coalesce(v_m[3]::integer, case when v_m[4] is not null then p_max else v_lo end);
    end if;
    v_step := coalesce(v_m[4]::integer, 1);
    if v_lo < p_min or v_hi > p_max or v_lo > v_hi or v_step < 1 then
      raise exception 'invalid cron field "%": values are % to %', p_field, p_min, p_max
        using errcode = '22023';
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return v_out;
end $$;
comment on function private.cron_field_values(text, integer, integer) is 'Values one field of a five-field cron expression matches (numbers, *, ranges, lists, steps); raises 22023 on anything else.';
revoke execute on function private.cron_field_values(text, integer, integer) from public, anon, authenticated;

-- ---------------------------------------------------------------------------
create or replace function private.cron_max_gap(p_expression text)
returns interval
language plpgsql immutable set search_path = '' as $$
declare
  v_fields text[] := regexp_split_to_array(btrim(coalesce(p_expression, '')), '\s+');
  v_minutes integer[];
  v_hours integer[];
  v_doms integer[];
  v_months integer[];
  v_dows integer[];
  v_times integer[];
  v_within integer;
  v_across integer;
begin
  if array_length(v_fields, 1) is distinct from 5 then
    raise exception 'a schedule is five cron fields (minute hour day-of-month month day-of-week), got "%"',
      p_expression using errcode = '22023';
  end if;
  v_minutes := private.cron_field_values(v_fields[1], 0, 59);
  v_hours := private.cron_field_values(v_fields[2], 0, 23);
  v_doms := private.cron_field_values(v_fields[3], 1, 31);
  v_months := private.cron_field_values(v_fields[4], 1, 12);
  v_dows := array(select case when d = 7 then 0 else d end
                  from unnest(private.cron_field_values(v_fields[5], 0, 7)) d);
  -- Minutes of the day it fires on a matching day (the same on every matching day).
  v_times := array(select distinct h * 60 + m from unnest(v_hours) h, unnest(v_minutes) m
                   order by 1);
  select coalesce(max(next_t - t), 0) into v_within
  from (select t, lead(t) over (order by t) as next_t from unnest(v_times) t) x;
  -- Matching days over nine years (two leap days); cron ORs day-of-month and day-of-week
  -- when both are restricted, otherwise ANDs them.
  with days as (
    select d::date as day from generate_series(date '2024-01-01', date '2032-12-31', interval '1 day') d
    where extract(month from d)::integer = any(v_months)
      and case when v_fields[3] <> '*' and v_fields[5] <> '*'
        then extract(day from d)::integer = any(v_doms) or extract(dow from d)::integer = any(v_dows)
        else extract(day from d)::integer = any(v_doms) and extract(dow from d)::integer = any(v_dows)
      end
  ), gaps as (
    select (lead(day) over (order by day) - day) as days_between from days
  )
  select max(days_between) * 1440 + v_times[1] - v_times[array_length(v_times, 1)]
    into v_across from gaps;
  if v_across is null then
    raise exception 'the schedule "%" fires less than twice in nine years', p_expression
      using errcode = '22023';
  end if;
  return make_interval(mins => greatest(v_within, v_across));
end $$;
comment on function private.cron_max_gap(text) is 'Longest time between two firings of a five-field cron expression (UTC); raises 22023 when the expression is not one.';
revoke execute on function private.cron_max_gap(text) from public, anon, authenticated;

-- ---------------------------------------------------------------------------
create or replace function public.set_fetch_schedule(cron_expression text)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_schedule text := regexp_replace(btrim(coalesce(cron_expression, '')), '\s+', ' ', 'g');
  v_gap interval := private.cron_max_gap(v_schedule);
  v_job bigint;
  v_slowed jsonb;
begin
  select jobid into v_job from cron.job where jobname = 'daily-fetch';
  if v_job is null then
    raise exception 'the cron job daily-fetch is not installed' using errcode = 'P0002';
  end if;
  perform cron.alter_job(v_job, schedule := v_schedule);
  insert into private.fetch_schedule (job_name, schedule, max_gap, updated_at)
    values ('daily-fetch', v_schedule, v_gap, now())
  on conflict (job_name) do update
    set schedule = excluded.schedule, max_gap = excluded.max_gap, updated_at = excluded.updated_at;
  update private.watchdog_state set watching_since = now() where job_name = 'daily-fetch';
  -- Frequencies of active sources that this schedule checks less often than they ask.
  select coalesce(jsonb_agg(distinct f.name), '[]'::jsonb) into v_slowed
  from public.check_frequencies f
  join public.sources s on s.check_frequency = f.name and s.active
  where f.check_interval < v_gap;
  return jsonb_build_object('job_name', 'daily-fetch', 'schedule', v_schedule,
    'max_gap_seconds', extract(epoch from v_gap), 'slower_than_asked', v_slowed);
end $$;
comment on function public.set_fetch_schedule(text) is 'Operators (service_role or postgres): sets when the fetch job fires (five-field cron, UTC, e.g. ''0 * * * *'' hourly, ''30 4 * * *'' daily at 04:30), stores it so a later db push keeps it, restarts the missed-run watchdog''s window. Returns the schedule, its longest gap and the frequencies in use it serves less often than asked.';
select private.service_role_only(array['public.set_fetch_schedule(text)']::regprocedure[]);

-- ---------------------------------------------------------------------------
-- Every request pg_cron makes of the edge function: a POST to <project_url><p_path> with
-- the service key (secret key sb_secret_…, or the legacy service-role JWT), both read from
-- Vault. The key goes in `apikey`, where Supabase's gateway and @supabase/server read API
-- keys, and as bearer, where the legacy JWT is read; p_async asks for 202 + Location
-- (Prefer: respond-async). Each request is recorded in private.cron_dispatches, where the
-- missed-run watchdog finds its response.
create or replace function private.call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean)
returns bigint
language plpgsql set search_path = '' as $$
declare
  v_url text := (select s.decrypted_secret from vault.decrypted_secrets s where s.name = 'project_url');
  v_key text := (select s.decrypted_secret from vault.decrypted_secrets s where s.name = 'service_role_key');
  v_request bigint;
begin
  if v_url is null or v_key is null then
    raise exception 'Cannot call % for %: Vault has no project_url or no service_role_key secret',
      p_path, p_job_name using errcode = 'P0002', hint = 'See README, Deploy to a hosted project.';
  end if;
  v_request := net.http_post(
    url := v_url || p_path,
    body := p_body,
    headers := jsonb_build_object('Content-Type', 'application/json',
      'apikey', v_key, 'Authorization', 'Bearer ' || v_key)
      || case when p_async then '{"Prefer": "respond-async"}'::jsonb else '{}'::jsonb end,
    timeout_milliseconds := 30000);
  insert into private.cron_dispatches (job_name, request_id) values (p_job_name, v_request);
  return v_request;
end $$;
comment on function private.call_api(text, text, jsonb, boolean) is 'pg_cron''s requests of the edge function: POST <Vault project_url><p_path> with the Vault service_role_key as apikey and bearer (Prefer: respond-async when p_async), recorded in private.cron_dispatches as p_job_name; returns the pg_net request id. Raises P0002 when either secret is missing.';
revoke execute on function private.call_api(text, text, jsonb, boolean) from public, anon, authenticated;

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
  v_schedule private.fetch_schedule;
  v_window interval;
begin
  -- The window follows the schedule in force: its longest gap plus a grace of that gap
  -- again, at most 2 hours (daily: 26 hours; hourly: 2 hours).
  select * into v_schedule from private.fetch_schedule where job_name = 'daily-fetch';
  v_window := coalesce(v_schedule.max_gap, interval '24 hours')
    + least(coalesce(v_schedule.max_gap, interval '24 hours'), interval '2 hours');
  if exists (select 1 from public.job_runs
             where job_name = 'daily-fetch' and started_at > now() - v_window)
     or exists (select 1 from private.watchdog_state
                where job_name = 'daily-fetch' and watching_since > now() - v_window) then
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
          jsonb_build_array(format('scheduled run (%s) did not start in the last %s hours: ',
            coalesce(v_schedule.schedule, 'daily'),
            round((extract(epoch from v_window) / 3600)::numeric, 2)::float8) || v_detail))
  returning id into v_id;
  return v_id;
end $$;
comment on function private.check_missed_daily_fetch() is 'Watchdog run by pg_cron: when no daily-fetch run started within the schedule''s window (private.fetch_schedule max_gap plus min(max_gap, 2 hours): 26 hours for daily), records a failed job_runs row saying so (with the last pg_net response status) and returns its id.';
revoke execute on function private.check_missed_daily_fetch() from public, anon, authenticated;

-- ---------------------------------------------------------------------------
create or replace function private.resume_stalled_runs()
returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_run record;
  v_count integer := 0;
begin
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
  -- Nobody can be asked before the project's Vault secrets are set (README, Deploy).
  if (select count(*) from vault.decrypted_secrets
      where name in ('project_url', 'service_role_key')) < 2 then
    return v_count;
  end if;
  -- A daily-fetch run whose items nobody holds: its invocations died (live ones renew their
  -- leases). Graces: 30 s after the start (its first invocation is about to claim) and 10 s
  -- after the last lease ended (another invocation may be claiming the item again); an
  -- extra invocation on a healthy run would only join it.
  for v_run in
    select r.id from public.job_runs r
    where r.job_name = 'daily-fetch' and r.status = 'running'
      and r.started_at < now() - interval '30 seconds'
      and exists (select 1 from public.job_run_sources s where s.run_id = r.id
                  and (s.status = 'pending' or (s.status = 'claimed' and s.lease_until < now())))
      and coalesce((select max(s.lease_until) from public.job_run_sources s
                    where s.run_id = r.id and s.status = 'claimed'), '-infinity')
          < now() - interval '10 seconds'
  loop
    perform private.call_api('daily-fetch-resume',
      '/functions/v1/api/jobs/runs/' || v_run.id || '/continue', '{}'::jsonb, true);
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;
comment on function private.resume_stalled_runs() is 'Run by pg_cron every minute: finalises running runs with no item left, and asks for a new invocation on every running daily-fetch run whose items nobody holds (its invocations died: live ones renew their leases), 30 s after its start and 10 s after its last lease ended. Returns how many runs it acted on.';
revoke execute on function private.resume_stalled_runs() from public, anon, authenticated;

-- (Re)schedule idempotently: cron.schedule with an existing name updates the job; the
-- schedule is the stored one (public.set_fetch_schedule), never a literal here.
select cron.schedule('daily-fetch',
  (select schedule from private.fetch_schedule where job_name = 'daily-fetch'),
  $cmd$select private.call_api('daily-fetch', '/functions/v1/api/jobs/daily-fetch', '{"trigger": "cron"}', true)$cmd$);

select cron.schedule('daily-fetch-watchdog', '15 * * * *',
  $cmd$select private.check_missed_daily_fetch()$cmd$);

select cron.schedule('prune-cron-history', '30 3 * * *',
  $cmd$delete from cron.job_run_details where end_time < now() - interval '30 days'$cmd$);

select cron.schedule('daily-fetch-resume', '* * * * *',
  $cmd$select private.resume_stalled_runs()$cmd$);

-- Alerts on their own clock: every 5 minutes, one pass over the outbox (pending alerts and
-- failed ones past their backoff; see 000300_alerts.sql), authorised like daily-fetch.
select cron.schedule('alerts-deliver', '*/5 * * * *',
  $cmd$select private.call_api('alerts-deliver', '/functions/v1/api/jobs/alerts/deliver', '{}', false)$cmd$);
