-- The daily-fetch job's database side: a run is data (job_runs + one job_run_sources
-- work item per source), invocations claim items with `for update skip locked` and a
-- lease, complete them in batches (counters move, so Studio shows progress; the sources'
-- bookkeeping is written in the same call: one write per batch), and the last completed
-- item finalises the run exactly once. Only one running run per job (unique index
-- job_runs_one_running). Starting a run first expires runs past their deadline and
-- finalises running runs with no item left, so they never block the job with 409.
-- Claims stay cheap at 20,000 items: no sort of the run's pending items per claim (any
-- order will do; `skip locked` keeps invocations apart) and invocations are counted
-- through a small keyed table (private.run_invocations) instead of a scan of the items.
-- Called by the edge function with the service-role key.

-- ---------------------------------------------------------------------------
create table if not exists public.job_runs (
  id uuid primary key default gen_random_uuid(),
  job_name text not null default 'daily-fetch',
  trigger text not null check (trigger in ('cron', 'manual')),
  status text not null default 'running' check (status in ('running', 'succeeded', 'partial', 'failed')),
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  deadline_at timestamptz not null default now() + interval '2 hours',
  options jsonb not null default '{}'::jsonb,
  total_items integer not null default 0 check (total_items >= 0),
  sources_processed integer not null default 0 check (sources_processed >= 0),
  sources_succeeded integer not null default 0 check (sources_succeeded >= 0),
  sources_failed integer not null default 0 check (sources_failed >= 0),
  sources_skipped integer not null default 0 check (sources_skipped >= 0),
  changes_detected integer not null default 0 check (changes_detected >= 0),
  alerts_sent integer not null default 0 check (alerts_sent >= 0),
  errors jsonb not null default '[]'::jsonb check (jsonb_typeof(errors) = 'array'),
  invocations integer not null default 0 check (invocations >= 0),
  constraint job_runs_completed check ((status = 'running') = (completed_at is null))
);
select private.describe('public.job_runs',
  'One row per run of a job (daily-fetch). Counters move while the run works, so Studio shows progress.',
  jsonb_build_object(
    'id', 'Run id (run_id in the API).',
    'job_name', 'Job name, e.g. daily-fetch.',
    'trigger', 'cron (pg_cron) or manual (API call).',
    'status', 'running, succeeded, partial (some sources failed) or failed.',
    'started_at', 'When the run started.',
    'completed_at', 'When the run was finalised; null while running.',
    'deadline_at', 'A run still running after this is finalised failed by the watchdog.',
    'options', 'Options of the call: force, source_ids.',
    'total_items', 'Number of sources the run had to look at.',
    'sources_processed', 'Sources fetched (succeeded + failed).',
    'sources_succeeded', 'Sources fetched successfully.',
    'sources_failed', 'Sources whose fetch failed.',
    'sources_skipped', 'Active sources not due by check_frequency.',
    'changes_detected', 'Policy changes recorded by the run.',
    'alerts_sent', 'Alerts delivered by the run.',
    'errors', 'Error messages, e.g. "source <id> (<name>): timeout: ...".',
    'invocations', 'How many function invocations worked on the run.'));
create unique index if not exists job_runs_one_running on public.job_runs (job_name) where status = 'running';
create index if not exists job_runs_started_idx on public.job_runs (job_name, started_at desc);
select private.expose_table('public.job_runs', p_admin_read => true);

create table if not exists public.job_run_sources (
  run_id uuid not null references public.job_runs (id) on delete cascade,
  source_id uuid not null references public.sources (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'claimed', 'succeeded', 'failed', 'skipped')),
  changed boolean not null default false,
  baseline boolean not null default false,
  policy_change_id uuid references public.policy_changes (id) on delete set null,
  error_class text,
  error_message text,
  duration_ms integer check (duration_ms is null or duration_ms >= 0),
  attempts integer not null default 0 check (attempts >= 0),
  lease_until timestamptz,
  claimed_by text,
  finished_at timestamptz,
  fetch_id uuid not null default gen_random_uuid(),
  host text not null default '',
  slot integer,
  content jsonb,
  primary key (run_id, source_id)
);
select private.describe('public.job_run_sources',
  'Per-run, per-source work item and outcome of a job run.',
  jsonb_build_object(
    'run_id', 'Run.',
    'source_id', 'Source.',
    'status', 'pending, claimed (being worked on), succeeded, failed or skipped.',
    'changed', 'True when a policy change was recorded.',
    'baseline', 'True when this fetch stored the first snapshot of the source.',
    'policy_change_id', 'Recorded change, if any.',
    'error_class', 'Error class of a failure (a source error class, alert, or poison: every attempt''s invocation died).',
    'error_message', 'Readable error message of a failure; while an item is retried after a dead invocation, why (private.job_lost_claim).',
    'duration_ms', 'Time spent on the source.',
    'attempts', 'How many times the item was claimed.',
    'lease_until', 'A claimed item whose lease expired is claimed again, at most as many times as the job allows (attempts); after the last one it fails with class poison.',
    'claimed_by', 'Invocation that holds the lease.',
    'finished_at', 'When the outcome was written.',
    'host', 'Host of the source''s URL (private.url_host): claims keep every host under its per-host limit across all invocations of the run.',
    'slot', 'Which of its host''s request slots (1 … per-host limit) the claim put the item in: a host has at most that many slots in use (items claimed with a live lease) across all invocations, and one invocation runs the items of a slot one after the other, so the next one starts as soon as the previous one ends (no claim round trip in between). Null on a claimed item whose requests are over (job_slot_release): its slot is free.',
    'content', 'What was monitored, when the body was read: {found_by (the source''s CSS selector, the element taken as the main content, or the document kind), chars (length of the normalised text)}; shows a blind spot.',
    'fetch_id', 'Idempotency key of this item''s fetch: a snapshot written with it belongs to this item, so a re-claimed item never records a second change.'));
-- The run's open items only (an item leaves it when it is finished), one entry per item
-- (source_id in the key: an entry of a claimed or finished item is marked dead by the next
-- scan that passes it and not read again, where a shared key would keep it in a list with
-- live ones until the next vacuum). What a claim or a completion reads of it does not grow
-- with the items a run holds: a host's queue (its pending items, next ones first, in
-- source_id order), its claimed items (its slots in use, with live leases, and the claims
-- whose invocation died) and whether any item is left.
create index if not exists job_run_sources_open_idx
  on public.job_run_sources (run_id, status, host, source_id)
  where status in ('pending', 'claimed');
