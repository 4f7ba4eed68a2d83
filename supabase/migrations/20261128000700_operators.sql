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
select private.describe('public.feed_tokens',
  'Tokens that authorise reading the Atom feed of changes (GET /api/feeds/changes.atom?token=...). Created and revoked through the API; only their SHA-256 is stored.',
  jsonb_build_object(
    'id', 'Feed token id.',
    'name', 'What the token is for, e.g. "team feed reader".',
    'token_hash', 'SHA-256 (hex) of the token; the token itself is shown once, when created.',
    'created_at', 'When the token was created.',
    'last_used_at', 'When the feed was last read with it.',
    'revoked_at', 'When it was revoked; a revoked token reads nothing.'));
select private.expose_table('public.feed_tokens');

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
select private.describe('public.source_status',
  'Sources with their health and schedule: last check, last change, failure streak, next due time. Read this in Studio.',
  jsonb_build_object(
    'id', 'Source id.',
    'name', 'Human name.',
    'url', 'URL fetched.',
    'active', 'Only active sources are fetched.',
    'check_frequency', 'How often the source is due.',
    'css_selector', 'Part of the page watched, or null for the main content.',
    'ignore_patterns', 'Regular expressions removed before hashing.',
    'render', 'static (plain HTTP) or browser (a real browser renders the page).',
    'created_at', 'When the source was added.',
    'updated_at', 'When the source was last changed.',
    'last_checked_at', 'Last fetch, successful or not.',
    'last_success_at', 'Last successful fetch.',
    'last_error', 'Message of the last failure; null after a success.',
    'last_error_class', 'Class of the last failure.',
    'consecutive_failures', 'Failure streak: failed checks since the last success.',
    'last_change_at', 'When the last policy change of the source was detected.',
    'next_due_at', 'When the source is next due (last check + its frequency); null: due at the next run.'));
grant select on public.source_status to authenticated, service_role;
