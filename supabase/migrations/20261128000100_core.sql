-- Core schema of the policy-change monitor: what is watched (check_frequencies, sources),
-- what was seen (snapshots), what changed (policy_changes) and who is told (subscriptions).
-- The other domains build on it: pipeline (writing snapshots), alerts (the outbox), jobs
-- (runs and their work items), schedule (pg_cron) and security (column privileges).
-- Contract tables and columns here are relied on by tests outside the project:
-- add columns with defaults freely, never rename or drop them.
-- The live schema in one file: supabase/schema.sql (`deno task schema:dump`).

create schema if not exists private;
comment on schema private is 'Internals of the policy monitor (helpers, queues). Not exposed through the API.';
revoke all on schema private from public;

-- Table privileges follow Supabase's defaults (anon, authenticated and service_role are
-- granted table access; RLS decides which rows). Spelled out, table by table in each
-- domain's migration, so a database without those default privileges behaves the same.
grant usage on schema public to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- check_frequencies: how often a source is fetched. Adding a frequency is adding a row.
create table if not exists public.check_frequencies (
  name text primary key check (name ~ '^[a-z][a-z0-9_]{0,30}$'),
  check_interval interval not null check (check_interval > interval '0'),
  description text not null default '',
  -- Seconds of each frequency, so clients read a number instead of parsing an interval.
  interval_seconds double precision generated always as (extract(epoch from check_interval)) stored
);
comment on table public.check_frequencies is 'Allowed values of sources.check_frequency and the interval each one means. Add a row to add a frequency.';
comment on column public.check_frequencies.name is 'Name used in sources.check_frequency, e.g. daily.';
comment on column public.check_frequencies.check_interval is 'Time between two checks of a source with this frequency.';
comment on column public.check_frequencies.description is 'Human description shown to operators.';
comment on column public.check_frequencies.interval_seconds is 'check_interval in seconds (derived).';

insert into public.check_frequencies (name, check_interval, description) values
  ('hourly', interval '1 hour', 'Checked at most once an hour'),
  ('daily', interval '1 day', 'Checked once a day, by the nightly run'),
  ('weekly', interval '7 days', 'Checked once a week')
on conflict (name) do nothing;
alter table public.check_frequencies enable row level security;
create policy "Signed-in users can read check frequencies" on public.check_frequencies
  for select to authenticated using (true);