-- Deleting a source or a policy change checks these foreign keys: without the indexes each
-- one scanned the whole run history. run_id second: a lookup of one item by (run_id,
-- source_id) finds one entry whichever of this index and the primary key the generic plan
-- takes (it took this one, then read the source's items of every run kept, 30 days of them).
create index if not exists job_run_sources_source_idx on public.job_run_sources (source_id, run_id);
create index if not exists job_run_sources_change_idx on public.job_run_sources (policy_change_id)
  where policy_change_id is not null;
select private.expose_table('public.job_run_sources', p_admin_read => true);

create table if not exists private.run_invocations (
  run_id uuid not null references public.job_runs (id) on delete cascade,
  invocation_id text not null,
  first_claim_at timestamptz not null default now(),
  primary key (run_id, invocation_id)
);
select private.describe('private.run_invocations',
  'Invocations that claimed items of a run (job_runs.invocations counts them).',
  jsonb_build_object(
    'run_id', 'Run.',
    'invocation_id', 'Invocation id passed to job_claim_items.',
    'first_claim_at', 'When the invocation first claimed items.'));
alter table private.run_invocations enable row level security;

-- A run's open items are counted, not looked for: total_items - sources_skipped -
-- sources_processed, less the open items whose source was deleted while the run ran (their
-- work item goes with them: counted here by a trigger). Whether a run is finished, and how
-- many items are left, then costs the same whatever a run holds.
create table if not exists private.run_items_gone (
  run_id uuid primary key references public.job_runs (id) on delete cascade,
  items integer not null default 0 check (items >= 0)
);
select private.describe('private.run_items_gone',
  'Open work items (pending or claimed) of a running run whose source was deleted (on delete cascade): the run''s open items are total_items - sources_skipped - sources_processed - items (private.job_open_items).',
  jsonb_build_object(
    'run_id', 'Run.',
    'items', 'How many of its open items went with their sources.'));
alter table private.run_items_gone enable row level security;

create or replace function private.job_item_gone() returns trigger
language plpgsql security definer set search_path = '' as $$
-- security definer: whoever deletes a source (the service role, an operator through the API)
-- has no right on schema private.
begin
  -- Only a running run counts its open items (a run being deleted is no longer found).
  if exists (select 1 from public.job_runs r where r.id = old.run_id and r.status = 'running') then
    insert into private.run_items_gone as g (run_id, items) values (old.run_id, 1)
    on conflict (run_id) do update set items = g.items + 1;
  end if;
  return null;
end $$;
comment on function private.job_item_gone() is 'Trigger of job_run_sources: an open item deleted (its source was deleted mid-run) is counted in private.run_items_gone, so the run''s open count stays exact.';
revoke all on function private.job_item_gone() from public;

create or replace trigger job_run_sources_gone after delete on public.job_run_sources
  for each row when (old.status in ('pending', 'claimed'))
  execute function private.job_item_gone();

create or replace function private.job_open_items(p_run public.job_runs) returns integer
language sql stable set search_path = '' as $$
  select case when p_run.status <> 'running' then 0
    else p_run.total_items - p_run.sources_skipped - p_run.sources_processed
         - coalesce((select g.items from private.run_items_gone g where g.run_id = p_run.id), 0)
    end
$$;
comment on function private.job_open_items(public.job_runs) is 'Items of the run not finished yet (pending or claimed), from its counters: 0 once it is finalised.';
revoke all on function private.job_open_items(public.job_runs) from public;

create table if not exists private.run_hosts (
  run_id uuid not null references public.job_runs (id) on delete cascade,
  host text not null,
  not_before timestamptz not null default '-infinity',
  max_in_flight integer check (max_in_flight is null or max_in_flight >= 1),
  delay_ms integer not null default 0 check (delay_ms >= 0),
  slowed_at timestamptz,
  items integer not null default 0 check (items >= 0),
  primary key (run_id, host)
);
select private.describe('private.run_hosts',
  'Per-run, per-host politeness state shared by all invocations of a run: job_claim_items locks a host''s row while it claims its items, so no host ever has more items in flight than its limit, and the next start respects the politeness delay.',
  jsonb_build_object(
    'run_id', 'Run.',
    'host', 'Host (private.url_host of the sources'' URLs).',
    'not_before', 'No item of this host is claimed before this (politeness delay, Retry-After); infinity once the host has no item left.',
    'max_in_flight', 'Per-host limit lowered for the rest of the run (1 after a 429/503 with Retry-After); null: FETCH_PER_HOST_CONCURRENCY.',
    'delay_ms', 'Politeness delay raised for the rest of the run by a Retry-After (the larger of this and FETCH_POLITENESS_DELAY_MS applies).',
    'slowed_at', 'When a 429/503 with Retry-After last slowed this host.',
    'items', 'How many of the run''s due items are on this host (job_add_items): a host holding at least 1/16 of them is the run''s bottleneck, and only such a host has its request slots hold more than one item of a claimer (job_claim_items p_slot_depth).'));
create index if not exists run_hosts_due_idx on private.run_hosts (run_id, not_before);
alter table private.run_hosts enable row level security;

create or replace function private.url_host(p_url text) returns text
language sql immutable set search_path = '' as $$
  -- host[:port] of the URL, lower case, without user info; the default port is left out
  -- as WHATWG URL's `host` does.
  select case
    when lower(p_url) like 'http://%' then regexp_replace(x.h, ':80$', '')
    when lower(p_url) like 'https://%' then regexp_replace(x.h, ':443$', '')
    else x.h end
  from (select lower(coalesce(
    substring(p_url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#]*@)?([^/?#]*)'), '')) as h) x
$$;
comment on function private.url_host(text) is 'Host key of a URL for the per-host limits of a run: host[:port], lower case, without user info or default port.';

create or replace view public.job_run_history with (security_invoker = true) as
select r.id as run_id, r.job_name, r.trigger, r.status, r.started_at, r.completed_at,
       coalesce(r.completed_at, now()) - r.started_at as duration,
       r.total_items, r.sources_processed, r.sources_succeeded, r.sources_failed,
       r.sources_skipped, r.changes_detected, r.alerts_sent,
       jsonb_array_length(r.errors) as error_count
from public.job_runs r
order by r.started_at desc;
select private.describe('public.job_run_history',
  'Runs of the jobs, newest first, with duration and counts: read this in Studio.',
  jsonb_build_object(
    'run_id', 'Run id.',
    'job_name', 'Job name.',
    'trigger', 'cron or manual.',
    'status', 'running, succeeded, partial or failed.',
    'started_at', 'Start.',
    'completed_at', 'End.',
    'duration', 'completed_at - started_at (so far, while running).',
    'total_items', 'Sources looked at.',
    'sources_processed', 'Sources fetched.',
    'sources_succeeded', 'Sources fetched successfully.',
    'sources_failed', 'Sources that failed.',
    'sources_skipped', 'Sources not due.',
    'changes_detected', 'Changes recorded.',
    'alerts_sent', 'Alerts delivered.',
    'error_count', 'Number of errors.'));
grant select, insert, update, delete on table public.job_run_history to anon, authenticated, service_role;

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

-- ---------------------------------------------------------------------------
create or replace function public.job_add_items(
  p_run_id uuid, p_due uuid[], p_skipped uuid[]
) returns public.job_runs
language plpgsql security definer set search_path = '' as $$
declare
  v_run public.job_runs;
  v_due integer;
  v_skipped integer;
begin
  -- Items may come in chunks (large runs): each chunk adds its items to their hosts' counts
  -- and to the run's (what it inserted, not a count of the run's items: a chunk costs the
  -- same however many came before it).
  with added as (
    insert into public.job_run_sources (run_id, source_id, status, host)
    select p_run_id, src.id, 'pending', private.url_host(src.url)
    from unnest(coalesce(p_due, '{}')) as d(id)
    join public.sources src on src.id = d.id
    on conflict do nothing
    returning host
  ), hosts as (
    insert into private.run_hosts as h (run_id, host, items)
    select p_run_id, a.host, count(*)::int from added a group by a.host
    on conflict (run_id, host) do update set
      items = h.items + excluded.items,
      not_before = case when h.not_before = 'infinity' then '-infinity' else h.not_before end
  )
  select count(*)::int into v_due from added;
  insert into public.job_run_sources (run_id, source_id, status, finished_at)
  select p_run_id, id, 'skipped', now() from unnest(coalesce(p_skipped, '{}')) as id
  on conflict do nothing;
  get diagnostics v_skipped = row_count;
  update public.job_runs r set
    total_items = r.total_items + v_due + v_skipped,
    sources_skipped = r.sources_skipped + v_skipped
  where r.id = p_run_id
  returning * into v_run;
  return v_run;
end $$;
comment on function public.job_add_items(uuid, uuid[], uuid[]) is 'Adds the work items of a run: due sources pending (with their host, and a private.run_hosts row per host), the others skipped; sets total_items and sources_skipped.';

-- ---------------------------------------------------------------------------
-- Plans. A statement of a plpgsql function is planned again at every call unless its
-- generic plan (planned once per connection) looks no dearer than the plans made for the
-- call's values, and for most of the queue's statements it does not: the claim's host loop
-- replanned ~17 statements per claim, its answer ~3 ms of planning per claim (h17b,
-- pg_stat_statements.track_planning, N = 2,000 change run). The queue's functions whose
-- every statement reads by a key (a primary key, or job_run_sources_open_idx's run, status
-- and host) plan once: `set plan_cache_mode = force_generic_plan`, which holds for the
-- functions they call too. Their statements are written so that the generic plan is the
-- one wanted at any size: a set of items is joined to job_run_sources on its primary key
-- (a nested loop over the set: checked with EXPLAIN at 20,000 and 100,000 items with old
-- runs' items beside them). And `set enable_seqscan = off`: a generic plan is made with the
-- statistics of the moment, and statistics taken while job_run_sources was nearly empty (a
-- new project, after a prune, the bench between its runs) made the full-hosts hint of
-- job_complete_and_claim a sequential scan of the run's items for each of its 64 hosts
-- (43 ms a claim instead of 1.6 at N = 2,000, and growing with the run); the queue's reads
-- all have an index, so they take it whatever the statistics say (docs/benchmarks.md,
-- "Plans that do not depend on statistics, session 10").

-- The claimed items as the job gets them (job_claim_items' answer), claimed by primary key.
create or replace function private.job_claim_answer(
  p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamptz,
  p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]
) returns jsonb
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare v_items jsonb;
begin
  with picked as (
    select p_run_id as run_id, t.source_id, t.start_in_ms, t.slot
    from unnest(p_ids, p_starts, p_slots) as t(source_id, start_in_ms, slot)
  ), claimed as (
    update public.job_run_sources s set
      status = 'claimed', attempts = s.attempts + 1, claimed_by = p_claimed_by, slot = p.slot,
      lease_until = p_now + make_interval(secs => (p_lease_ms + p.start_in_ms) / 1000.0),
      -- A claim taken over from a dead invocation keeps why the item is tried again.
      error_message = case when s.status = 'claimed' then private.job_lost_claim(s) end
    from picked p
    -- by primary key: a nested loop over the picked items, whatever the run holds
    where s.run_id = p_run_id and s.source_id = p.source_id
    returning s.*, p.start_in_ms
  ), handed as (
    select c.*, false as poisoned from claimed c
    union all
    -- Failed just now: returned (marked) so the job sends their source-failing alerts.
    -- (by primary key: a source's items of other runs, a year of them, are not looked at)
    select s.*, null::integer, true from unnest(p_poisoned) as p(source_id)
    join public.job_run_sources s on s.run_id = p_run_id and s.source_id = p.source_id
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'source', jsonb_build_object(
        'id', src.id, 'name', src.name, 'url', src.url, 'active', src.active,
        'check_frequency', src.check_frequency, 'css_selector', src.css_selector,
        'ignore_patterns', to_jsonb(src.ignore_patterns), 'render', src.render,
        'etag', src.etag,
        'last_modified', src.last_modified, 'last_hash', src.last_hash, 'text_key', src.text_key,
        'last_snapshot_id', src.last_snapshot_id, 'last_checked_at', src.last_checked_at,
        'last_success_at', src.last_success_at,
        'consecutive_failures', src.consecutive_failures,
        'failing_alerted', src.failing_alerted),
      'attempt', c.attempts,
      'fetch_id', c.fetch_id,
      'lease_until', c.lease_until,
      'prior_policy_change_id', pc.id,
      'prior_snapshot_id', sn.id,
      'start_in_ms', coalesce(c.start_in_ms, 0),
      'host', c.host,
      'slot', c.slot,
      'poisoned', c.poisoned) order by c.poisoned desc, c.start_in_ms, c.source_id), '[]'::jsonb)
  into v_items
  from handed c
  -- One primary-key or unique-key probe per item, whatever the tables hold: as plain joins
  -- the generic plan hashed the whole of sources (and snapshots) for a claim of 16 items
  -- (`limit 1` keeps each lookup a parameterised probe). Only an item claimed before (or
  -- failed as poison) can have a snapshot of its fetch already.
  cross join lateral (select * from public.sources s1 where s1.id = c.source_id limit 1) src
  left join lateral (select s2.id from public.snapshots s2
                     where (c.poisoned or c.attempts > 1) and s2.fetch_id = c.fetch_id
                     limit 1) sn on true
  left join lateral (select p1.id from public.policy_changes p1 where p1.snapshot_id = sn.id
                     limit 1) pc on true;
  return v_items;
end $$;
comment on function private.job_claim_answer(uuid, text, integer, timestamptz, uuid[], integer[], integer[], uuid[]) is 'Last step of private.job_claim_next: marks the picked items claimed (p_starts: start_in_ms, p_slots: request slot, per item) and returns them with the poison items just failed (p_poisoned), as job_claim_items answers.';
revoke all on function private.job_claim_answer(uuid, text, integer, timestamptz, uuid[], integer[], integer[], uuid[]) from public;

-- The claim proper, after the poison items were failed (p_poisoned: their sources, returned
-- marked). job_complete_and_claim fails them before it records its outcomes: a poison item
-- that was the run's last open one finalises the run with counters that include them.
create or replace function private.job_claim_next(
  p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer,
  p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer,
  p_poisoned uuid[]
) returns jsonb
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_poisoned uuid[] := coalesce(p_poisoned, '{}');
  v_left integer := greatest(p_limit, 0);
  v_host record;
  v_cap integer;
  v_delay integer;
  v_slots integer[];
  v_used integer[];
  v_mine integer[];
  v_mine_used integer[];
  v_busy integer;
  v_free integer;
  v_depth integer;
  v_ids uuid[] := '{}';
  v_starts integer[] := '{}';
  v_item_slots integer[] := '{}';
  v_got uuid[];
  v_now timestamptz := clock_timestamp();
  v_bottleneck boolean;
  v_holds_bottleneck boolean := false;
  v_full text[];
begin
  if p_slot_depth is null or p_slot_depth < 1 then
    raise exception 'Cannot claim items of run %: p_slot_depth must be at least 1', p_run_id
      using errcode = '22023';
  end if;
  if p_max_attempts is null or p_max_attempts < 1 then
    raise exception 'Cannot claim items of run %: p_max_attempts must be at least 1', p_run_id
      using errcode = '22023';
  end if;
  -- Per-host limits across all invocations: a host's row is locked while its items are
  -- claimed (another claimer skips it), its in-flight count is read under that lock, and
  -- its next start moves by the politeness delay. Only hosts due now are looked at, the
  -- hosts holding the most items first: the run's bottleneck (the largest host sets its
  -- floor) is never left waiting while a claim's room goes to hosts that can wait.
  -- Hosts whose request slots are all in use are not locked and read one by one: on many
  -- equal hosts a claim walked ~23 mostly full ones from the same start (the lock alone is
  -- a row write). One look at the run's claimed items (the open index's claimed range: as
  -- long as the slots in use) lists them first (v_full). It is a hint, read without the
  -- hosts' locks: what a claim takes is still decided under each host's lock below, and a
  -- host that frees a slot meanwhile waits for the next claim. A host where this claimer
  -- holds a slot stays in (its slots may have room for queued items: p_slot_depth).
  select coalesce(array_agg(b.host), '{}') into v_full
  from (
    select i.host, count(distinct i.slot)::int as slots,
           bool_or(i.claimed_by = p_claimed_by) as mine
    from public.job_run_sources i
    where i.run_id = p_run_id and i.status = 'claimed' and i.lease_until >= v_now
      and i.slot is not null
    group by i.host
  ) b
  join private.run_hosts h on h.run_id = p_run_id and h.host = b.host
  where not b.mine
    and b.slots >= least(coalesce(p_per_host, 2147483647), coalesce(h.max_in_flight, 2147483647));
  for v_host in
    select h.host, h.max_in_flight, h.delay_ms, h.not_before, h.items,
           r.total_items - r.sources_skipped as due
    from private.run_hosts h
    join public.job_runs r on r.id = h.run_id and r.status = 'running'
    where h.run_id = p_run_id and h.not_before <= v_now and h.host <> all (v_full)
    order by h.items desc, h.not_before, h.host
    for update of h skip locked
  loop
    exit when v_left <= 0;
    -- A host holding at least 1/16 of the run's items is the run's bottleneck (its pages
    -- set the run's floor). A claimer holding request slots of a bottleneck host takes no
    -- items of the other hosts while another invocation works on those: its budget goes to
    -- the bottleneck, so the bottleneck's slots pass to another invocation (idle meanwhile)
    -- as seldom as the budgets allow. Hosts come largest first: the bottlenecks are past.
    v_bottleneck := v_host.items * 16 >= v_host.due;
    exit when not v_bottleneck and v_holds_bottleneck and exists (
      select 1 from public.job_run_sources s
      join private.run_hosts o on o.run_id = s.run_id and o.host = s.host
      where s.run_id = p_run_id and s.status = 'claimed' and s.lease_until >= v_now
        and s.claimed_by <> p_claimed_by and o.items * 16 < v_host.due);
    v_cap := least(coalesce(p_per_host, 2147483647), coalesce(v_host.max_in_flight, 2147483647));
    v_delay := greatest(coalesce(p_delay_ms, 0), v_host.delay_ms);
    -- The host's request slots with room for this claimer, one entry per free place, round
    -- robin: while the host is within its cap, this claimer's own slots (what its items
    -- there leave of p_slot_depth), and as many unused slots as the cap leaves (p_slot_depth
    -- places each). A claimed item with a live lease holds its slot; read under the host
    -- row's lock, so two claimers never take the same slot.
    -- (A claimed item without a slot made its last request: job_slot_release.)
    select coalesce(array_agg(s.slot), '{}'), count(*)::int,
           coalesce(array_agg(s.slot) filter (where s.mine), '{}'),
           coalesce(array_agg(s.used) filter (where s.mine), '{}')
      into v_used, v_busy, v_mine, v_mine_used
    from (
      select i.slot, count(*)::int as used, bool_and(i.claimed_by = p_claimed_by) as mine
      from public.job_run_sources i
      where i.run_id = p_run_id and i.host = v_host.host and i.status = 'claimed'
        and i.lease_until >= v_now and i.slot is not null
      group by i.slot
    ) s;
    v_free := least(greatest(v_cap - v_busy, 0), v_left);
    v_holds_bottleneck := v_holds_bottleneck or (v_bottleneck and cardinality(v_mine) > 0);
    -- With a politeness delay every start is scheduled (start_in_ms): an item queued behind
    -- a slow one in its slot would start late, close to the next scheduled start. One item
    -- per slot then (the delay, not the slot, bounds the host). Items are queued in a slot
    -- only on a host holding at least 1/16 of the run's items, the run's bottleneck (a
    -- queued item asks job_slot_start before it starts: a round trip the others are spared).
    v_depth := case when v_delay > 0 or v_host.items * 16 < v_host.due then 1
                    else p_slot_depth end;
    select coalesce(array_agg(n.slot order by n.place, n.slot), '{}') into v_slots
    from (
      select m.slot, generate_series(m.used + 1, v_depth) as place
      from unnest(v_mine, v_mine_used) as m(slot, used)
      where v_busy <= v_cap
      union all
      select f.slot, generate_series(1, v_depth)
      from (select g.slot from generate_series(1, v_busy + v_free) as g(slot)
            where g.slot <> all (v_used) order by g.slot limit v_free) f
    ) n;
    continue when cardinality(v_slots) = 0;
    -- The host's next items, from the heads of its two ranges of job_run_sources_open_idx:
    -- first claims whose invocation died (lease expired), then pending items in index
    -- order; neither reads more of the run than the host's claimed items and what it takes.
    select array_agg(x.source_id) into v_got from (
      select s.source_id from public.job_run_sources s
      where s.run_id = p_run_id and s.status = 'claimed' and s.host = v_host.host
        and s.lease_until < v_now and s.attempts < p_max_attempts
      limit least(cardinality(v_slots), v_left)
      for update of s skip locked
    ) x;
    if coalesce(cardinality(v_got), 0) < least(cardinality(v_slots), v_left) then
      select coalesce(v_got, '{}') || array_agg(x.source_id) into v_got from (
        select s.source_id from public.job_run_sources s
        where s.run_id = p_run_id and s.status = 'pending' and s.host = v_host.host
        order by s.source_id
        limit least(cardinality(v_slots), v_left) - coalesce(cardinality(v_got), 0)
        for update of s skip locked
      ) x;
    end if;
    if coalesce(cardinality(v_got), 0) = 0 then
      -- Nothing claimable: a host with no open item is done for this run.
      if v_busy = 0
         and not exists (select 1 from public.job_run_sources s
           where s.run_id = p_run_id and s.host = v_host.host and s.status = 'pending')
         and not exists (select 1 from public.job_run_sources s
           where s.run_id = p_run_id and s.host = v_host.host and s.status = 'claimed') then
        update private.run_hosts set not_before = 'infinity'
        where run_id = p_run_id and host = v_host.host;
      end if;
      continue;
    end if;
    v_ids := v_ids || v_got;
    v_holds_bottleneck := v_holds_bottleneck or v_bottleneck;
    v_item_slots := v_item_slots || v_slots[1:cardinality(v_got)];
    -- The k-th item of this host starts k × delay from now (start_in_ms).
    v_starts := v_starts || array(select (g - 1) * v_delay from generate_series(1, cardinality(v_got)) g);
    v_left := v_left - cardinality(v_got);
    if v_delay > 0 then
      update private.run_hosts set
        not_before = v_now + make_interval(secs => cardinality(v_got) * v_delay / 1000.0)
      where run_id = p_run_id and host = v_host.host;
    end if;
  end loop;
  -- Count each invocation once (a primary key lookup, not a scan of the run's items),
  -- after the hosts' loop: the run's row is locked from here to the commit only.
  insert into private.run_invocations (run_id, invocation_id)
  select p_run_id, p_claimed_by where p_claimed_by is not null
  on conflict do nothing;
  if found then
    update public.job_runs set invocations = invocations + 1
    where id = p_run_id and status = 'running';
  end if;
  if cardinality(v_ids) = 0 and cardinality(v_poisoned) = 0 then
    return '[]'::jsonb;
  end if;
  return private.job_claim_answer(p_run_id, p_claimed_by, p_lease_ms, v_now, v_ids, v_starts,
    v_item_slots, v_poisoned);
end $$;
comment on function private.job_claim_next(uuid, text, integer, integer, integer, integer, integer, integer, uuid[]) is 'job_claim_items after its poison step: claims the items (p_poisoned: sources of the items just failed as poison, returned marked).';
revoke all on function private.job_claim_next(uuid, text, integer, integer, integer, integer, integer, integer, uuid[]) from public;

create or replace function public.job_claim_items(
  p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer,
  p_per_host integer default null, p_delay_ms integer default 0, p_max_attempts integer default 3,
  p_slot_depth integer default 1
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare v_poisoned uuid[];
begin
  -- Items whose last allowed claim died are finalised, not claimed again (this may
  -- finalise the run: they are still returned, marked, for their alerts).
  v_poisoned := private.job_fail_poison_items(p_run_id, p_max_attempts);
  return private.job_claim_next(p_run_id, p_claimed_by, p_limit, p_lease_ms, p_per_host,
    p_delay_ms, p_max_attempts, p_slot_depth, v_poisoned);
end $$;
comment on function public.job_claim_items(uuid, text, integer, integer, integer, integer, integer, integer) is 'Claims up to p_limit pending (or lease-expired) items of a running run for one invocation, with everything the pipeline needs (source, last hash, etag) in one round trip, keeping every host under p_per_host request slots in use (a slot holds up to p_slot_depth items of one claimer on a host holding at least 1/16 of the run''s items, one on the others and when the host has a politeness delay, claimed with a live lease, which it fetches one after the other, each queued one asking job_slot_start first; slot in each item) across all invocations and spacing its starts by the politeness delay (start_in_ms: wait this long before fetching). prior_policy_change_id is set when an earlier, dead claim already recorded this item''s change. An item is claimed at most p_max_attempts times (JOB_ITEM_MAX_ATTEMPTS): when the lease of its last claim expired, it is failed with class poison instead (private.job_fail_poison_items) and returned with poisoned = true (not to process: the job only sends its source-failing alert, as for any failure).';

-- ---------------------------------------------------------------------------
-- Poison items: an item whose invocation died (killed, out of memory, over its budget)
-- on each of its p_max_attempts claims would otherwise be claimed again after every
-- lease until the run's deadline, holding the job. It fails like any source instead:
-- outcome `failed`, class `poison` (job_complete_items moves the counters and finalises
-- the run when it was the last item) and the source's failure streak and last error move
-- (update_source_bookkeeping); job_claim_items returns the item marked poisoned, and the
-- job sends its source-failing alert as for any failure (record_source_health through the
-- alert engine). Rows are taken with `skip locked` (item and source), so this never waits
-- on, or deadlocks with, a batch being completed.
create or replace function private.job_lost_claim(p_item public.job_run_sources)
returns text
language sql stable set search_path = '' as $$
  select format('attempt %s by invocation %s stopped before finishing (its lease ended at %s)',
    p_item.attempts, coalesce(p_item.claimed_by, 'unknown'),
    to_char(p_item.lease_until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;
comment on function private.job_lost_claim(public.job_run_sources) is 'Why a claimed item whose lease expired is tried again: which attempt and invocation stopped, and when its lease ended (job_run_sources.error_message while it is retried; the last one is quoted in a poison failure).';
revoke all on function private.job_lost_claim(public.job_run_sources) from public;

create or replace function private.job_fail_poison_items(p_run_id uuid, p_max_attempts integer)
returns uuid[]
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_outcomes jsonb;
  v_patches jsonb;
  v_sources uuid[];
begin
  with poisoned as (
    select s.source_id, s.attempts, s as item, src.name, src.consecutive_failures
    from public.job_run_sources s
    join public.job_runs r on r.id = s.run_id and r.status = 'running'
    join public.sources src on src.id = s.source_id
    where s.run_id = p_run_id and s.status = 'claimed' and s.lease_until < now()
      and s.attempts >= p_max_attempts
    for update of s, src skip locked
  ), described as (
    select p.source_id, p.attempts, p.name, p.consecutive_failures, format(
      'gave up after %s attempts, each stopped before finishing (killed, out of memory or over its time budget); last error: %s',
      p.attempts, private.job_lost_claim(p.item)) as detail
    from poisoned p
  )
  select
    jsonb_agg(jsonb_build_object(
      'source_id', d.source_id, 'attempt', d.attempts, 'status', 'failed',
      'error_class', 'poison',
      'error_message', format('Cannot process source %s: %s', d.source_id, d.detail),
      'error_text', format('source %s (%s): poison: %s', d.source_id, d.name, d.detail))),
    jsonb_agg(jsonb_build_object(
      'id', d.source_id, 'last_checked_at', now(),
      'last_error', format('Cannot process source %s: %s', d.source_id, d.detail),
      'last_error_class', 'poison',
      'consecutive_failures', d.consecutive_failures + 1)),
    array_agg(d.source_id order by d.source_id)
  into v_outcomes, v_patches, v_sources
  from described d;
  if v_sources is null then
    return '{}';
  end if;
  perform public.update_source_bookkeeping(v_patches);
  perform public.job_complete_items(p_run_id, v_outcomes);
  return v_sources;
end $$;
comment on function private.job_fail_poison_items(uuid, integer) is 'Finalises as failed (class poison) every item of a running run whose lease expired after its p_max_attempts-th claim, with the source''s bookkeeping (failure streak, last error, last check). Called by job_claim_items. Returns the sources of the items it failed.';
revoke all on function private.job_fail_poison_items(uuid, integer) from public;

-- ---------------------------------------------------------------------------
create or replace function public.job_renew_leases(
  p_run_id uuid, p_claimed_by text, p_lease_ms integer
) returns integer
language plpgsql security definer set search_path = '' as $$
declare v_count integer;
begin
  if p_lease_ms is null or p_lease_ms < 1 then
    raise exception 'Cannot renew leases of run %: p_lease_ms must be at least 1', p_run_id
      using errcode = '22023';
  end if;
  -- Only items still claimed by this invocation: one another invocation claimed again (its
  -- lease had expired) or that is finished is not touched. A lease that expired but was not
  -- claimed again is renewed: its invocation is alive after all.
  update public.job_run_sources s set
    lease_until = greatest(s.lease_until, clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0))
  where s.run_id = p_run_id and s.status = 'claimed' and s.claimed_by = p_claimed_by;
  get diagnostics v_count = row_count;
  return v_count;
end $$;
comment on function public.job_renew_leases(uuid, text, integer) is 'Heartbeat of a live invocation (shared/jobs/lease_heartbeat.ts, every JOB_LEASE_RENEW_MS): extends to at least now + p_lease_ms the leases of the items of the run it still holds, so leases can be short and an expired one means its invocation died. Returns how many leases it renewed.';

-- ---------------------------------------------------------------------------
create or replace function public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer)
returns boolean
language plpgsql security definer set search_path = '' as $$
-- Bounded so that one URL's long Retry-After does not stall a run: the host is held for
-- at most 10 s and then spaced by at most 1 s (the fetcher gives up on longer waits).
declare v_wait integer := least(greatest(coalesce(p_retry_after_ms, 0), 0), 10000);
begin
  update private.run_hosts h set
    max_in_flight = 1,
    delay_ms = greatest(h.delay_ms, least(v_wait, 1000)),
    not_before = case when h.not_before = 'infinity' then h.not_before
                      -- the throttled request's own retry (the fetcher's, after Retry-After)
                      -- takes the first start; the next one waits a delay after it
                      else greatest(h.not_before, clock_timestamp()
                        + make_interval(secs => (v_wait + least(v_wait, 1000)) / 1000.0)) end,
    slowed_at = clock_timestamp()
  where h.run_id = p_run_id and h.host = private.url_host(p_url);
  return found;
end $$;
comment on function public.job_slow_host(uuid, text, integer) is 'A 429/503 with Retry-After from the host of p_url: for the rest of the run, every invocation claims that host''s items one at a time, at least min(Retry-After, 1 s) apart, the first one that long after the throttled request''s own retry (at min(Retry-After, 10 s)). Returns false when the host is not one of the run''s.';

-- ---------------------------------------------------------------------------
create or replace function public.job_slot_start(p_run_id uuid, p_host text)
returns integer
language plpgsql security definer set search_path = '' as $$
-- A slot's queued item (claimed behind another item of its claimer in the same request
-- slot) is about to start, now that the one before it ended: its host may have been slowed
-- since its claim by a 429/503 that another invocation got. Then its start is scheduled as
-- a claim's would be (the host's next start, not_before, moves a delay on), so it waits
-- out the Retry-After like every claim after the answer. An unslowed host is only read.
declare
  v_now timestamptz := clock_timestamp();
  v_start timestamptz;
  v_delay integer;
begin
  select greatest(h.not_before, v_now), h.delay_ms into v_start, v_delay
  from private.run_hosts h
  where h.run_id = p_run_id and h.host = p_host
    and h.slowed_at is not null and h.not_before <> 'infinity'
  for update;
  if v_start is null then
    return 0;
  end if;
  update private.run_hosts set not_before = v_start + make_interval(secs => v_delay / 1000.0)
  where run_id = p_run_id and host = p_host;
  return ceil(extract(epoch from v_start - v_now) * 1000)::integer;
end $$;
comment on function public.job_slot_start(uuid, text) is 'Asked by a request slot''s queued item of p_host (its claimer''s next in that slot) before it starts: ms to wait first. 0 unless a 429/503 with Retry-After slowed the host (job_slow_host); then the start is scheduled after the host''s next start (not_before), which moves a delay on, as for a claim.';

-- ---------------------------------------------------------------------------
create or replace function public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer)
returns boolean
language sql security definer set search_path = '' as $$
  -- The item made its last request to its host (its claimer will not queue another one in
  -- its slot): the slot is free for any claimer from now, before the item's extraction,
  -- snapshot write and completion. The item stays claimed (its lease, its outcome to come).
  update public.job_run_sources s set slot = null
  where s.run_id = p_run_id and s.source_id = p_source_id and s.status = 'claimed'
    and s.attempts = p_attempt and s.slot is not null
  returning true
