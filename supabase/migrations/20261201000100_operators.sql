-- The operators' surface (issue 13): what the API's sources, subscriptions, history and
-- feed routes need from the database.
--   * Constraints aligned with the API's save-time rules (shared/operators/source_rules.ts),
--     as the last line behind it: a host that is a real host name or IP literal, at most 50
--     ignore patterns.
--   * subscriptions.has_secret: whether a webhook secret is set, readable where the secret
--     is not (the secret stays write-only).
--   * feed_tokens: revocable tokens of the Atom feed (feed readers cannot send a bearer
--     header, so the token is in the query); only the SHA-256 of each token is stored.
--   * retry_alert(): puts a failed or dead alert back in the outbox, due now.
--   * RLS read policies: an admin user's own supabase-js client (app_metadata.role =
--     'admin' in the JWT) reads sources, policy changes, alerts and runs. Writes stay with
--     the API (service role).

-- ---------------------------------------------------------------------------
-- sources: the host of the URL is a host name (letters, digits, hyphens; no label starting
-- or ending with a hyphen), an IPv4 literal or a bracketed IPv6 literal; no credentials.
alter table public.sources drop constraint if exists sources_url_host_valid;
alter table public.sources add constraint sources_url_host_valid check (
  url ~* '^https?://(\[[0-9a-f:.]+\]|([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)(:[0-9]{1,5})?([/?#]\S*)?$');
alter table public.sources drop constraint if exists sources_ignore_patterns_count;
alter table public.sources add constraint sources_ignore_patterns_count check (
  cardinality(ignore_patterns) <= 50);

-- ---------------------------------------------------------------------------
alter table public.subscriptions add column if not exists has_secret boolean
  generated always as (secret is not null) stored;
comment on column public.subscriptions.has_secret is 'True when a webhook signing secret is set (the secret itself is write-only).';
grant select (has_secret) on table public.subscriptions to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
create table if not exists public.feed_tokens (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
comment on table public.feed_tokens is 'Tokens that authorise reading the Atom feed of changes (GET /api/feeds/changes.atom?token=...). Created and revoked through the API; only their SHA-256 is stored.';
comment on column public.feed_tokens.id is 'Feed token id.';
comment on column public.feed_tokens.name is 'What the token is for, e.g. "team feed reader".';
comment on column public.feed_tokens.token_hash is 'SHA-256 (hex) of the token; the token itself is shown once, when created.';
comment on column public.feed_tokens.created_at is 'When the token was created.';
comment on column public.feed_tokens.last_used_at is 'When the feed was last read with it.';
comment on column public.feed_tokens.revoked_at is 'When it was revoked; a revoked token reads nothing.';
alter table public.feed_tokens enable row level security;
grant select, insert, update, delete on table public.feed_tokens to service_role;

-- ---------------------------------------------------------------------------
create or replace function public.retry_alert(p_alert_id uuid, p_now timestamptz default now())
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare v_row public.alerts;
begin
  update public.alerts a
     set status = 'pending', next_attempt_at = p_now,
         attempts = case when a.status = 'dead' then 0 else a.attempts end,
         updated_at = p_now
   where a.id = p_alert_id and a.status in ('failed', 'dead')
  returning a.* into v_row;
  if found then
    return jsonb_build_object('retried', true, 'status', v_row.status);
  end if;
  select a.* into v_row from public.alerts a where a.id = p_alert_id;
  if not found then
    return jsonb_build_object('retried', false, 'status', null);
  end if;
  return jsonb_build_object('retried', false, 'status', v_row.status);
end $$;
comment on function public.retry_alert(uuid, timestamptz) is 'Puts a failed or dead alert back in the outbox as pending, due at p_now (a dead one with its attempts reset, so it gets ALERT_MAX_ATTEMPTS again). Returns {retried, status}: retried false with the current status when the alert is not failed or dead, status null when it does not exist.';
revoke execute on function public.retry_alert(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.retry_alert(uuid, timestamptz) to service_role;

-- ---------------------------------------------------------------------------
-- Read policies for admin users. Admin rights come from app_metadata, which only the
-- service role can write (user_metadata is the user's own and is not looked at).
create policy "Admin users can read sources" on public.sources
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
create policy "Admin users can read policy changes" on public.policy_changes
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
create policy "Admin users can read alerts" on public.alerts
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
create policy "Admin users can read job runs" on public.job_runs
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
create policy "Admin users can read job run sources" on public.job_run_sources
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');

-- ---------------------------------------------------------------------------
-- source_status: each source with its health and schedule, what GET /api/sources shows.
-- security_invoker: callers see only the sources their RLS lets them read.
create or replace view public.source_status with (security_invoker = true) as
select s.id, s.name, s.url, s.active, s.check_frequency, s.css_selector, s.ignore_patterns,
       s.created_at, s.updated_at, s.last_checked_at, s.last_success_at, s.last_error,
       s.last_error_class, s.consecutive_failures,
       (select max(c.detected_at) from public.policy_changes c where c.source_id = s.id)
         as last_change_at,
       case when s.last_checked_at is null then null
            else s.last_checked_at + f.check_interval end as next_due_at
from public.sources s
join public.check_frequencies f on f.name = s.check_frequency;
comment on view public.source_status is 'Sources with their health and schedule: last check, last change, failure streak, next due time. Read this in Studio.';
comment on column public.source_status.id is 'Source id.';
comment on column public.source_status.name is 'Human name.';
comment on column public.source_status.url is 'URL fetched.';
comment on column public.source_status.active is 'Only active sources are fetched.';
comment on column public.source_status.check_frequency is 'How often the source is due.';
comment on column public.source_status.css_selector is 'Part of the page watched, or null for the main content.';
comment on column public.source_status.ignore_patterns is 'Regular expressions removed before hashing.';
comment on column public.source_status.created_at is 'When the source was added.';
comment on column public.source_status.updated_at is 'When the source was last changed.';
comment on column public.source_status.last_checked_at is 'Last fetch, successful or not.';
comment on column public.source_status.last_success_at is 'Last successful fetch.';
comment on column public.source_status.last_error is 'Message of the last failure; null after a success.';
comment on column public.source_status.last_error_class is 'Class of the last failure.';
comment on column public.source_status.consecutive_failures is 'Failure streak: failed checks since the last success.';
comment on column public.source_status.last_change_at is 'When the last policy change of the source was detected.';
comment on column public.source_status.next_due_at is 'When the source is next due (last check + its frequency); null: due at the next run.';
grant select on public.source_status to authenticated, service_role;