grant select, insert, update, delete on table public.check_frequencies to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
create table if not exists public.sources (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  url text not null check (url ~* '^https?://[^\s/?#]+[^\s]*$' and length(url) <= 2048),
  active boolean not null default true,
  check_frequency text not null default 'daily' references public.check_frequencies (name) on update cascade,
  css_selector text check (css_selector is null or length(css_selector) between 1 and 500),
  ignore_patterns text[] not null default '{}',
  render text not null default 'static' check (render in ('static', 'browser')),
  etag text,
  last_modified text,
  last_hash text check (last_hash is null or last_hash ~ '^[0-9a-f]{64}$'),
  last_snapshot_id uuid,
  last_checked_at timestamptz,
  last_success_at timestamptz,
  last_error text,
  last_error_class text check (last_error_class is null or last_error_class in (
    'dns', 'connect', 'timeout', 'tls', 'http_4xx', 'http_5xx', 'too_large',
    'too_many_redirects', 'unsupported_content', 'parse', 'blocked', 'browser', 'internal', 'poison')),
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  failing_alerted boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The API's save-time rules say the same first (shared/operators/rules.ts): the host is a
  -- host name (no label starting or ending with a hyphen), an IPv4 or a bracketed IPv6
  -- literal; no credentials; at most 50 ignore patterns.
  constraint sources_url_host_valid check (
    url ~* '^https?://(\[[0-9a-f:.]+\]|([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)(:[0-9]{1,5})?([/?#]\S*)?$'),
  constraint sources_ignore_patterns_count check (cardinality(ignore_patterns) <= 50)
);
comment on table public.sources is 'Public pages and PDFs where rules are published. Every active source is fetched when due by the daily-fetch job.';
comment on column public.sources.id is 'Source id.';
comment on column public.sources.name is 'Human name, e.g. "UK Skilled Worker visa rules".';
comment on column public.sources.url is 'http(s) URL fetched by the pipeline.';
comment on column public.sources.active is 'Only active sources are fetched.';
comment on column public.sources.check_frequency is 'How often the source is due (see check_frequencies).';
comment on column public.sources.css_selector is 'Optional CSS selector of the part of an HTML page to watch; default is the main content.';
comment on column public.sources.ignore_patterns is 'Regular expressions (JavaScript syntax) whose matches are removed from the text before hashing.';
comment on column public.sources.render is 'How the page is fetched: static (HTTP GET, default) or browser (rendered by a real browser at BROWSER_WS_ENDPOINT, scripts run; HTML pages only).';
comment on column public.sources.etag is 'ETag of the last 200 response, sent as If-None-Match.';
comment on column public.sources.last_modified is 'Last-Modified of the last 200 response, sent as If-Modified-Since.';
comment on column public.sources.last_hash is 'SHA-256 (hex) of the normalised text of the latest snapshot.';
comment on column public.sources.last_snapshot_id is 'Latest snapshot of this source.';
comment on column public.sources.last_checked_at is 'When the source was last fetched, successfully or not.';
comment on column public.sources.last_success_at is 'When the source was last fetched successfully.';
comment on column public.sources.last_error is 'Message of the last failure; null after a success.';
comment on column public.sources.last_error_class is 'Class of the last failure (dns, connect, timeout, tls, http_4xx, http_5xx, too_large, too_many_redirects, unsupported_content, parse, blocked, browser, internal; poison when the job gave up on it after its invocations died on every attempt).';
comment on column public.sources.consecutive_failures is 'Failed checks since the last success.';
comment on column public.sources.failing_alerted is 'True once a "source failing" alert was sent for the current failure streak.';
comment on column public.sources.created_at is 'When the source was added.';
comment on column public.sources.updated_at is 'When the source''s definition (name, url, ignore patterns) last changed; fetch bookkeeping does not move it.';
create index if not exists sources_active_idx on public.sources (active, check_frequency);

-- Ignore patterns run as JavaScript-syntax regexes on a linear-time engine (RE2, in the
-- function): only that engine can say whether one is valid, so the API validates them
-- (shared/pipeline/ignore_patterns.ts, ignorePatternErrors) and the pipeline fails a
-- source whose saved pattern does not compile with `parse`. Postgres' regex rules are a
-- different language (they refused valid JavaScript and accepted patterns that never
-- match), so the database keeps only the cheap structural limits the TypeScript rules
-- share: each 1 to 500 characters (here), at most 50 (sources_ignore_patterns_count).
create or replace function private.validate_source() returns trigger
language plpgsql set search_path = '' as $$
declare p text;
begin
  foreach p in array coalesce(new.ignore_patterns, '{}') loop
    if p is null or length(p) = 0 or length(p) > 500 then
      raise exception 'Invalid ignore pattern: must be 1 to 500 characters' using errcode = '22023';
    end if;
  end loop;
  new.updated_at := now();
  return new;
end $$;
-- Bookkeeping updates do not change the ignore patterns: validate them only when they do.
drop trigger if exists sources_validate on public.sources;
create trigger sources_validate before insert or update of ignore_patterns, name, url on public.sources
  for each row execute function private.validate_source();
alter table public.sources enable row level security;
-- Admin users (app_metadata.role, which only the service role can write) read sources from
-- their own supabase-js client; writes stay with the API (service role).
create policy "Admin users can read sources" on public.sources
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
grant select, insert, update, delete on table public.sources to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
create table if not exists public.snapshots (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references public.sources (id) on delete cascade,
  fetch_id uuid not null unique,
  content_hash text not null check (content_hash ~ '^[0-9a-f]{64}$'),
  content text not null,
  content_type text,
  fetched_at timestamptz not null default now()
);
comment on table public.snapshots is 'Normalised text of a source each time it changed (the first one is the baseline).';
comment on column public.snapshots.id is 'Snapshot id.';
comment on column public.snapshots.source_id is 'Source the text was fetched from.';
comment on column public.snapshots.fetch_id is 'Id of the fetch that produced it; a retried write of the same fetch is a no-op.';
comment on column public.snapshots.content_hash is 'SHA-256 (hex) of content.';
comment on column public.snapshots.content is 'Normalised text that was hashed.';
comment on column public.snapshots.content_type is 'Media type of the response (text/html, application/pdf, ...).';
comment on column public.snapshots.fetched_at is 'When the response was fetched.';
create index if not exists snapshots_source_idx on public.snapshots (source_id, fetched_at desc);

