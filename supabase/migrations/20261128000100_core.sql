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

grant usage on schema public to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- What every domain's migration says of its objects, said once here: a table's or view's
-- comments (all of its columns, checked), a public table's exposure to the API roles, and
-- which RPCs only the service role may call. Migrations call them right after creating
-- the object; the statements they run are the ones supabase/schema.sql shows.
create or replace function private.describe(p_relation regclass, p_comment text, p_columns jsonb)
returns void
language plpgsql set search_path = '' as $$
declare
  v_kind text;
  v_missing text;
  v_unknown text;
  v_column record;
begin
  select case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end
  into v_kind from pg_catalog.pg_class c where c.oid = p_relation;
  select string_agg(a.attname, ', ' order by a.attnum) into v_missing
  from pg_catalog.pg_attribute a
  where a.attrelid = p_relation and a.attnum > 0 and not a.attisdropped
    and not coalesce(p_columns ? a.attname, false);
  select string_agg(k.name, ', ' order by k.name) into v_unknown
  from jsonb_object_keys(coalesce(p_columns, '{}'::jsonb)) as k(name)
  where not exists (select 1 from pg_catalog.pg_attribute a
                    where a.attrelid = p_relation and a.attname = k.name
                      and a.attnum > 0 and not a.attisdropped);
  if v_missing is not null or v_unknown is not null then
    raise exception 'Cannot describe %: columns without a comment: %; comments of no column: %',
      p_relation, coalesce(v_missing, 'none'), coalesce(v_unknown, 'none') using errcode = '22023';
  end if;
  execute format('comment on %s %s is %L', v_kind, p_relation, p_comment);
  for v_column in select e.key, e.value from jsonb_each_text(p_columns) as e loop
    execute format('comment on column %s.%I is %L', p_relation, v_column.key, v_column.value);
  end loop;
end $$;
comment on function private.describe(regclass, text, jsonb) is 'Migrations: comments a table or view (p_comment) and each of its columns (p_columns: {column: comment}); raises 22023 when a column has no comment or a comment names no column.';

-- Table privileges follow Supabase's defaults (anon, authenticated and service_role are
-- granted table access; RLS decides which rows), spelled out so a database without those
-- default privileges behaves the same. Admin users (app_metadata.role, which only the
-- service role can write) read from their own supabase-js client; writes stay with the
-- API (service role).
create or replace function private.expose_table(p_table regclass, p_admin_read boolean default false)
returns void
language plpgsql set search_path = '' as $$
declare
  v_policy text := 'Admin users can read '
    || replace((select c.relname from pg_catalog.pg_class c where c.oid = p_table), '_', ' ');
