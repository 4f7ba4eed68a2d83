-- The fetch pipeline's database side: a new snapshot of a source, the policy change it
-- makes (when the source had a previous snapshot) and the source's hash, pointer and
-- bookkeeping move together in ONE transaction (public.record_snapshot), so a crash never
-- leaves a snapshot without its change or a change without its snapshot; and the
-- bookkeeping of many sources is written in one call (public.update_source_bookkeeping).
-- Both are called by the edge function with the service-role key only.

-- ---------------------------------------------------------------------------
create or replace function private.apply_source_bookkeeping(
  p_patches jsonb, p_last_hash text default null, p_last_snapshot_id uuid default null
) returns integer
-- Generic plans (planned once per connection): every statement reads sources by primary key
-- (the plans made per call cost more than running them: h17b, N = 2,000 change run).
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_count integer;
  v_ids uuid[];
  v_invalid boolean;
begin
  if p_patches is null or jsonb_typeof(p_patches) <> 'array' then
    raise exception 'Cannot update source bookkeeping: p_patches must be a JSON array'
      using errcode = '22023';
  end if;
  -- One pass: whether every patch has its keys, and the ids as an array (`id = any (v_ids)`
  -- is a primary-key lookup whatever the table's size; a join with jsonb_array_elements,
  -- estimated at 100 rows, was planned as a sequential scan of sources once they were many:
  -- h16b, bench_queue at 10,000 sources).
  select coalesce(bool_or(jsonb_typeof(e) <> 'object' or not (e ? 'id') or not (e ? 'last_checked_at')), false),
         array_agg(distinct (e ->> 'id')::uuid) filter (where jsonb_typeof(e) = 'object')
    into v_invalid, v_ids
  from jsonb_array_elements(p_patches) as e;
  if v_invalid then
    raise exception 'Cannot update source bookkeeping: every patch needs id and last_checked_at'
      using errcode = '22023';
  end if;
  -- A snapshot's hash moves one source, with that source's patch (record_snapshot).
  if (p_last_hash is not null or p_last_snapshot_id is not null)
     and (jsonb_array_length(p_patches) <> 1 or p_last_hash is null or p_last_snapshot_id is null) then
    raise exception 'Cannot update source bookkeeping: a snapshot (hash and id) goes with exactly one patch'
      using errcode = '22023';
  end if;

  -- The rows are updated, and so locked, in id order (the patches come sorted by id and the
  -- plan, generic, drives the update from them), so two batches (or a batch and
  -- record_snapshot) never wait on each other in a cycle. (A separate `select … for update`
  -- pass in id order wrote each row's lock before the update wrote the row: ~45 % of the
  -- call, 64 patches 6.4–7.2 → 3.9 ms in psql.)
  with patches as (
    -- The last patch of a source in the batch wins.
    select distinct on ((e->>'id')::uuid) (e->>'id')::uuid as id, e as p
    from jsonb_array_elements(p_patches) with ordinality as t(e, ord)
    order by (e->>'id')::uuid, ord desc
  )
  update public.sources s set
    -- (the snapshot's hash and id: record_snapshot's one write of the row)
    last_hash = coalesce(p_last_hash, s.last_hash),
    last_snapshot_id = coalesce(p_last_snapshot_id, s.last_snapshot_id),
    last_checked_at = (x.p->>'last_checked_at')::timestamptz,
    last_success_at = case when x.p ? 'last_success_at'
      then (x.p->>'last_success_at')::timestamptz else s.last_success_at end,
    etag = case when x.p ? 'etag' then x.p->>'etag' else s.etag end,
    last_modified = case when x.p ? 'last_modified' then x.p->>'last_modified' else s.last_modified end,
    last_error = case when x.p ? 'last_error' then x.p->>'last_error' else s.last_error end,
    last_error_class = case when x.p ? 'last_error_class'
      then x.p->>'last_error_class' else s.last_error_class end,
    consecutive_failures = case when x.p ? 'consecutive_failures'
      then (x.p->>'consecutive_failures')::integer else s.consecutive_failures end,
    text_key = case when x.p ? 'text_key' then x.p->>'text_key' else s.text_key end
  from patches x
  where s.id = any (v_ids) and s.id = x.id
    -- A late patch (an invocation whose lease expired) never overwrites a newer check.
    and (s.last_checked_at is null or (x.p->>'last_checked_at')::timestamptz >= s.last_checked_at);
  get diagnostics v_count = row_count;
  return v_count;
