-- Claims that stay cheap at 20,000 items: no sort of the run's pending items per claim
-- (any order will do; `skip locked` keeps invocations apart) and invocations counted
-- through a small keyed table instead of a scan of the run's items.

create table if not exists private.run_invocations (
  run_id uuid not null references public.job_runs (id) on delete cascade,
  invocation_id text not null,
  first_claim_at timestamptz not null default now(),
  primary key (run_id, invocation_id)
);
comment on table private.run_invocations is 'Invocations that claimed items of a run (job_runs.invocations counts them).';
comment on column private.run_invocations.run_id is 'Run.';
comment on column private.run_invocations.invocation_id is 'Invocation id passed to job_claim_items.';
comment on column private.run_invocations.first_claim_at is 'When the invocation first claimed items.';
alter table private.run_invocations enable row level security;

-- Bookkeeping updates do not change the ignore patterns: validate them only when they do.
drop trigger if exists sources_validate on public.sources;
create trigger sources_validate before insert or update of ignore_patterns, name, url on public.sources
  for each row execute function private.validate_source();

create or replace function public.job_claim_items(
  p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare v_items jsonb;
begin
  -- Count each invocation once (a primary key lookup, not a scan of the run's items).
  insert into private.run_invocations (run_id, invocation_id)
  select p_run_id, p_claimed_by where p_claimed_by is not null
  on conflict do nothing;
  if found then
    update public.job_runs set invocations = invocations + 1
    where id = p_run_id and status = 'running';
  end if;
  with picked as (
    select s.run_id, s.source_id from public.job_run_sources s
    join public.job_runs r on r.id = s.run_id and r.status = 'running'
    where s.run_id = p_run_id
      and (s.status = 'pending' or (s.status = 'claimed' and s.lease_until < now()))
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
        'ignore_patterns', to_jsonb(src.ignore_patterns), 'render', src.render,
        'etag', src.etag,
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
revoke execute on function public.job_claim_items(uuid, text, integer, integer) from public, anon, authenticated;
grant execute on function public.job_claim_items(uuid, text, integer, integer) to service_role;
comment on column public.sources.updated_at is 'When the source''s definition (name, url, ignore patterns) last changed; fetch bookkeeping does not move it.';