alter table public.sources drop constraint if exists sources_last_snapshot_fk;
alter table public.sources add constraint sources_last_snapshot_fk
  foreign key (last_snapshot_id) references public.snapshots (id) on delete set null;
-- Deleting a snapshot (retention, a deleted source) checks this foreign key: without the
-- index each deleted snapshot scanned every source.
create index if not exists sources_last_snapshot_idx on public.sources (last_snapshot_id);
alter table public.snapshots enable row level security;
grant select, insert, update, delete on table public.snapshots to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
create table if not exists public.policy_changes (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references public.sources (id) on delete cascade,
  snapshot_id uuid unique references public.snapshots (id) on delete cascade,
  previous_snapshot_id uuid references public.snapshots (id) on delete set null,
  detected_at timestamptz not null default now(),
  diff text not null default '',
  summary jsonb not null default '{}'::jsonb check (jsonb_typeof(summary) = 'object')
);
comment on table public.policy_changes is 'A real change of a source''s text: the unified diff between two snapshots.';
comment on column public.policy_changes.id is 'PolicyChange id.';
comment on column public.policy_changes.source_id is 'Source that changed.';
comment on column public.policy_changes.snapshot_id is 'Snapshot with the new text (unique: one change per snapshot).';
comment on column public.policy_changes.previous_snapshot_id is 'Snapshot with the old text.';
comment on column public.policy_changes.detected_at is 'When the change was detected.';
comment on column public.policy_changes.diff is 'Unified diff of the normalised text, old to new.';
comment on column public.policy_changes.summary is 'Short summary: lines_added, lines_removed, first_changed_lines.';
create index if not exists policy_changes_source_idx on public.policy_changes (source_id, detected_at desc);
alter table public.policy_changes enable row level security;
create policy "Admin users can read policy changes" on public.policy_changes
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
grant select, insert, update, delete on table public.policy_changes to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
create table if not exists public.subscriptions (
  id uuid primary key default gen_random_uuid(),
  source_id uuid references public.sources (id) on delete cascade,
  channel text not null check (channel in ('webhook', 'slack', 'email')),
  target text not null check (length(target) <= 2048),
  secret text check (secret is null or length(secret) between 16 and 512),
  active boolean not null default true,
  operational_alerts boolean not null default false,
  created_at timestamptz not null default now(),
  has_secret boolean generated always as (secret is not null) stored,
  constraint subscriptions_target_valid check (
    (channel in ('webhook', 'slack') and target ~* '^https?://[^\s/?#]+[^\s]*$')
    or (channel = 'email' and target ~* '^[^\s@]+@[^\s@]+\.[^\s@]+$'))
);
comment on table public.subscriptions is 'Who is alerted of changes: one source (source_id) or all sources (source_id null).';
comment on column public.subscriptions.id is 'Subscription id.';
comment on column public.subscriptions.source_id is 'Watched source; null means all sources.';
comment on column public.subscriptions.channel is 'Delivery channel: webhook, slack or email.';
comment on column public.subscriptions.target is 'Webhook or Slack incoming-webhook URL, or an email address.';
comment on column public.subscriptions.secret is 'Webhook signing secret (HMAC-SHA256). Never returned by the API.';
comment on column public.subscriptions.active is 'Only active subscriptions receive alerts.';
comment on column public.subscriptions.operational_alerts is 'Also receive "source failing", "source recovered" and "run missed" alerts.';
comment on column public.subscriptions.created_at is 'When the subscription was added.';
comment on column public.subscriptions.has_secret is 'True when a webhook signing secret is set (the secret itself is write-only).';
create index if not exists subscriptions_source_idx on public.subscriptions (source_id) where active;
alter table public.subscriptions enable row level security;
-- (SELECT is narrowed to every column but the secret in the security migration.)
grant select, insert, update, delete on table public.subscriptions to anon, authenticated, service_role;
