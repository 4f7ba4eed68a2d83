-- Retention: storage that grows with changes, not with fetches. A fetch that saw no
-- change writes no snapshot (record_snapshot writes one per change and one baseline), but
-- every run writes one job_run_sources row per source, and a run's per-host and
-- per-invocation rows (private.run_hosts, private.run_invocations). The rule, applied
-- every night by pg_cron (`prune-history`, 03:45 UTC) in bounded batches:
--   * snapshots: kept while a change needs them (its before and after), while they are a
--     source's latest, or younger than the snapshot window (30 days); others are pruned;
--   * job_run_sources of finished runs older than the item window (30 days): unchanged
--     rows (succeeded without change, skipped, failed) are pruned; a change's row is kept;
--   * run_hosts / run_invocations of finished runs: pruned a day after the run ended;
--   * job_runs themselves (one row per night) are kept: they are the run history.
-- Storage per source per year is estimated in docs/storage.md.

create or replace function private.prune_history(
  p_snapshot_days integer default 30,
  p_item_days integer default 30,
  p_batch integer default 50000
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_items integer;
  v_snapshots integer;
  v_hosts integer;
  v_invocations integer;
begin
  with old as (
    select s.run_id, s.source_id from public.job_run_sources s
    join public.job_runs r on r.id = s.run_id
    where r.status <> 'running'
      and r.completed_at < now() - make_interval(days => p_item_days)
      and not s.changed and s.policy_change_id is null
    limit greatest(p_batch, 0)
  )
  delete from public.job_run_sources s using old
  where s.run_id = old.run_id and s.source_id = old.source_id;
  get diagnostics v_items = row_count;

  with old as (
    select sn.id from public.snapshots sn
    where sn.fetched_at < now() - make_interval(days => p_snapshot_days)
      and not exists (select 1 from public.policy_changes pc where pc.snapshot_id = sn.id)
      and not exists (select 1 from public.policy_changes pc where pc.previous_snapshot_id = sn.id)
      and not exists (select 1 from public.sources src where src.last_snapshot_id = sn.id)
    limit greatest(p_batch, 0)
  )
  delete from public.snapshots sn using old where sn.id = old.id;
  get diagnostics v_snapshots = row_count;

  delete from private.run_hosts h using public.job_runs r
  where r.id = h.run_id and r.status <> 'running' and r.completed_at < now() - interval '1 day';
  get diagnostics v_hosts = row_count;
  delete from private.run_invocations i using public.job_runs r
  where r.id = i.run_id and r.status <> 'running' and r.completed_at < now() - interval '1 day';
  get diagnostics v_invocations = row_count;

  return jsonb_build_object('run_items', v_items, 'snapshots', v_snapshots,
                            'run_hosts', v_hosts, 'run_invocations', v_invocations);
end $$;
comment on function private.prune_history(integer, integer, integer) is 'Retention (pg_cron prune-history, nightly): prunes unchanged run items of runs finished more than p_item_days ago, snapshots older than p_snapshot_days that no change needs (before or after) and no source has as its latest, and the per-host/per-invocation rows of runs finished more than a day ago; at most p_batch rows of each kind per call. Returns the counts.';
revoke execute on function private.prune_history(integer, integer, integer) from public, anon, authenticated;

create index if not exists policy_changes_previous_snapshot_idx
  on public.policy_changes (previous_snapshot_id);
create index if not exists job_runs_completed_idx on public.job_runs (completed_at)
  where status <> 'running';

select cron.schedule('prune-history', '45 3 * * *', $cmd$select private.prune_history()$cmd$);