$$;
comment on function public.job_slot_release(uuid, uuid, integer) is 'Frees the request slot of a claimed item (attempt p_attempt) whose requests are over, before its completion: the next claim of its host, by any invocation, may take the slot. Returns null when the item is not claimed by that attempt or holds no slot.';

-- ---------------------------------------------------------------------------
-- A completion in two steps, so that one round trip (job_complete_and_claim) can claim in
-- between: the items' outcomes first (their rows only), the run's counters last (its row
-- is the one every completion writes: locked from there to the commit, so that is kept short).
create or replace function private.job_record_outcomes(p_run_id uuid, p_outcomes jsonb)
returns jsonb
-- plpgsql, not sql: a SQL function's statement is planned anew at every call.
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare v_tally jsonb;
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
    -- by primary key: a nested loop over the outcomes, whatever the run holds. The claim is
    -- still ours: `(…) is true`, not a plain `s.status = 'claimed'`, which would let the
    -- generic plan scan the run's claimed items (job_run_sources_open_idx, estimated at a
    -- few rows) for each outcome.
    where s.run_id = p_run_id and s.source_id = o.source_id
      and (s.status = 'claimed') is true and s.attempts = o.attempt
      and o.status in ('succeeded', 'failed')
    returning o.*
  )
  select jsonb_build_object(
    'n', count(*),
    'ok', count(*) filter (where status = 'succeeded'),
    'failed', count(*) filter (where status = 'failed'),
    'changes', count(*) filter (where changed),
    'alerts', coalesce(sum(alerts_sent), 0),
    'errs', coalesce(jsonb_agg(error_text) filter (where error_text is not null), '[]'::jsonb))
  into v_tally
  from upd;
  return v_tally;
