-- Core schema of the policy-change monitor: what is watched (sources), what was seen
-- (snapshots), what changed (policy_changes), who is told (subscriptions, alerts) and
-- what the nightly job did (job_runs, job_run_sources).
-- Contract tables and columns here are relied on by tests outside the project:
-- add columns with defaults freely, never rename or drop them.

create schema if not exists private;
comment on schema private is 'Internals of the policy monitor (helpers, queues). Not exposed through the API.';
revoke all on schema private from public;

-- ---------------------------------------------------------------------------
-- check_frequencies: how often a source is fetched. Adding a frequency is adding a row.
create table if not exists public.check_frequencies (
  name text primary key check (name ~ '^[a-z][a-z0-9_]{0,30}$'),
  check_interval interval not null check (check_interval > interval '0'),
  description text not null default ''
);
comment on table public.check_frequencies is 'Allowed values of sources.check_frequency and the interval each one means. Add a row to add a frequency.';
comment on column public.check_frequencies.name is 'Name used in sources.check_frequency, e.g. daily.';
comment on column public.check_frequencies.check_interval is 'Time between two checks of a source with this frequency.';
comment on column public.check_frequencies.description is 'Human description shown to operators.';

insert into public.check_frequencies (name, check_interval, description) values
  ('hourly', interval '1 hour', 'Checked at most once an hour'),
  ('daily', interval '1 day', 'Checked once a day, by the nightly run'),
  ('weekly', interval '7 days', 'Checked once a week')
on conflict (name) do nothing;

