-- One write per batch: job_complete_items also takes the batch's source bookkeeping
-- (last_checked_at, validators, errors, streaks), so an unchanged source costs one row
-- update in one round trip. And a pg_cron job resumes stalled runs: a running run whose
-- items nobody holds (every invocation died) gets a new invocation over pg_net.

create or replace function public.job_complete_items(
  p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb
) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  if p_bookkeeping is not null and jsonb_typeof(p_bookkeeping) = 'array'
     and jsonb_array_length(p_bookkeeping) > 0 then
    perform public.update_source_bookkeeping(p_bookkeeping);
  end if;
  return public.job_complete_items(p_run_id, p_outcomes);
end $$;
comment on function public.job_complete_items(uuid, jsonb, jsonb) is 'job_complete_items(run, outcomes) plus the sources'' bookkeeping patches (update_source_bookkeeping) in the same transaction: one write per batch.';
revoke execute on function public.job_complete_items(uuid, jsonb, jsonb) from public, anon, authenticated;
grant execute on function public.job_complete_items(uuid, jsonb, jsonb) to service_role;

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
  if v_url is null or v_key is null then
    return 0;
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
comment on function private.resume_stalled_runs() is 'Run by pg_cron every 5 minutes: asks for a new invocation on every running run whose items nobody holds (its invocations died), so a run never waits for its deadline. Returns how many runs it resumed.';
revoke execute on function private.resume_stalled_runs() from public, anon, authenticated;

select cron.schedule('daily-fetch-resume', '*/5 * * * *',
  $cmd$select private.resume_stalled_runs()$cmd$);
