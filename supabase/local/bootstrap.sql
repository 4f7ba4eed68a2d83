-- Bootstrap of the Docker-less local stack: what a hosted Supabase project already has
-- before any migration runs. Never part of supabase/migrations (hosted projects have all
-- of this). Idempotent: run on every `deno task stack:start`.
--   * roles anon, authenticated, service_role, authenticator (PostgREST logs in as it)
--   * auth.uid(), auth.role(), auth.jwt() from PostgREST's request claims
--   * extensions schema with pgcrypto and pg_cron
--   * vault.create_secret(), vault.update_secret(), vault.decrypted_secrets (plain text
--     locally; encrypted at rest on hosted projects)
--   * net.http_post(), net.http_get(), net.http_request_queue, net._http_response with
--     pg_net's signatures; supabase/local/net_dispatcher.ts sends queued requests after
--     the transaction commits (pg_notify is only delivered on commit).

-- Runs as the bootstrap superuser `supabase_admin` (initdb -U supabase_admin), like the
-- platform's own setup; `postgres` is demoted exactly as supabase/postgres does it
-- (migrations/db/migrations/10000000000000_demote-postgres.sql:
-- `alter role postgres nosuperuser createdb createrole login replication bypassrls`), so a
-- migration that needs superuser fails here as it does on a hosted project.

do $$
begin
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end $$;
alter role postgres nosuperuser createdb createrole login replication bypassrls;
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
alter database postgres owner to postgres;
grant all on database postgres to postgres;

-- The API roles' settings of a hosted project (supabase/postgres
-- migrations/db/init-scripts/00000000000000-initial-schema.sql: anon 3 s, authenticated
-- 8 s; 20221028101028_set_authenticator_timeout.sql and
-- 20231130133139_set_lock_timeout_to_authenticator_role.sql: authenticator 8 s and lock
-- 8 s). PostgREST logs in as authenticator and applies the impersonated role's settings, so
-- every request of the service role runs under authenticator's 8 s.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path = "$user", public, extensions;

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
-- Extensions postgres cannot create itself: hosted projects let it through supautils; here
-- the superuser creates them up front, and `create extension if not exists` in a
-- migration finds them.
create extension if not exists pg_cron;
create extension if not exists pg_stat_statements with schema extensions;
-- pg_cron access as supabase/postgres grants it (grant_pg_cron_access, then
-- 20231020085357_revoke_writes_on_cron_job_from_postgres.sql: cron.job is read-only; jobs
-- are changed through cron.schedule / cron.alter_job / cron.unschedule).
grant usage on schema cron to postgres with grant option;
grant all on all tables in schema cron to postgres with grant option;
grant all on all sequences in schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;

-- Supabase's default privileges: objects postgres creates in public are reachable by the
-- API roles, and RLS decides which rows they see.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to anon, authenticated, service_role;

-- auth ----------------------------------------------------------------------------
create schema if not exists auth;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create or replace function auth.jwt() returns jsonb
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

-- auth.uid() and auth.role() read one claim as hosted projects' do: the older per-claim
-- setting request.jwt.claim.<name> first, then PostgREST's request.jwt.claims. (The
-- helper is local: hosted spells the same expression out in each function.)
create or replace function auth._jwt_claim(p_name text) returns text
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.' || p_name, true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> p_name)
  )
$$;

create or replace function auth.uid() returns uuid
language sql stable as $$ select auth._jwt_claim('sub')::uuid $$;

create or replace function auth.role() returns text
language sql stable as $$ select auth._jwt_claim('role') $$;

create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  email text unique,
  raw_app_meta_data jsonb not null default '{}'::jsonb,
  raw_user_meta_data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table auth.users is 'Local stand-in for GoTrue''s users table (id, email, metadata).';
-- The SQL editor (postgres) can read users and set their app_metadata (README: admin user).
grant select, insert, update, delete on auth.users to postgres;

