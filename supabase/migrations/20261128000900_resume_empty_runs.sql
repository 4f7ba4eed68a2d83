-- A run whose remaining items vanished (their sources were deleted while it ran) is
-- finalised by the resume job instead of staying `running` until its deadline.

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