-- ---------------------------------------------------------------------------
create table if not exists public.sources (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  url text not null check (url ~* '^https?://[^\s/?#]+[^\s]*$' and length(url) <= 2048),
  active boolean not null default true,
  check_frequency text not null default 'daily' references public.check_frequencies (name) on update cascade,
  css_selector text check (css_selector is null or length(css_selector) between 1 and 500),
  ignore_patterns text[] not null default '{}',
  etag text,
  last_modified text,
  last_hash text check (last_hash is null or last_hash ~ '^[0-9a-f]{64}$'),
  last_snapshot_id uuid,
  last_checked_at timestamptz,
  last_success_at timestamptz,
  last_error text,
  last_error_class text check (last_error_class is null or last_error_class in (
    'dns', 'connect', 'timeout', 'tls', 'http_4xx', 'http_5xx', 'too_large',
    'too_many_redirects', 'unsupported_content', 'parse', 'blocked', 'internal')),
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  failing_alerted boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.sources is 'Public pages and PDFs where rules are published. Every active source is fetched when due by the daily-fetch job.';
comment on column public.sources.id is 'Source id.';
comment on column public.sources.name is 'Human name, e.g. "UK Skilled Worker visa rules".';
comment on column public.sources.url is 'http(s) URL fetched by the pipeline.';
comment on column public.sources.active is 'Only active sources are fetched.';
comment on column public.sources.check_frequency is 'How often the source is due (see check_frequencies).';
comment on column public.sources.css_selector is 'Optional CSS selector of the part of an HTML page to watch; default is the main content.';
comment on column public.sources.ignore_patterns is 'Regular expressions (JavaScript syntax) whose matches are removed from the text before hashing.';
comment on column public.sources.etag is 'ETag of the last 200 response, sent as If-None-Match.';
comment on column public.sources.last_modified is 'Last-Modified of the last 200 response, sent as If-Modified-Since.';
comment on column public.sources.last_hash is 'SHA-256 (hex) of the normalised text of the latest snapshot.';
comment on column public.sources.last_snapshot_id is 'Latest snapshot of this source.';
comment on column public.sources.last_checked_at is 'When the source was last fetched, successfully or not.';
comment on column public.sources.last_success_at is 'When the source was last fetched successfully.';
comment on column public.sources.last_error is 'Message of the last failure; null after a success.';
comment on column public.sources.last_error_class is 'Class of the last failure (dns, connect, timeout, tls, http_4xx, http_5xx, too_large, too_many_redirects, unsupported_content, parse, blocked, internal).';
comment on column public.sources.consecutive_failures is 'Failed checks since the last success.';
comment on column public.sources.failing_alerted is 'True once a "source failing" alert was sent for the current failure streak.';
comment on column public.sources.created_at is 'When the source was added.';
comment on column public.sources.updated_at is 'When the row was last changed.';
create index if not exists sources_active_idx on public.sources (active, check_frequency);

-- Ignore patterns run as JavaScript-syntax regexes on a linear-time engine (RE2, in the
-- function): only that engine can say whether one is valid, so the API validates them
-- (shared/pipeline/ignore_patterns.ts, ignorePatternErrors) and the pipeline fails a
-- source whose saved pattern does not compile with `parse`. Postgres' regex rules are a
-- different language (they refused valid JavaScript and accepted patterns that never
-- match), so the database keeps only the cheap structural limits the TypeScript rules
-- share: at most 50 patterns, each 1 to 500 characters.
create or replace function private.validate_source() returns trigger
language plpgsql set search_path = '' as $$
declare p text;
begin
  if coalesce(array_length(new.ignore_patterns, 1), 0) > 50 then
    raise exception 'Invalid ignore patterns: at most 50 are allowed' using errcode = '22023';
  end if;
  foreach p in array coalesce(new.ignore_patterns, '{}') loop
    if p is null or length(p) = 0 or length(p) > 500 then
      raise exception 'Invalid ignore pattern: must be 1 to 500 characters' using errcode = '22023';
    end if;
  end loop;
  new.updated_at := now();
  return new;
end $$;
drop trigger if exists sources_validate on public.sources;
create trigger sources_validate before insert or update on public.sources
  for each row execute function private.validate_source();

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
create index if not exists subscriptions_source_idx on public.subscriptions (source_id) where active;

-- ---------------------------------------------------------------------------
create table if not exists public.alerts (
  id uuid primary key default gen_random_uuid(),
  policy_change_id uuid references public.policy_changes (id) on delete cascade,
  subscription_id uuid not null references public.subscriptions (id) on delete cascade,
  kind text not null default 'policy_change' check (kind in (
    'policy_change', 'source_failing', 'source_recovered', 'run_missed')),
  event_key text,
  source_id uuid references public.sources (id) on delete cascade,
  payload jsonb,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'dead')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  sent_at timestamptz,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint alerts_change_subscription_key unique (policy_change_id, subscription_id),
  constraint alerts_event_subscription_key unique (event_key, subscription_id),
  constraint alerts_kind_shape check (
    (kind = 'policy_change' and policy_change_id is not null)
    or (kind <> 'policy_change' and event_key is not null))
);
comment on table public.alerts is 'Outbox of notifications: one row per (policy change, subscription), written before sending, so nothing is sent twice.';
comment on column public.alerts.id is 'Alert id.';
comment on column public.alerts.policy_change_id is 'Change being announced (policy_change alerts).';
comment on column public.alerts.subscription_id is 'Recipient subscription.';
comment on column public.alerts.kind is 'policy_change, or an operational alert: source_failing, source_recovered, run_missed.';
comment on column public.alerts.event_key is 'Deduplication key of operational alerts (one per event and subscription).';
comment on column public.alerts.source_id is 'Source concerned, when there is one.';
comment on column public.alerts.payload is 'Event data of operational alerts.';
comment on column public.alerts.status is 'pending, sending, sent, failed (will be retried) or dead (gave up).';
comment on column public.alerts.attempts is 'Delivery attempts so far.';
comment on column public.alerts.next_attempt_at is 'Earliest time of the next attempt of a failed alert.';
comment on column public.alerts.sent_at is 'When the receiver accepted it.';
comment on column public.alerts.error is 'Last delivery error.';
comment on column public.alerts.created_at is 'When the alert was queued.';
comment on column public.alerts.updated_at is 'When the row last changed.';
create index if not exists alerts_due_idx on public.alerts (next_attempt_at) where status in ('pending', 'failed', 'sending');

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
  constraint job_runs_completed check ((status = 'running') = (completed_at is null))
);
comment on table public.job_runs is 'One row per run of a job (daily-fetch). Counters move while the run works, so Studio shows progress.';
comment on column public.job_runs.id is 'Run id (run_id in the API).';
comment on column public.job_runs.job_name is 'Job name, e.g. daily-fetch.';
comment on column public.job_runs.trigger is 'cron (pg_cron) or manual (API call).';
comment on column public.job_runs.status is 'running, succeeded, partial (some sources failed) or failed.';
comment on column public.job_runs.started_at is 'When the run started.';
comment on column public.job_runs.completed_at is 'When the run was finalised; null while running.';
comment on column public.job_runs.deadline_at is 'A run still running after this is finalised failed by the watchdog.';
comment on column public.job_runs.options is 'Options of the call: force, source_ids.';
comment on column public.job_runs.total_items is 'Number of sources the run had to look at.';
comment on column public.job_runs.sources_processed is 'Sources fetched (succeeded + failed).';
comment on column public.job_runs.sources_succeeded is 'Sources fetched successfully.';
comment on column public.job_runs.sources_failed is 'Sources whose fetch failed.';
comment on column public.job_runs.sources_skipped is 'Active sources not due by check_frequency.';
comment on column public.job_runs.changes_detected is 'Policy changes recorded by the run.';
comment on column public.job_runs.alerts_sent is 'Alerts delivered by the run.';
comment on column public.job_runs.errors is 'Error messages, e.g. "source <id> (<name>): timeout: ...".';
create unique index if not exists job_runs_one_running on public.job_runs (job_name) where status = 'running';
create index if not exists job_runs_started_idx on public.job_runs (job_name, started_at desc);

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
  primary key (run_id, source_id)
);
comment on table public.job_run_sources is 'Per-run, per-source work item and outcome of a job run.';
comment on column public.job_run_sources.run_id is 'Run.';
comment on column public.job_run_sources.source_id is 'Source.';
comment on column public.job_run_sources.status is 'pending, claimed (being worked on), succeeded, failed or skipped.';
comment on column public.job_run_sources.changed is 'True when a policy change was recorded.';
comment on column public.job_run_sources.baseline is 'True when this fetch stored the first snapshot of the source.';
comment on column public.job_run_sources.policy_change_id is 'Recorded change, if any.';
comment on column public.job_run_sources.error_class is 'Error class of a failure.';
comment on column public.job_run_sources.error_message is 'Readable error message of a failure.';
comment on column public.job_run_sources.duration_ms is 'Time spent on the source.';
comment on column public.job_run_sources.attempts is 'How many times the item was claimed.';
comment on column public.job_run_sources.lease_until is 'A claimed item whose lease expired is claimed again.';
comment on column public.job_run_sources.claimed_by is 'Invocation that holds the lease.';
comment on column public.job_run_sources.finished_at is 'When the outcome was written.';
create index if not exists job_run_sources_pending_idx on public.job_run_sources (run_id, status);