end $$;
comment on function private.job_record_outcomes(uuid, jsonb) is 'First step of a completion: writes the outcomes of claimed items that are still claimed by that attempt (a lost claim''s outcome is ignored) and returns their tally {n, ok, failed, changes, alerts, errs} for private.job_count_outcomes.';
revoke all on function private.job_record_outcomes(uuid, jsonb) from public;

create or replace function private.job_count_outcomes(p_run_id uuid, p_tally jsonb)
returns jsonb
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_done integer;
  v_run public.job_runs;
  v_finalised boolean := false;
begin
  update public.job_runs r set
    sources_processed = r.sources_processed + (p_tally ->> 'n')::int,
    sources_succeeded = r.sources_succeeded + (p_tally ->> 'ok')::int,
    sources_failed = r.sources_failed + (p_tally ->> 'failed')::int,
    changes_detected = r.changes_detected + (p_tally ->> 'changes')::int,
    alerts_sent = r.alerts_sent + (p_tally ->> 'alerts')::int,
    errors = r.errors || (p_tally -> 'errs')
  where r.id = p_run_id and r.status = 'running'
  returning r.* into v_run;
  if v_run.id is null then
    select * into v_run from public.job_runs where id = p_run_id;
  else
    v_done := (p_tally ->> 'n')::int;
  end if;

  -- The last item finalises the run, exactly once (status = 'running' guards it). After
  -- outcomes, only when its counters say no item is left (private.job_open_items: no look
  -- at the items per completion); without any (a call to finalise a run whose items are
  -- gone), always; either way confirmed by a look at its open items.
  if (coalesce((p_tally ->> 'n')::int, 0) = 0 or private.job_open_items(v_run) <= 0)
     and not exists (select 1 from public.job_run_sources s
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
comment on function private.job_count_outcomes(uuid, jsonb) is 'Second step of a completion: moves the run''s counters by the tally of private.job_record_outcomes and finalises the run when no item is left (exactly once). Returns {completed, finalised, run}.';
revoke all on function private.job_count_outcomes(uuid, jsonb) from public;

create or replace function public.job_complete_items(p_run_id uuid, p_outcomes jsonb)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare v_tally jsonb;
begin
  v_tally := private.job_record_outcomes(p_run_id, p_outcomes);
  return private.job_count_outcomes(p_run_id, v_tally);
end $$;
comment on function public.job_complete_items(uuid, jsonb) is 'Records the outcomes of claimed items (ignoring items whose claim was lost), moves the run''s counters, and finalises the run when no item is left (exactly once). Returns {completed, finalised, run}.';

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

-- ---------------------------------------------------------------------------
-- One round trip of an invocation's work loop (shared/jobs/work_loop.ts): what finished is
-- completed first (its host slots are free again), then the next items are claimed, in one
-- transaction, so that an unchanged source costs a share of one request instead of a
-- completion and a claim of its own.
create or replace function public.job_complete_and_claim(
  p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer,
  p_lease_ms integer, p_per_host integer default null, p_delay_ms integer default 0,
  p_max_attempts integer default 3, p_slot_depth integer default 1, p_count boolean default false
) returns jsonb
language plpgsql security definer set search_path = ''
set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
declare
  v_done jsonb := jsonb_build_object('completed', 0, 'finalised', false, 'run', null);
  v_tally jsonb;
  v_poisoned uuid[];
  v_items jsonb := '[]'::jsonb;
  v_open integer;
  v_held integer;
  v_claimed integer;
  v_full text[];
  v_got integer;
  v_claims boolean := coalesce(p_limit, 0) > 0;
  v_records boolean := jsonb_typeof(p_outcomes) = 'array' and jsonb_array_length(p_outcomes) > 0;
begin
  -- The run's row, which every completion writes, is written last (its lock is held to the
  -- commit): poison items first (rare; they move the counters themselves), then the
  -- outcomes' rows (their host slots free again), the claim, and the counters (then only
  -- the count of the items left, when asked, reads them).
  if v_claims then
    v_poisoned := private.job_fail_poison_items(p_run_id, p_max_attempts);
  end if;
  if v_records then
    if p_bookkeeping is not null and jsonb_typeof(p_bookkeeping) = 'array'
       and jsonb_array_length(p_bookkeeping) > 0 then
      perform public.update_source_bookkeeping(p_bookkeeping);
    end if;
    v_tally := private.job_record_outcomes(p_run_id, p_outcomes);
  end if;
  if v_claims then
    v_items := private.job_claim_next(p_run_id, p_claimed_by, p_limit, p_lease_ms, p_per_host,
      p_delay_ms, p_max_attempts, p_slot_depth, v_poisoned);
  end if;
  -- What the claim handed out: its items and the poison items (every one is returned).
  v_got := jsonb_array_length(v_items) - coalesce(cardinality(v_poisoned), 0);
  if v_got > 0 then
    -- Hosts the next claims wait for: the claimed items' hosts whose request slots are all
    -- in use, when the claim came short (hosts limit the run now) or the host holds at
    -- least 1/16 of the run's items (the run's bottleneck, as job_claim_items has it). Their
    -- items are reported at once (report_at_once) instead of gathered with others.
    select coalesce(array_agg(h.host), '{}') into v_full
    from private.run_hosts h
    join public.job_runs r on r.id = h.run_id
    where h.run_id = p_run_id
      and h.host in (select e ->> 'host' from jsonb_array_elements(v_items) e)
      and (v_got < p_limit or h.items * 16 >= r.total_items - r.sources_skipped)
      and (select count(*) from public.job_run_sources s
           where s.run_id = p_run_id and s.host = h.host and s.status = 'claimed'
             and s.lease_until >= clock_timestamp())
          >= least(coalesce(p_per_host, 2147483647), coalesce(h.max_in_flight, 2147483647));
    -- Only the items of those hosts are marked (rebuilding the answer costs ~0.8 ms per 64).
    if cardinality(v_full) > 0 then
      select jsonb_agg(case when (e ->> 'host') = any (v_full)
                            then e || '{"report_at_once": true}'::jsonb else e end)
        into v_items from jsonb_array_elements(v_items) e;
    end if;
  end if;
  -- Nothing to record: no write of the run's row (a claim alone does not contend on it).
  if v_records then
    v_done := private.job_count_outcomes(p_run_id, v_tally);
  end if;
  -- Asked (p_count), or a claim found nothing: how many items are left, and how many of
  -- them a live lease holds (the claimer stops, polls or hands over on these): from the
  -- run's counters (private.job_open_items) and its claimed items, not a count of its
  -- open items.
  if p_count or (p_limit is not null and v_got = 0) then
    select count(*) filter (where s.lease_until > clock_timestamp())::int, count(*)::int
      into v_held, v_claimed
    from public.job_run_sources s
    where s.run_id = p_run_id and s.status = 'claimed';
    select greatest(private.job_open_items(r), v_claimed) into v_open
    from public.job_runs r where r.id = p_run_id;
  end if;
  return v_done || jsonb_build_object('items', v_items, 'open', v_open, 'held', v_held);