begin
  execute format('alter table %s enable row level security', p_table);
  execute format('grant select, insert, update, delete on table %s to anon, authenticated, service_role',
    p_table);
  if p_admin_read then
    execute format('drop policy if exists %I on %s', v_policy, p_table);
    execute format('create policy %I on %s for select to authenticated using (%s)', v_policy, p_table,
      $sql$((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin'$sql$);
  end if;
end $$;
comment on function private.expose_table(regclass, boolean) is 'Migrations: enables RLS on a public table and grants the API roles table access (Supabase''s defaults, spelled out); with p_admin_read, adds the policy "Admin users can read <table>" (select, authenticated, app_metadata.role = admin).';

-- The RPCs the edge function calls with the service-role key: nobody else may.
create or replace function private.service_role_only(p_functions regprocedure[])
returns void
language plpgsql set search_path = '' as $$
declare v_function regprocedure;
begin
  foreach v_function in array p_functions loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_function);
    execute format('grant execute on function %s to service_role', v_function);
  end loop;
end $$;
comment on function private.service_role_only(regprocedure[]) is 'Migrations: makes each function executable by service_role only (revoked from PUBLIC, anon and authenticated, which Supabase''s default privileges grant).';
revoke all on function private.describe(regclass, text, jsonb) from public;
revoke all on function private.expose_table(regclass, boolean) from public;
revoke all on function private.service_role_only(regprocedure[]) from public;

-- ---------------------------------------------------------------------------
-- check_frequencies: how often a source is fetched. Adding a frequency is adding a row.
create table if not exists public.check_frequencies (
  name text primary key check (name ~ '^[a-z][a-z0-9_]{0,30}$'),
  check_interval interval not null check (check_interval > interval '0'),
  description text not null default '',
  -- Seconds of each frequency, so clients read a number instead of parsing an interval.
  interval_seconds double precision generated always as (extract(epoch from check_interval)) stored
);
select private.describe('public.check_frequencies',
  'Allowed values of sources.check_frequency and the interval each one means. Add a row to add a frequency.',
  jsonb_build_object(
    'name', 'Name used in sources.check_frequency, e.g. daily.',
    'check_interval', 'Time between two checks of a source with this frequency.',
    'description', 'Human description shown to operators.',
    'interval_seconds', 'check_interval in seconds (derived).'));

insert into public.check_frequencies (name, check_interval, description) values
  ('hourly', interval '1 hour', 'Checked at most once an hour'),
  ('daily', interval '1 day', 'Checked once a day, by the nightly run'),
  ('weekly', interval '7 days', 'Checked once a week')
on conflict (name) do nothing;
select private.expose_table('public.check_frequencies');
create policy "Signed-in users can read check frequencies" on public.check_frequencies
  for select to authenticated using (true);

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
  text_key text check (text_key is null or text_key ~ '^[0-9a-f]{64}:[0-9]{1,9}$'),
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
select private.describe('public.sources',
  'Public pages and PDFs where rules are published. Every active source is fetched when due by the daily-fetch job.',
  jsonb_build_object(
    'id', 'Source id.',
    'name', 'Human name, e.g. "UK Skilled Worker visa rules".',
    'url', 'http(s) URL fetched by the pipeline.',
    'active', 'Only active sources are fetched.',
    'check_frequency', 'How often the source is due (see check_frequencies).',
    'css_selector', 'Optional CSS selector of the part of an HTML page to watch; default is the main content.',
    'ignore_patterns', 'Regular expressions (JavaScript syntax) whose matches are removed from the text before hashing.',
    'render', 'How the page is fetched: static (HTTP GET, default) or browser (rendered by a real browser at BROWSER_WS_ENDPOINT, scripts run; HTML pages only).',
    'etag', 'ETag of the last 200 response, sent as If-None-Match.',
    'last_modified', 'Last-Modified of the last 200 response, sent as If-Modified-Since.',
    'last_hash', 'SHA-256 (hex) of the normalised text of the latest snapshot.',
    'text_key', 'What lets a check of an unchanged page skip normalisation: "<key>:<chars>", key the SHA-256 (hex) of the text extracted at a check, the version of the normaliser, the ignore patterns and the hash that text normalised to, chars the normalised text''s length (shared/pipeline/text_key.ts). A later check whose extracted text gives the same key with the source''s current last_hash has that hash. Null: none yet.',
    'last_snapshot_id', 'Latest snapshot of this source.',
    'last_checked_at', 'When the source was last fetched, successfully or not.',
    'last_success_at', 'When the source was last fetched successfully.',
    'last_error', 'Message of the last failure; null after a success.',
    'last_error_class', 'Class of the last failure (dns, connect, timeout, tls, http_4xx, http_5xx, too_large, too_many_redirects, unsupported_content, parse, blocked, browser, internal; poison when the job gave up on it after its invocations died on every attempt).',
    'consecutive_failures', 'Failed checks since the last success.',
    'failing_alerted', 'True once a "source failing" alert was sent for the current failure streak.',
    'created_at', 'When the source was added.',
    'updated_at', 'When the source''s definition (name, url, ignore patterns) last changed; fetch bookkeeping does not move it.'));
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
select private.expose_table('public.sources', p_admin_read => true);

-- ---------------------------------------------------------------------------
create table if not exists public.snapshots (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references public.sources (id) on delete cascade,
  fetch_id uuid not null unique,
  content_hash text not null check (content_hash ~ '^[0-9a-f]{64}$'),
  -- lz4, not the default pglz (hosted Postgres is built with lz4: supabase/postgres#483): a
  -- ~37 KB text is written ~4× faster (2.0 → 0.46 ms) and read ~1.5× faster, stored ~10 %
  -- larger (docs/storage.md).
  content text compression lz4 not null,
  content_type text,
  fetched_at timestamptz not null default now()
);
select private.describe('public.snapshots',
  'Normalised text of a source each time it changed (the first one is the baseline).',
  jsonb_build_object(
    'id', 'Snapshot id.',
    'source_id', 'Source the text was fetched from.',
    'fetch_id', 'Id of the fetch that produced it; a retried write of the same fetch is a no-op.',
    'content_hash', 'SHA-256 (hex) of content.',
    'content', 'Normalised text that was hashed.',
    'content_type', 'Media type of the response (text/html, application/pdf, ...).',
    'fetched_at', 'When the response was fetched.'));
create index if not exists snapshots_source_idx on public.snapshots (source_id, fetched_at desc);

alter table public.sources drop constraint if exists sources_last_snapshot_fk;
alter table public.sources add constraint sources_last_snapshot_fk
  foreign key (last_snapshot_id) references public.snapshots (id) on delete set null;
-- Deleting a snapshot (retention, a deleted source) checks this foreign key: without the
-- index each deleted snapshot scanned every source.
create index if not exists sources_last_snapshot_idx on public.sources (last_snapshot_id);
select private.expose_table('public.snapshots');

-- ---------------------------------------------------------------------------
create table if not exists public.policy_changes (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references public.sources (id) on delete cascade,
  snapshot_id uuid unique references public.snapshots (id) on delete cascade,
  previous_snapshot_id uuid references public.snapshots (id) on delete set null,
  detected_at timestamptz not null default now(),
  diff text compression lz4 not null default '',
  summary jsonb not null default '{}'::jsonb check (jsonb_typeof(summary) = 'object')
);
select private.describe('public.policy_changes',
  'A real change of a source''s text: the unified diff between two snapshots.',
  jsonb_build_object(
    'id', 'PolicyChange id.',
    'source_id', 'Source that changed.',
    'snapshot_id', 'Snapshot with the new text (unique: one change per snapshot).',
    'previous_snapshot_id', 'Snapshot with the old text.',
    'detected_at', 'When the change was detected.',
    'diff', 'Unified diff of the normalised text, old to new.',
    'summary', 'Short summary: lines_added, lines_removed, first_changed_lines.'));
create index if not exists policy_changes_source_idx on public.policy_changes (source_id, detected_at desc);
select private.expose_table('public.policy_changes', p_admin_read => true);

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
select private.describe('public.subscriptions',
  'Who is alerted of changes: one source (source_id) or all sources (source_id null).',
  jsonb_build_object(
    'id', 'Subscription id.',
    'source_id', 'Watched source; null means all sources.',
    'channel', 'Delivery channel: webhook, slack or email.',
    'target', 'Webhook or Slack incoming-webhook URL, or an email address.',
    'secret', 'Webhook signing secret (HMAC-SHA256). Never returned by the API.',
    'active', 'Only active subscriptions receive alerts.',
    'operational_alerts', 'Also receive "source failing", "source recovered" and "run missed" alerts.',
    'created_at', 'When the subscription was added.',
    'has_secret', 'True when a webhook signing secret is set (the secret itself is write-only).'));
create index if not exists subscriptions_source_idx on public.subscriptions (source_id) where active;
select private.expose_table('public.subscriptions');
-- (SELECT is narrowed to every column but the secret in the security migration.)