create or replace view public.job_run_history with (security_invoker = true) as
select r.id as run_id, r.job_name, r.trigger, r.status, r.started_at, r.completed_at,
       coalesce(r.completed_at, now()) - r.started_at as duration,
       r.total_items, r.sources_processed, r.sources_succeeded, r.sources_failed,
       r.sources_skipped, r.changes_detected, r.alerts_sent,
       jsonb_array_length(r.errors) as error_count
from public.job_runs r
order by r.started_at desc;
comment on view public.job_run_history is 'Runs of the jobs, newest first, with duration and counts: read this in Studio.';
comment on column public.job_run_history.run_id is 'Run id.';
comment on column public.job_run_history.job_name is 'Job name.';
comment on column public.job_run_history.trigger is 'cron or manual.';
comment on column public.job_run_history.status is 'running, succeeded, partial or failed.';
comment on column public.job_run_history.started_at is 'Start.';
comment on column public.job_run_history.completed_at is 'End.';
comment on column public.job_run_history.duration is 'completed_at - started_at (so far, while running).';
comment on column public.job_run_history.total_items is 'Sources looked at.';
comment on column public.job_run_history.sources_processed is 'Sources fetched.';
comment on column public.job_run_history.sources_succeeded is 'Sources fetched successfully.';
comment on column public.job_run_history.sources_failed is 'Sources that failed.';
comment on column public.job_run_history.sources_skipped is 'Sources not due.';
comment on column public.job_run_history.changes_detected is 'Changes recorded.';
comment on column public.job_run_history.alerts_sent is 'Alerts delivered.';
comment on column public.job_run_history.error_count is 'Number of errors.';

-- ---------------------------------------------------------------------------
-- Row level security: nothing is visible to anon or authenticated unless a policy says
-- so; service_role bypasses RLS and does the work.
alter table public.check_frequencies enable row level security;
alter table public.sources enable row level security;
alter table public.snapshots enable row level security;
alter table public.policy_changes enable row level security;
alter table public.subscriptions enable row level security;
alter table public.alerts enable row level security;
alter table public.job_runs enable row level security;
alter table public.job_run_sources enable row level security;

create policy "Signed-in users can read check frequencies" on public.check_frequencies
  for select to authenticated using (true);

-- Table privileges follow Supabase's defaults (anon, authenticated and service_role are
-- granted table access; RLS decides which rows). Spelled out so a database without those
-- default privileges behaves the same.
grant usage on schema public to anon, authenticated, service_role;
grant select, insert, update, delete on all tables in schema public to anon, authenticated, service_role;