end $$;
comment on function public.job_complete_and_claim(uuid, jsonb, jsonb, text, integer, integer, integer, integer, integer, integer, boolean) is 'One round trip of an invocation: records p_outcomes with p_bookkeeping (job_complete_items; skipped when there are none), then claims up to p_limit items (job_claim_items with the same host arguments; none when p_limit is null or 0, or the run was just finalised), in one transaction. Returns {completed, finalised, run (null when nothing was recorded), items (report_at_once true on those whose host''s request slots are all in use and the claim came short of p_limit or the host holds at least 1/16 of the run''s items: the next claims wait for that host, so its completion should not wait), open, held (the run''s unfinished items and those a live lease holds, after this claim; when p_count, or when p_limit is not null and no item was claimed, else null)}.';

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
-- Only the service role (the edge function's own work) may call these.
select private.service_role_only(array[
  'public.job_expire_stale_runs(text)',
  'public.job_start_run(text, text, jsonb, integer)',
  'public.job_add_items(uuid, uuid[], uuid[])',
  'public.job_claim_items(uuid, text, integer, integer, integer, integer, integer, integer)',
  'public.job_renew_leases(uuid, text, integer)',
  'public.job_slow_host(uuid, text, integer)',
  'public.job_slot_start(uuid, text)',
  'public.job_slot_release(uuid, uuid, integer)',
  'public.job_complete_items(uuid, jsonb)',
  'public.job_complete_items(uuid, jsonb, jsonb)',
  'public.job_complete_and_claim(uuid, jsonb, jsonb, text, integer, integer, integer, integer, integer, integer, boolean)',
  'public.job_fail_run(uuid, text)'
]::regprocedure[]);
