-- Audit of security definer functions in the project's schemas (public, private), listed
-- from pg_proc so a function added later is covered without editing this file:
--   * each one pins search_path to '' (no schema of the caller's choosing is searched);
--   * none is executable by PUBLIC, anon or authenticated (the roles behind the API keys
--     and user tokens); the RPCs in public are executable by service_role, which the edge
--     function uses; private ones only by their owner (pg_cron runs them as postgres).
-- vault and net come from the platform (the local stack's bootstrap) and are left out.
-- A deliberately bad function, created and rolled back here, proves the audit finds it.
begin;
select plan(14);

create temp view definer_functions as
select p.oid, n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as fn, n.nspname as schema, p.proconfig
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where p.prosecdef and n.nspname in ('public', 'private');

-- Functions of the audit that break a rule, as a sorted array (null when none).
create function pg_temp.without_empty_search_path() returns text[] language sql as $$
  select array_agg(fn order by fn) from definer_functions
  where not coalesce(proconfig && array['search_path=""', 'search_path='''''], false)
$$;
create function pg_temp.executable_by(p_role text) returns text[] language sql as $$
  select array_agg(fn order by fn) from definer_functions
  where has_function_privilege(p_role, oid, 'execute')
$$;

select ok((select count(*) from definer_functions) >= 10,
  'the audit sees the project''s security definer functions');
select ok(exists (select 1 from definer_functions where fn = 'public.sign_alert_body(p_subscription_id uuid, p_body text)'),
  'the audit sees sign_alert_body, the one that reads subscription secrets');

select is(pg_temp.without_empty_search_path(), null,
  'every security definer function sets search_path to empty');
select is(pg_temp.executable_by('public'), null,
  'no security definer function is executable by PUBLIC');
select is(pg_temp.executable_by('anon'), null,
  'no security definer function is executable by anon');
select is(pg_temp.executable_by('authenticated'), null,
  'no security definer function is executable by authenticated');
select is(
  (select array_agg(fn order by fn) from definer_functions
   where schema = 'public' and not has_function_privilege('service_role', oid, 'execute')),
  null,
  'every security definer RPC in public is executable by service_role');
select is(
  (select array_agg(fn order by fn) from definer_functions
   where schema = 'private' and has_function_privilege('service_role', oid, 'execute')),
  null,
  'no private security definer function is executable by service_role');
select ok(
  not has_schema_privilege('anon', 'private', 'usage')
  and not has_schema_privilege('authenticated', 'private', 'usage')
  and not has_schema_privilege('public', 'private', 'usage'),
  'the private schema is not usable by PUBLIC, anon or authenticated');

-- Canary: a function as it is created by default: no search_path, EXECUTE to PUBLIC and,
-- through Supabase's default privileges in public, to anon and authenticated directly.
create function public.pgtap_definer_canary() returns int
language sql security definer as $$ select 1 $$;
select is(pg_temp.without_empty_search_path(), array['public.pgtap_definer_canary()'],
  'canary: a definer function without search_path is reported');
select is(pg_temp.executable_by('anon'), array['public.pgtap_definer_canary()'],
  'canary: a definer function executable by anon is reported');
alter function public.pgtap_definer_canary() set search_path = '';
select is(pg_temp.without_empty_search_path(), null,
  'canary: fixed with set search_path = '''' it passes');
revoke execute on function public.pgtap_definer_canary() from public;
select is(pg_temp.executable_by('authenticated'), array['public.pgtap_definer_canary()'],
  'canary: revoking from PUBLIC alone is not enough (default privileges grant anon and authenticated)');
revoke execute on function public.pgtap_definer_canary() from anon, authenticated;
select is(pg_temp.executable_by('authenticated'), null,
  'canary: fixed with revoke execute from public, anon, authenticated it passes');

select * from finish();
rollback;