end $$;
comment on function private.apply_source_bookkeeping(jsonb, text, uuid) is 'update_source_bookkeeping''s patches (see there), and with p_last_hash and p_last_snapshot_id (one patch only) also a recorded snapshot''s hash and id in the same row write: record_snapshot writes its source once (a late patch, older than the row''s last_checked_at, writes nothing: record_snapshot then moves the hash alone). Returns the number of sources updated.';
revoke all on function private.apply_source_bookkeeping(jsonb, text, uuid) from public;

create or replace function public.update_source_bookkeeping(p_patches jsonb)
returns integer
language sql security definer set search_path = '' as $$
  select private.apply_source_bookkeeping(p_patches)
$$;
comment on function public.update_source_bookkeeping(jsonb) is 'Applies many source bookkeeping patches in one call: a JSON array of {id, last_checked_at, last_success_at?, etag?, last_modified?, last_error?, last_error_class?, consecutive_failures?, text_key?}; keys left out keep their value. A patch older than the row''s last_checked_at is skipped. Returns the number of sources updated.';

-- ---------------------------------------------------------------------------
-- The lock that serialises the writers of one source (record_snapshot, and the alert
-- engine's record_source_health): what the caller checks after it sees every earlier write.
create or replace function private.lock_source(p_source_id uuid, p_not_found text)
returns public.sources
language plpgsql set search_path = '' as $$
declare v_source public.sources;
begin
  select * into v_source from public.sources where id = p_source_id for update;
  if not found then
    raise exception using message = format(p_not_found, p_source_id), errcode = 'P0002';
  end if;
  return v_source;
end $$;
comment on function private.lock_source(uuid, text) is 'Locks a source''s row for the rest of the transaction and returns it; raises P0002 with format(p_not_found, p_source_id) when there is none.';
revoke all on function private.lock_source(uuid, text) from public;

-- ---------------------------------------------------------------------------
create or replace function private.policy_change_json(p_change_id uuid) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('id', c.id, 'source_id', c.source_id, 'snapshot_id', c.snapshot_id,
    'previous_snapshot_id', c.previous_snapshot_id, 'detected_at', c.detected_at,
    'diff', c.diff, 'summary', c.summary)
  from public.policy_changes c where c.id = p_change_id
$$;
comment on function private.policy_change_json(uuid) is 'The policy change row as the job delivers it (the columns of shared/store/rows.ts POLICY_CHANGE_COLUMNS), or null: record_snapshot answers with it, so the job does not read back the change it just wrote.';
revoke all on function private.policy_change_json(uuid) from public;

-- ---------------------------------------------------------------------------
create or replace function public.record_snapshot(
  p_source_id uuid,
  p_fetch_id uuid,
  p_previous_hash text,
  p_content_hash text,
  p_content text,
  p_content_type text,
  p_diff text,
  p_summary jsonb,
  p_fetched_at timestamptz,
  p_bookkeeping jsonb,
  p_queue_alerts boolean default false
) returns jsonb
-- Generic plans: every statement reads or writes by a key (source, fetch, snapshot).
language plpgsql security definer set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_source public.sources;
  v_snapshot public.snapshots;
  v_change_id uuid;
  v_alerts jsonb;
  v_replayed boolean;
begin
  -- The idempotency check and the previous-hash check below see every earlier write.
  v_source := private.lock_source(p_source_id, 'Cannot record snapshot: source %s not found');

  -- A retry of the same fetch returns what the first call wrote, and writes nothing.
  select * into v_snapshot from public.snapshots where fetch_id = p_fetch_id;
  v_replayed := found;
  if v_replayed then
    if v_snapshot.source_id <> p_source_id then
      raise exception 'Cannot record snapshot: fetch % belongs to source %, not %',
        p_fetch_id, v_snapshot.source_id, p_source_id using errcode = '22023';
    end if;
    select id into v_change_id from public.policy_changes where snapshot_id = v_snapshot.id;
  else
    if v_source.last_hash is distinct from p_previous_hash then
      raise exception 'Cannot record snapshot of source %: last_hash is % but the fetch compared against %',
        p_source_id, coalesce(v_source.last_hash, 'null'), coalesce(p_previous_hash, 'null')
        using errcode = 'PT409', hint = 'Another writer recorded a snapshot meanwhile; fetch again.';
    end if;
    if p_content_hash is not distinct from p_previous_hash then
      raise exception 'Cannot record snapshot of source %: the content did not change', p_source_id
        using errcode = '22023';
    end if;
    if p_previous_hash is not null and p_diff is null then
      raise exception 'Cannot record policy change of source %: diff is missing', p_source_id
        using errcode = '22023';
    end if;

    insert into public.snapshots (source_id, fetch_id, content_hash, content, content_type, fetched_at)
    values (p_source_id, p_fetch_id, p_content_hash, p_content, p_content_type,
            coalesce(p_fetched_at, now()))
    returning * into v_snapshot;

    if p_previous_hash is not null then
      insert into public.policy_changes (source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary)
      values (p_source_id, v_snapshot.id, v_source.last_snapshot_id, coalesce(p_fetched_at, now()),
              p_diff, coalesce(p_summary, '{}'::jsonb))
      returning id into v_change_id;
    end if;

    -- The source's row is written once: its bookkeeping patch and the snapshot's hash together
    -- (two updates of the row cost ~0.4 ms more per snapshot: a baseline run records one per
    -- source); a late patch leaves the bookkeeping as it is and the hash moves alone.
    if p_bookkeeping is null or private.apply_source_bookkeeping(
         jsonb_build_array(p_bookkeeping || jsonb_build_object('id', p_source_id)),
         p_content_hash, v_snapshot.id) = 0 then
      update public.sources
        set last_hash = p_content_hash, last_snapshot_id = v_snapshot.id
        where id = p_source_id;
    end if;
  end if;

  -- The change's outbox rows, in the change's transaction (what enqueue_policy_change_alerts
  -- queues, due at the fetch's time); on a replay they are queued already: nothing is added
  -- and every row of the change is returned.
  if p_queue_alerts and v_change_id is not null then
    v_alerts := private.queue_alerts('policy_change', v_change_id, null, p_source_id, null,
      coalesce(p_fetched_at, now()), null, null);
  end if;

  return jsonb_build_object('snapshot_id', v_snapshot.id, 'policy_change_id', v_change_id,
    'baseline', v_change_id is null, 'replayed', v_replayed,
    'policy_change', private.policy_change_json(v_change_id), 'alerts', v_alerts);
end $$;
comment on function public.record_snapshot(uuid, uuid, text, text, text, text, text, jsonb, timestamptz, jsonb, boolean) is 'In one transaction: inserts a snapshot, the policy change from the previous snapshot (none for a baseline, when p_previous_hash is null), moves sources.last_hash / last_snapshot_id and applies the bookkeeping patch; with p_queue_alerts, also queues the change''s alerts as enqueue_policy_change_alerts does (one pending row per active subscription of the source or of all sources, due at p_fetched_at), so that the job needs no request of its own for them. Idempotent on p_fetch_id (a retry returns the first write''s ids with replayed = true). Fails with PT409 (HTTP 409) when the source''s last_hash is no longer p_previous_hash. Returns {snapshot_id, policy_change_id, baseline, replayed, policy_change, alerts} (policy_change: the change row, what alert delivery needs, or null for a baseline; alerts: with p_queue_alerts and a change, every alert row of the change as enqueue_policy_change_alerts returns them, a replay included; else null).';

-- ---------------------------------------------------------------------------
select private.service_role_only(array[
  'public.update_source_bookkeeping(jsonb)',
  'public.record_snapshot(uuid, uuid, text, text, text, text, text, jsonb, timestamptz, jsonb, boolean)'
]::regprocedure[]);
