-- Security hardening: subscription secrets never leave the database except to sign.
-- Webhook signing secrets are read only by public.sign_alert_body() (security definer,
-- executable by service_role only), which returns an HMAC, never the secret. Here the
-- API roles lose SELECT on the column itself, so no PostgREST query, Studio SQL run as
-- service_role or leaked key can read it:
--   * table-level SELECT on subscriptions is revoked from anon, authenticated and
--     service_role (and PUBLIC), and SELECT is granted back on every other column;
--   * INSERT, UPDATE and DELETE stay, so operators can still set and rotate secrets.
-- Consequences: `select *` on subscriptions fails for these roles with 42501 (permission
-- denied) instead of silently returning or omitting the secret; list the columns. A column
-- added to subscriptions later is not readable by them until granted (see
-- docs/security.md); re-running `grant select on all tables in schema public` would undo
-- this, and supabase/tests/rls_matrix_test.sql fails if that happens.

revoke select on table public.subscriptions from public, anon, authenticated, service_role;

do $$
declare v_columns text;
begin
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
  from pg_attribute a
  where a.attrelid = 'public.subscriptions'::regclass
    and a.attnum > 0 and not a.attisdropped and a.attname <> 'secret';
  execute format('grant select (%s) on table public.subscriptions to anon, authenticated, service_role',
                 v_columns);
end $$;

comment on column public.subscriptions.secret is 'Webhook signing secret (HMAC-SHA256). Write-only for the API roles: no role but the owner can read it (column privileges); alerts are signed inside the database by sign_alert_body().';