-- vault -------------------------------------------------------------------------
-- Owned by supabase_admin. As on hosted projects (supabase/postgres
-- migrations/db/migrations/20221207154255_create_vault.sql), postgres may read and delete
-- secrets but writes them only through vault.create_secret / vault.update_secret.
create schema if not exists vault;
revoke all on schema vault from public;
grant usage on schema vault to postgres with grant option;
grant usage on schema vault to service_role;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table vault.secrets is 'Local stand-in for Supabase Vault (stored in plain text locally).';

create or replace view vault.decrypted_secrets as
select id, name, description, secret, secret as decrypted_secret, key_id, nonce, created_at, updated_at
from vault.secrets;

create or replace function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare v_id uuid;
begin
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  returning id into v_id;
  return v_id;
end $$;

create or replace function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  update vault.secrets set
    secret = coalesce(new_secret, secret),
    name = coalesce(new_name, name),
    description = coalesce(new_description, description),
    key_id = coalesce(new_key_id, key_id),
    updated_at = now()
  where id = secret_id;
end $$;
revoke all on all tables in schema vault from public, anon, authenticated, postgres, service_role;
revoke all on function vault.create_secret(text, text, text, uuid) from public, anon, authenticated;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public, anon, authenticated;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant execute on function vault.create_secret(text, text, text, uuid) to postgres with grant option;
grant execute on function vault.update_secret(uuid, text, text, text, uuid) to postgres with grant option;
grant select on vault.decrypted_secrets to service_role;

-- net (pg_net) ------------------------------------------------------------------
-- Owned by supabase_admin; the dispatcher (net_dispatcher.ts) connects as supabase_admin,
-- as pg_net's background worker runs inside the server. Grants as hosted projects have
-- them (supabase/postgres migrations/db/migrations/20250220051611_pg_net_perms_fix.sql:
-- usage on net for postgres and the API roles, http_get/http_post executable by public;
-- pg_net's own script grants postgres all on net's tables).
create schema if not exists net;
revoke all on schema net from public;
grant usage on schema net to postgres, anon, authenticated, service_role;

create unlogged table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds integer not null
);

create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

create or replace function net._urlencode_string(string varchar) returns text
language sql immutable strict as $$
  select string_agg(
    case when ch ~ '[A-Za-z0-9_.~-]' then ch
         else regexp_replace(upper(encode(convert_to(ch, 'utf8'), 'hex')), '(..)', '%\1', 'g') end,
    '' order by ord)
  from regexp_split_to_table(string, '') with ordinality as t(ch, ord)
$$;

create or replace function net._encode_url_with_params(url text, params jsonb) returns text
language sql immutable as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when strpos(url, '?') > 0 then '&' else '?' end || (
      select string_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value), '&')
      from jsonb_each_text(params))
  end
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile strict security definer set search_path = '' as $$
declare request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._encode_url_with_params(url, params), headers, timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('net_http_request', request_id::text);
  return request_id;
end $$;

-- pg_net's http_post (supabase/pg_net sql/pg_net.sql): a Content-Type header (any case of
-- the name) other than exactly `application/json` is refused, a missing one is added, and
-- the body must not be null.
create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile security definer set search_path = '' as $$
declare
  request_id bigint;
  content_type text;
begin
  select h.value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) h
  where lower(h.key) = 'content-type'
  limit 1;
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  if body is null then
    raise exception 'body must not be null';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._encode_url_with_params(url, params), headers,
          convert_to(body::text, 'utf8'), timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('net_http_request', request_id::text);
  return request_id;
end $$;

grant execute on function net.http_get(text, jsonb, jsonb, int) to public;
grant execute on function net.http_post(text, jsonb, jsonb, jsonb, int) to public;
grant all on net.http_request_queue, net._http_response to postgres;
grant select on net._http_response to service_role;

-- pgTAP for the database tests (supabase/tests/*.sql, run with pg_prove); Supabase's
-- search_path puts extensions after public.
create extension if not exists pgtap with schema extensions;
alter database postgres set search_path = "$user", public, extensions;
-- postgres owns the database, hence public (pg_database_owner); migrations create there.
grant all on schema public to postgres;
