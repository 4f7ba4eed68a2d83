-- Starting a run first finalises running runs that have no item left (their invocation
-- died after the last item's sources were deleted), so they never block the job with 409.

create or replace function public.job_start_run(
  p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_run public.job_runs;
  v_running uuid;
  v_empty uuid;
begin
  perform public.job_expire_stale_runs(p_job_name);
  for v_empty in
    select r.id from public.job_runs r
    where r.job_name = p_job_name and r.status = 'running'
      and r.total_items > 0  -- its items were added (a run being set up has none yet)
      and not exists (select 1 from public.job_run_sources s
                      where s.run_id = r.id and s.status in ('pending', 'claimed'))
  loop
    perform public.job_complete_items(v_empty, '[]'::jsonb);
  end loop;
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
comment on function public.job_start_run(text, text, jsonb, integer) is 'Starts a run (status running) after expiring stale runs and finalising running runs with no item left; returns {conflict: true, running_run_id} when a run of the job is in progress.';
revoke execute on function public.job_start_run(text, text, jsonb, integer) from public, anon, authenticated;
grant execute on function public.job_start_run(text, text, jsonb, integer) to service_role;
