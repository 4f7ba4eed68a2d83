-- The operators' surface (issue 13) that is not a column of another domain: the Atom
-- feed's tokens and the source_status view behind GET /api/sources.
--   * feed_tokens: revocable tokens of the Atom feed (feed readers cannot send a bearer
--     header, so the token is in the query); only the SHA-256 of each token is stored.
--     Only the service role (the API) reads or writes them.
--   * source_status: each source with its health and schedule.

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
grant select, insert, update, delete on table public.feed_tokens to anon, authenticated, service_role;

-- source_status: each source with its health and schedule, what GET /api/sources shows.
-- security_invoker: callers see only the sources their RLS lets them read.
create or replace view public.source_status with (security_invoker = true) as
select s.id, s.name, s.url, s.active, s.check_frequency, s.css_selector, s.ignore_patterns,
       s.render, s.created_at, s.updated_at, s.last_checked_at, s.last_success_at, s.last_error,
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
comment on column public.source_status.render is 'static (plain HTTP) or browser (a real browser renders the page).';
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
