-- supabase/schema.sql: the schema the migrations build, dumped by `deno task schema:dump`.
-- Do not edit: change supabase/migrations/*.sql, then run `deno task schema:dump`;
-- `deno task schema:check` (part of `deno task test`) fails when this file is stale.
-- pg_dump --schema-only of the schemas public and private, then the extensions, pg_cron
-- jobs and rows the migrations own.

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
--

CREATE SCHEMA public;

ALTER SCHEMA public OWNER TO pg_database_owner;

--
-- Name: SCHEMA public; Type: COMMENT; Schema: -; Owner: pg_database_owner
--

COMMENT ON SCHEMA public IS 'standard public schema';

--
-- Name: private; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA private;

ALTER SCHEMA private OWNER TO postgres;

--
-- Name: SCHEMA private; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA private IS 'Internals of the policy monitor (helpers, queues). Not exposed through the API.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alerts; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.alerts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    policy_change_id uuid,
    subscription_id uuid NOT NULL,
    kind text DEFAULT 'policy_change'::text NOT NULL,
    event_key text,
    source_id uuid,
    payload jsonb,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT alerts_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT alerts_kind_check CHECK ((kind = ANY (ARRAY['policy_change'::text, 'source_failing'::text, 'source_recovered'::text, 'run_missed'::text, 'alert_dead'::text]))),
    CONSTRAINT alerts_kind_shape CHECK ((((kind = 'policy_change'::text) AND (policy_change_id IS NOT NULL)) OR ((kind <> 'policy_change'::text) AND (event_key IS NOT NULL)))),
    CONSTRAINT alerts_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'dead'::text])))
);

ALTER TABLE public.alerts OWNER TO postgres;

--
-- Name: TABLE alerts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.alerts IS 'Outbox of notifications: one row per (policy change, subscription), written before sending, so nothing is sent twice.';

--
-- Name: COLUMN alerts.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.id IS 'Alert id.';

--
-- Name: COLUMN alerts.policy_change_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.policy_change_id IS 'Change being announced (policy_change alerts).';

--
-- Name: COLUMN alerts.subscription_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.subscription_id IS 'Recipient subscription.';

--
-- Name: COLUMN alerts.kind; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.kind IS 'policy_change, or an operational alert: source_failing, source_recovered, run_missed, alert_dead (another alert was given up).';

--
-- Name: COLUMN alerts.event_key; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.event_key IS 'Deduplication key of operational alerts (one per event and subscription).';

--
-- Name: COLUMN alerts.source_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.source_id IS 'Source concerned, when there is one.';

--
-- Name: COLUMN alerts.payload; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.payload IS 'Event data of operational alerts.';

--
-- Name: COLUMN alerts.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.status IS 'pending, sending, sent, failed (will be retried) or dead (gave up).';

--
-- Name: COLUMN alerts.attempts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.attempts IS 'Delivery attempts so far.';

--
-- Name: COLUMN alerts.next_attempt_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.next_attempt_at IS 'Earliest time of the next attempt of a failed alert.';

--
-- Name: COLUMN alerts.sent_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.sent_at IS 'When the receiver accepted it.';

--
-- Name: COLUMN alerts.error; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.error IS 'Last delivery error.';

--
-- Name: COLUMN alerts.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.created_at IS 'When the alert was queued.';

--
-- Name: COLUMN alerts.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.alerts.updated_at IS 'When the row last changed.';

--
-- Name: alert_queued_json(public.alerts); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.alert_queued_json(p_alert public.alerts) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'id', p_alert.id,
    'subscription_id', p_alert.subscription_id,
    'channel', (select s.channel from public.subscriptions s where s.id = p_alert.subscription_id),
    'kind', p_alert.kind,
    'status', p_alert.status,
    'attempts', p_alert.attempts,
    'next_attempt_at', p_alert.next_attempt_at)
$$;

ALTER FUNCTION private.alert_queued_json(p_alert public.alerts) OWNER TO postgres;

--
-- Name: FUNCTION alert_queued_json(p_alert public.alerts); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.alert_queued_json(p_alert public.alerts) IS 'An alerts row as returned by the enqueue RPCs (QueuedAlert in shared/alerts/types.ts).';

--
-- Name: apply_source_bookkeeping(jsonb, text, uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.apply_source_bookkeeping(p_patches jsonb, p_last_hash text DEFAULT NULL::text, p_last_snapshot_id uuid DEFAULT NULL::uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
declare
  v_count integer;
  v_ids uuid[];
  v_invalid boolean;
begin
  if p_patches is null or jsonb_typeof(p_patches) <> 'array' then
    raise exception 'Cannot update source bookkeeping: p_patches must be a JSON array'
      using errcode = '22023';
  end if;
  -- One pass: whether every patch has its keys, and the ids as an array (`id = any (v_ids)`
  -- is a primary-key lookup whatever the table's size; a join with jsonb_array_elements,
  -- estimated at 100 rows, was planned as a sequential scan of sources once they were many:
  -- h16b, bench_queue at 10,000 sources).
  select coalesce(bool_or(jsonb_typeof(e) <> 'object' or not (e ? 'id') or not (e ? 'last_checked_at')), false),
         array_agg(distinct (e ->> 'id')::uuid) filter (where jsonb_typeof(e) = 'object')
    into v_invalid, v_ids
  from jsonb_array_elements(p_patches) as e;
  if v_invalid then
    raise exception 'Cannot update source bookkeeping: every patch needs id and last_checked_at'
      using errcode = '22023';
  end if;
  -- A snapshot's hash moves one source, with that source's patch (record_snapshot).
  if (p_last_hash is not null or p_last_snapshot_id is not null)
     and (jsonb_array_length(p_patches) <> 1 or p_last_hash is null or p_last_snapshot_id is null) then
    raise exception 'Cannot update source bookkeeping: a snapshot (hash and id) goes with exactly one patch'
      using errcode = '22023';
  end if;

  -- The rows are updated, and so locked, in id order (the patches come sorted by id and the
  -- plan, generic, drives the update from them), so two batches (or a batch and
  -- record_snapshot) never wait on each other in a cycle. (A separate `select … for update`
  -- pass in id order wrote each row's lock before the update wrote the row: ~45 % of the
  -- call, 64 patches 6.4–7.2 → 3.9 ms in psql.)
  with patches as (
    -- The last patch of a source in the batch wins.
    select distinct on ((e->>'id')::uuid) (e->>'id')::uuid as id, e as p
    from jsonb_array_elements(p_patches) with ordinality as t(e, ord)
    order by (e->>'id')::uuid, ord desc
  )
  update public.sources s set
    -- (the snapshot's hash and id: record_snapshot's one write of the row)
    last_hash = coalesce(p_last_hash, s.last_hash),
    last_snapshot_id = coalesce(p_last_snapshot_id, s.last_snapshot_id),
    last_checked_at = (x.p->>'last_checked_at')::timestamptz,
    last_success_at = case when x.p ? 'last_success_at'
      then (x.p->>'last_success_at')::timestamptz else s.last_success_at end,
    etag = case when x.p ? 'etag' then x.p->>'etag' else s.etag end,
    last_modified = case when x.p ? 'last_modified' then x.p->>'last_modified' else s.last_modified end,
    last_error = case when x.p ? 'last_error' then x.p->>'last_error' else s.last_error end,
    last_error_class = case when x.p ? 'last_error_class'
      then x.p->>'last_error_class' else s.last_error_class end,
    consecutive_failures = case when x.p ? 'consecutive_failures'
      then (x.p->>'consecutive_failures')::integer else s.consecutive_failures end,
    text_key = case when x.p ? 'text_key' then x.p->>'text_key' else s.text_key end
  from patches x
  where s.id = any (v_ids) and s.id = x.id
    -- A late patch (an invocation whose lease expired) never overwrites a newer check.
    and (s.last_checked_at is null or (x.p->>'last_checked_at')::timestamptz >= s.last_checked_at);
  get diagnostics v_count = row_count;
  return v_count;
end $$;

ALTER FUNCTION private.apply_source_bookkeeping(p_patches jsonb, p_last_hash text, p_last_snapshot_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION apply_source_bookkeeping(p_patches jsonb, p_last_hash text, p_last_snapshot_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.apply_source_bookkeeping(p_patches jsonb, p_last_hash text, p_last_snapshot_id uuid) IS 'update_source_bookkeeping''s patches (see there), and with p_last_hash and p_last_snapshot_id (one patch only) also a recorded snapshot''s hash and id in the same row write: record_snapshot writes its source once (a late patch, older than the row''s last_checked_at, writes nothing: record_snapshot then moves the hash alone). Returns the number of sources updated.';

--
-- Name: call_api(text, text, jsonb, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_url text := (select s.decrypted_secret from vault.decrypted_secrets s where s.name = 'project_url');
  v_key text := (select s.decrypted_secret from vault.decrypted_secrets s where s.name = 'service_role_key');
  v_request bigint;
begin
  if v_url is null or v_key is null then
    raise exception 'Cannot call % for %: Vault has no project_url or no service_role_key secret',
      p_path, p_job_name using errcode = 'P0002', hint = 'See README, Deploy to a hosted project.';
  end if;
  v_request := net.http_post(
    url := v_url || p_path,
    body := p_body,
    headers := jsonb_build_object('Content-Type', 'application/json',
      'apikey', v_key, 'Authorization', 'Bearer ' || v_key)
      || case when p_async then '{"Prefer": "respond-async"}'::jsonb else '{}'::jsonb end,
    timeout_milliseconds := 30000);
  insert into private.cron_dispatches (job_name, request_id) values (p_job_name, v_request);
  return v_request;
end $$;

ALTER FUNCTION private.call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean) OWNER TO postgres;

--
-- Name: FUNCTION call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean) IS 'pg_cron''s requests of the edge function: POST <Vault project_url><p_path> with the Vault service_role_key as apikey and bearer (Prefer: respond-async when p_async), recorded in private.cron_dispatches as p_job_name; returns the pg_net request id. Raises P0002 when either secret is missing.';

--
-- Name: check_missed_daily_fetch(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.check_missed_daily_fetch() RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_dispatch private.cron_dispatches;
  v_status integer;
  v_error text;
  v_detail text;
  v_id uuid;
  v_schedule private.fetch_schedule;
  v_window interval;
begin
  -- The window follows the schedule in force: its longest gap plus a grace of that gap
  -- again, at most 2 hours (daily: 26 hours; hourly: 2 hours).
  select * into v_schedule from private.fetch_schedule where job_name = 'daily-fetch';
  v_window := coalesce(v_schedule.max_gap, interval '24 hours')
    + least(coalesce(v_schedule.max_gap, interval '24 hours'), interval '2 hours');
  if exists (select 1 from public.job_runs
             where job_name = 'daily-fetch' and started_at > now() - v_window)
     or exists (select 1 from private.watchdog_state
                where job_name = 'daily-fetch' and watching_since > now() - v_window) then
    return null;
  end if;
  select * into v_dispatch from private.cron_dispatches
  where job_name = 'daily-fetch' order by dispatched_at desc limit 1;
  if v_dispatch.id is not null then
    select r.status_code, coalesce(r.error_msg, case when r.timed_out then 'timed out' end)
      into v_status, v_error
    from net._http_response r where r.id = v_dispatch.request_id;
  end if;
  v_detail := case
    when v_dispatch.id is null then 'the cron job never dispatched a request'
    when v_status is not null then format('last dispatch at %s got HTTP %s',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_status)
    when v_error is not null then format('last dispatch at %s failed: %s',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_error)
    else format('last dispatch at %s has no response',
      to_char(v_dispatch.dispatched_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
  end;
  insert into public.job_runs (job_name, trigger, status, completed_at, options, errors)
  values ('daily-fetch', 'cron', 'failed', now(),
          jsonb_build_object('watchdog', 'missed_run', 'http_status', v_status),
          jsonb_build_array(format('scheduled run (%s) did not start in the last %s hours: ',
            coalesce(v_schedule.schedule, 'daily'),
            round((extract(epoch from v_window) / 3600)::numeric, 2)::float8) || v_detail))
  returning id into v_id;
  return v_id;
end $$;

ALTER FUNCTION private.check_missed_daily_fetch() OWNER TO postgres;

--
-- Name: FUNCTION check_missed_daily_fetch(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.check_missed_daily_fetch() IS 'Watchdog run by pg_cron: when no daily-fetch run started within the schedule''s window (private.fetch_schedule max_gap plus min(max_gap, 2 hours): 26 hours for daily), records a failed job_runs row saying so (with the last pg_net response status) and returns its id.';

--
-- Name: cron_field_values(text, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.cron_field_values(p_field text, p_min integer, p_max integer) RETURNS integer[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
declare
  v_part text;
  v_m text[];
  v_lo integer;
  v_hi integer;
  v_step integer;
  v_out integer[] := '{}';
begin
  foreach v_part in array string_to_array(p_field, ',') loop
    v_m := regexp_match(v_part, '^(\*|([0-9]{1,2})(?:-([0-9]{1,2}))?)(?:/([0-9]{1,2}))?$');
    if v_m is null then
      raise exception 'invalid cron field "%": use numbers, *, a-b, lists and /step', p_field
        using errcode = '22023';
    end if;
    if v_m[1] = '*' then
      v_lo := p_min; v_hi := p_max;
    else
      v_lo := v_m[2]::integer;
      v_hi := coalesce(v_m[3]::integer, case when v_m[4] is not null then p_max else v_lo end);
    end if;
    v_step := coalesce(v_m[4]::integer, 1);
    if v_lo < p_min or v_hi > p_max or v_lo > v_hi or v_step < 1 then
      raise exception 'invalid cron field "%": values are % to %', p_field, p_min, p_max
        using errcode = '22023';
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return v_out;
end $_$;

ALTER FUNCTION private.cron_field_values(p_field text, p_min integer, p_max integer) OWNER TO postgres;

--
-- Name: FUNCTION cron_field_values(p_field text, p_min integer, p_max integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.cron_field_values(p_field text, p_min integer, p_max integer) IS 'Values one field of a five-field cron expression matches (numbers, *, ranges, lists, steps); raises 22023 on anything else.';

--
-- Name: cron_max_gap(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.cron_max_gap(p_expression text) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
declare
  v_fields text[] := regexp_split_to_array(btrim(coalesce(p_expression, '')), '\s+');
  v_minutes integer[];
  v_hours integer[];
  v_doms integer[];
  v_months integer[];
  v_dows integer[];
  v_times integer[];
  v_within integer;
  v_across integer;
begin
  if array_length(v_fields, 1) is distinct from 5 then
    raise exception 'a schedule is five cron fields (minute hour day-of-month month day-of-week), got "%"',
      p_expression using errcode = '22023';
  end if;
  v_minutes := private.cron_field_values(v_fields[1], 0, 59);
  v_hours := private.cron_field_values(v_fields[2], 0, 23);
  v_doms := private.cron_field_values(v_fields[3], 1, 31);
  v_months := private.cron_field_values(v_fields[4], 1, 12);
  v_dows := array(select case when d = 7 then 0 else d end
                  from unnest(private.cron_field_values(v_fields[5], 0, 7)) d);
  -- Minutes of the day it fires on a matching day (the same on every matching day).
  v_times := array(select distinct h * 60 + m from unnest(v_hours) h, unnest(v_minutes) m
                   order by 1);
  select coalesce(max(next_t - t), 0) into v_within
  from (select t, lead(t) over (order by t) as next_t from unnest(v_times) t) x;
  -- Matching days over nine years (two leap days); cron ORs day-of-month and day-of-week
  -- when both are restricted, otherwise ANDs them.
  with days as (
    select d::date as day from generate_series(date '2024-01-01', date '2032-12-31', interval '1 day') d
    where extract(month from d)::integer = any(v_months)
      and case when v_fields[3] <> '*' and v_fields[5] <> '*'
        then extract(day from d)::integer = any(v_doms) or extract(dow from d)::integer = any(v_dows)
        else extract(day from d)::integer = any(v_doms) and extract(dow from d)::integer = any(v_dows)
      end
  ), gaps as (
    select (lead(day) over (order by day) - day) as days_between from days
  )
  select max(days_between) * 1440 + v_times[1] - v_times[array_length(v_times, 1)]
    into v_across from gaps;
  if v_across is null then
    raise exception 'the schedule "%" fires less than twice in nine years', p_expression
      using errcode = '22023';
  end if;
  return make_interval(mins => greatest(v_within, v_across));
end $$;

ALTER FUNCTION private.cron_max_gap(p_expression text) OWNER TO postgres;

--
-- Name: FUNCTION cron_max_gap(p_expression text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.cron_max_gap(p_expression text) IS 'Longest time between two firings of a five-field cron expression (UTC); raises 22023 when the expression is not one.';

--
-- Name: describe(regclass, text, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.describe(p_relation regclass, p_comment text, p_columns jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.describe(p_relation regclass, p_comment text, p_columns jsonb) OWNER TO postgres;

--
-- Name: FUNCTION describe(p_relation regclass, p_comment text, p_columns jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.describe(p_relation regclass, p_comment text, p_columns jsonb) IS 'Migrations: comments a table or view (p_comment) and each of its columns (p_columns: {column: comment}); raises 22023 when a column has no comment or a comment names no column.';

--
-- Name: enqueue_operational_alerts(text, text, uuid, jsonb, timestamp with time zone, uuid, uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid DEFAULT NULL::uuid, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if p_kind not in ('source_failing', 'source_recovered', 'run_missed', 'alert_dead') then
    raise exception 'Cannot queue operational alerts: unknown kind %', p_kind using errcode = '22023';
  end if;
  if p_event_key is null or length(p_event_key) = 0 then
    raise exception 'Cannot queue % alerts: empty event_key', p_kind using errcode = '22023';
  end if;
  return private.queue_alerts(p_kind, null, p_event_key, p_source_id, coalesce(p_payload, '{}'::jsonb),
    p_now, p_exclude_subscription_id, p_subscription_ids);
end $$;

ALTER FUNCTION private.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) IS 'Queues one alert of an operational event per active operational subscription concerned (all of them for source-less events; never p_exclude_subscription_id; only p_subscription_ids unless null) and returns every row of the event (in the scope).';

--
-- Name: expose_table(regclass, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.expose_table(p_table regclass, p_admin_read boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
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
end $_$;

ALTER FUNCTION private.expose_table(p_table regclass, p_admin_read boolean) OWNER TO postgres;

--
-- Name: FUNCTION expose_table(p_table regclass, p_admin_read boolean); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.expose_table(p_table regclass, p_admin_read boolean) IS 'Migrations: enables RLS on a public table and grants the API roles table access (Supabase''s defaults, spelled out); with p_admin_read, adds the policy "Admin users can read <table>" (select, authenticated, app_metadata.role = admin).';

--
-- Name: job_claim_answer(uuid, text, integer, timestamp with time zone, uuid[], integer[], integer[], uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION private.job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]) IS 'Last step of private.job_claim_next: marks the picked items claimed (p_starts: start_in_ms, p_slots: request slot, per item) and returns them with the poison items just failed (p_poisoned), as job_claim_items answers.';

--
-- Name: job_claim_next(uuid, text, integer, integer, integer, integer, integer, integer, uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION private.job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]) IS 'job_claim_items after its poison step: claims the items (p_poisoned: sources of the items just failed as poison, returned marked).';

--
-- Name: job_count_outcomes(uuid, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_count_outcomes(p_run_id uuid, p_tally jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION private.job_count_outcomes(p_run_id uuid, p_tally jsonb) OWNER TO postgres;

--
-- Name: FUNCTION job_count_outcomes(p_run_id uuid, p_tally jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_count_outcomes(p_run_id uuid, p_tally jsonb) IS 'Second step of a completion: moves the run''s counters by the tally of private.job_record_outcomes and finalises the run when no item is left (exactly once). Returns {completed, finalised, run}.';

--
-- Name: job_fail_poison_items(uuid, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_fail_poison_items(p_run_id uuid, p_max_attempts integer) RETURNS uuid[]
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION private.job_fail_poison_items(p_run_id uuid, p_max_attempts integer) OWNER TO postgres;

--
-- Name: FUNCTION job_fail_poison_items(p_run_id uuid, p_max_attempts integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_fail_poison_items(p_run_id uuid, p_max_attempts integer) IS 'Finalises as failed (class poison) every item of a running run whose lease expired after its p_max_attempts-th claim, with the source''s bookkeeping (failure streak, last error, last check). Called by job_claim_items. Returns the sources of the items it failed.';

--
-- Name: job_item_gone(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_item_gone() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.job_item_gone() OWNER TO postgres;

--
-- Name: FUNCTION job_item_gone(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_item_gone() IS 'Trigger of job_run_sources: an open item deleted (its source was deleted mid-run) is counted in private.run_items_gone, so the run''s open count stays exact.';

--
-- Name: job_run_sources; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.job_run_sources (
    run_id uuid NOT NULL,
    source_id uuid NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    changed boolean DEFAULT false NOT NULL,
    baseline boolean DEFAULT false NOT NULL,
    policy_change_id uuid,
    error_class text,
    error_message text,
    duration_ms integer,
    attempts integer DEFAULT 0 NOT NULL,
    lease_until timestamp with time zone,
    claimed_by text,
    finished_at timestamp with time zone,
    fetch_id uuid DEFAULT gen_random_uuid() NOT NULL,
    host text DEFAULT ''::text NOT NULL,
    slot integer,
    content jsonb,
    CONSTRAINT job_run_sources_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT job_run_sources_duration_ms_check CHECK (((duration_ms IS NULL) OR (duration_ms >= 0))),
    CONSTRAINT job_run_sources_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'claimed'::text, 'succeeded'::text, 'failed'::text, 'skipped'::text])))
);

ALTER TABLE public.job_run_sources OWNER TO postgres;

--
-- Name: TABLE job_run_sources; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.job_run_sources IS 'Per-run, per-source work item and outcome of a job run.';

--
-- Name: COLUMN job_run_sources.run_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.run_id IS 'Run.';

--
-- Name: COLUMN job_run_sources.source_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.source_id IS 'Source.';

--
-- Name: COLUMN job_run_sources.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.status IS 'pending, claimed (being worked on), succeeded, failed or skipped.';

--
-- Name: COLUMN job_run_sources.changed; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.changed IS 'True when a policy change was recorded.';

--
-- Name: COLUMN job_run_sources.baseline; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.baseline IS 'True when this fetch stored the first snapshot of the source.';

--
-- Name: COLUMN job_run_sources.policy_change_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.policy_change_id IS 'Recorded change, if any.';

--
-- Name: COLUMN job_run_sources.error_class; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.error_class IS 'Error class of a failure (a source error class, alert, or poison: every attempt''s invocation died).';

--
-- Name: COLUMN job_run_sources.error_message; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.error_message IS 'Readable error message of a failure; while an item is retried after a dead invocation, why (private.job_lost_claim).';

--
-- Name: COLUMN job_run_sources.duration_ms; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.duration_ms IS 'Time spent on the source.';

--
-- Name: COLUMN job_run_sources.attempts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.attempts IS 'How many times the item was claimed.';

--
-- Name: COLUMN job_run_sources.lease_until; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.lease_until IS 'A claimed item whose lease expired is claimed again, at most as many times as the job allows (attempts); after the last one it fails with class poison.';

--
-- Name: COLUMN job_run_sources.claimed_by; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.claimed_by IS 'Invocation that holds the lease.';

--
-- Name: COLUMN job_run_sources.finished_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.finished_at IS 'When the outcome was written.';

--
-- Name: COLUMN job_run_sources.fetch_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.fetch_id IS 'Idempotency key of this item''s fetch: a snapshot written with it belongs to this item, so a re-claimed item never records a second change.';

--
-- Name: COLUMN job_run_sources.host; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.host IS 'Host of the source''s URL (private.url_host): claims keep every host under its per-host limit across all invocations of the run.';

--
-- Name: COLUMN job_run_sources.slot; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.slot IS 'Which of its host''s request slots (1 … per-host limit) the claim put the item in: a host has at most that many slots in use (items claimed with a live lease) across all invocations, and one invocation runs the items of a slot one after the other, so the next one starts as soon as the previous one ends (no claim round trip in between). Null on a claimed item whose requests are over (job_slot_release): its slot is free.';

--
-- Name: COLUMN job_run_sources.content; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_sources.content IS 'What was monitored, when the body was read: {found_by (the source''s CSS selector, the element taken as the main content, or the document kind), chars (length of the normalised text)}; shows a blind spot.';

--
-- Name: job_lost_claim(public.job_run_sources); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_lost_claim(p_item public.job_run_sources) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select format('attempt %s by invocation %s stopped before finishing (its lease ended at %s)',
    p_item.attempts, coalesce(p_item.claimed_by, 'unknown'),
    to_char(p_item.lease_until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

ALTER FUNCTION private.job_lost_claim(p_item public.job_run_sources) OWNER TO postgres;

--
-- Name: FUNCTION job_lost_claim(p_item public.job_run_sources); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_lost_claim(p_item public.job_run_sources) IS 'Why a claimed item whose lease expired is tried again: which attempt and invocation stopped, and when its lease ended (job_run_sources.error_message while it is retried; the last one is quoted in a poison failure).';

--
-- Name: job_runs; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.job_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    job_name text DEFAULT 'daily-fetch'::text NOT NULL,
    trigger text NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    deadline_at timestamp with time zone DEFAULT (now() + '02:00:00'::interval) NOT NULL,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    total_items integer DEFAULT 0 NOT NULL,
    sources_processed integer DEFAULT 0 NOT NULL,
    sources_succeeded integer DEFAULT 0 NOT NULL,
    sources_failed integer DEFAULT 0 NOT NULL,
    sources_skipped integer DEFAULT 0 NOT NULL,
    changes_detected integer DEFAULT 0 NOT NULL,
    alerts_sent integer DEFAULT 0 NOT NULL,
    errors jsonb DEFAULT '[]'::jsonb NOT NULL,
    invocations integer DEFAULT 0 NOT NULL,
    CONSTRAINT job_runs_alerts_sent_check CHECK ((alerts_sent >= 0)),
    CONSTRAINT job_runs_changes_detected_check CHECK ((changes_detected >= 0)),
    CONSTRAINT job_runs_completed CHECK (((status = 'running'::text) = (completed_at IS NULL))),
    CONSTRAINT job_runs_errors_check CHECK ((jsonb_typeof(errors) = 'array'::text)),
    CONSTRAINT job_runs_invocations_check CHECK ((invocations >= 0)),
    CONSTRAINT job_runs_sources_failed_check CHECK ((sources_failed >= 0)),
    CONSTRAINT job_runs_sources_processed_check CHECK ((sources_processed >= 0)),
    CONSTRAINT job_runs_sources_skipped_check CHECK ((sources_skipped >= 0)),
    CONSTRAINT job_runs_sources_succeeded_check CHECK ((sources_succeeded >= 0)),
    CONSTRAINT job_runs_status_check CHECK ((status = ANY (ARRAY['running'::text, 'succeeded'::text, 'partial'::text, 'failed'::text]))),
    CONSTRAINT job_runs_total_items_check CHECK ((total_items >= 0)),
    CONSTRAINT job_runs_trigger_check CHECK ((trigger = ANY (ARRAY['cron'::text, 'manual'::text])))
);

ALTER TABLE public.job_runs OWNER TO postgres;

--
-- Name: TABLE job_runs; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.job_runs IS 'One row per run of a job (daily-fetch). Counters move while the run works, so Studio shows progress.';

--
-- Name: COLUMN job_runs.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.id IS 'Run id (run_id in the API).';

--
-- Name: COLUMN job_runs.job_name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.job_name IS 'Job name, e.g. daily-fetch.';

--
-- Name: COLUMN job_runs.trigger; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.trigger IS 'cron (pg_cron) or manual (API call).';

--
-- Name: COLUMN job_runs.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.status IS 'running, succeeded, partial (some sources failed) or failed.';

--
-- Name: COLUMN job_runs.started_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.started_at IS 'When the run started.';

--
-- Name: COLUMN job_runs.completed_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.completed_at IS 'When the run was finalised; null while running.';

--
-- Name: COLUMN job_runs.deadline_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.deadline_at IS 'A run still running after this is finalised failed by the watchdog.';

--
-- Name: COLUMN job_runs.options; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.options IS 'Options of the call: force, source_ids.';

--
-- Name: COLUMN job_runs.total_items; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.total_items IS 'Number of sources the run had to look at.';

--
-- Name: COLUMN job_runs.sources_processed; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.sources_processed IS 'Sources fetched (succeeded + failed).';

--
-- Name: COLUMN job_runs.sources_succeeded; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.sources_succeeded IS 'Sources fetched successfully.';

--
-- Name: COLUMN job_runs.sources_failed; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.sources_failed IS 'Sources whose fetch failed.';

--
-- Name: COLUMN job_runs.sources_skipped; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.sources_skipped IS 'Active sources not due by check_frequency.';

--
-- Name: COLUMN job_runs.changes_detected; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.changes_detected IS 'Policy changes recorded by the run.';

--
-- Name: COLUMN job_runs.alerts_sent; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.alerts_sent IS 'Alerts delivered by the run.';

--
-- Name: COLUMN job_runs.errors; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.errors IS 'Error messages, e.g. "source <id> (<name>): timeout: ...".';

--
-- Name: COLUMN job_runs.invocations; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_runs.invocations IS 'How many function invocations worked on the run.';

--
-- Name: job_open_items(public.job_runs); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_open_items(p_run public.job_runs) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select case when p_run.status <> 'running' then 0
    else p_run.total_items - p_run.sources_skipped - p_run.sources_processed
         - coalesce((select g.items from private.run_items_gone g where g.run_id = p_run.id), 0)
    end
$$;

ALTER FUNCTION private.job_open_items(p_run public.job_runs) OWNER TO postgres;

--
-- Name: FUNCTION job_open_items(p_run public.job_runs); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_open_items(p_run public.job_runs) IS 'Items of the run not finished yet (pending or claimed), from its counters: 0 once it is finalised.';

--
-- Name: job_record_outcomes(uuid, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.job_record_outcomes(p_run_id uuid, p_outcomes jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION private.job_record_outcomes(p_run_id uuid, p_outcomes jsonb) OWNER TO postgres;

--
-- Name: FUNCTION job_record_outcomes(p_run_id uuid, p_outcomes jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.job_record_outcomes(p_run_id uuid, p_outcomes jsonb) IS 'First step of a completion: writes the outcomes of claimed items that are still claimed by that attempt (a lost claim''s outcome is ignored) and returns their tally {n, ok, failed, changes, alerts, errs} for private.job_count_outcomes.';

--
-- Name: sources; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.sources (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    url text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    check_frequency text DEFAULT 'daily'::text NOT NULL,
    css_selector text,
    ignore_patterns text[] DEFAULT '{}'::text[] NOT NULL,
    render text DEFAULT 'static'::text NOT NULL,
    etag text,
    last_modified text,
    last_hash text,
    text_key text,
    last_snapshot_id uuid,
    last_checked_at timestamp with time zone,
    last_success_at timestamp with time zone,
    last_error text,
    last_error_class text,
    consecutive_failures integer DEFAULT 0 NOT NULL,
    failing_alerted boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sources_consecutive_failures_check CHECK ((consecutive_failures >= 0)),
    CONSTRAINT sources_css_selector_check CHECK (((css_selector IS NULL) OR ((length(css_selector) >= 1) AND (length(css_selector) <= 500)))),
    CONSTRAINT sources_ignore_patterns_count CHECK ((cardinality(ignore_patterns) <= 50)),
    CONSTRAINT sources_last_error_class_check CHECK (((last_error_class IS NULL) OR (last_error_class = ANY (ARRAY['dns'::text, 'connect'::text, 'timeout'::text, 'tls'::text, 'http_4xx'::text, 'http_5xx'::text, 'too_large'::text, 'too_many_redirects'::text, 'unsupported_content'::text, 'parse'::text, 'blocked'::text, 'browser'::text, 'internal'::text, 'poison'::text])))),
    CONSTRAINT sources_last_hash_check CHECK (((last_hash IS NULL) OR (last_hash ~ '^[0-9a-f]{64}$'::text))),
    CONSTRAINT sources_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT sources_render_check CHECK ((render = ANY (ARRAY['static'::text, 'browser'::text]))),
    CONSTRAINT sources_text_key_check CHECK (((text_key IS NULL) OR (text_key ~ '^(?:[0-9a-f]{16}|[0-9a-f]{64}):[0-9]{1,9}$'::text))),
    CONSTRAINT sources_url_check CHECK (((url ~* '^https?://[^\s/?#]+[^\s]*$'::text) AND (length(url) <= 2048))),
    CONSTRAINT sources_url_host_valid CHECK ((url ~* '^https?://(\[[0-9a-f:.]+\]|([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)(:[0-9]{1,5})?([/?#]\S*)?$'::text))
);

ALTER TABLE public.sources OWNER TO postgres;

--
-- Name: TABLE sources; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.sources IS 'Public pages and PDFs where rules are published. Every active source is fetched when due by the daily-fetch job.';

--
-- Name: COLUMN sources.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.id IS 'Source id.';

--
-- Name: COLUMN sources.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.name IS 'Human name, e.g. "UK Skilled Worker visa rules".';

--
-- Name: COLUMN sources.url; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.url IS 'http(s) URL fetched by the pipeline.';

--
-- Name: COLUMN sources.active; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.active IS 'Only active sources are fetched.';

--
-- Name: COLUMN sources.check_frequency; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.check_frequency IS 'How often the source is due (see check_frequencies).';

--
-- Name: COLUMN sources.css_selector; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.css_selector IS 'Optional CSS selector of the part of an HTML page to watch; default is the main content.';

--
-- Name: COLUMN sources.ignore_patterns; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.ignore_patterns IS 'Regular expressions (JavaScript syntax) whose matches are removed from the text before hashing.';

--
-- Name: COLUMN sources.render; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.render IS 'How the page is fetched: static (HTTP GET, default) or browser (rendered by a real browser at BROWSER_WS_ENDPOINT, scripts run; HTML pages only).';

--
-- Name: COLUMN sources.etag; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.etag IS 'ETag of the last 200 response, sent as If-None-Match.';

--
-- Name: COLUMN sources.last_modified; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_modified IS 'Last-Modified of the last 200 response, sent as If-Modified-Since.';

--
-- Name: COLUMN sources.last_hash; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_hash IS 'SHA-256 (hex) of the normalised text of the latest snapshot.';

--
-- Name: COLUMN sources.text_key; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.text_key IS 'What lets a check of an unchanged page skip normalisation: "<key>:<chars>", key the XXH64 (16 hex digits; 64 hex digits: a SHA-256 key written before 2026-12-02, read as a miss) of the text extracted at a check, the version of the normaliser, the ignore patterns and the hash that text normalised to, chars the normalised text''s length (shared/pipeline/text_key.ts). A later check whose extracted text gives the same key with the source''s current last_hash has that hash. Null: none yet.';

--
-- Name: COLUMN sources.last_snapshot_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_snapshot_id IS 'Latest snapshot of this source.';

--
-- Name: COLUMN sources.last_checked_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_checked_at IS 'When the source was last fetched, successfully or not.';

--
-- Name: COLUMN sources.last_success_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_success_at IS 'When the source was last fetched successfully.';

--
-- Name: COLUMN sources.last_error; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_error IS 'Message of the last failure; null after a success.';

--
-- Name: COLUMN sources.last_error_class; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.last_error_class IS 'Class of the last failure (dns, connect, timeout, tls, http_4xx, http_5xx, too_large, too_many_redirects, unsupported_content, parse, blocked, browser, internal; poison when the job gave up on it after its invocations died on every attempt).';

--
-- Name: COLUMN sources.consecutive_failures; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.consecutive_failures IS 'Failed checks since the last success.';

--
-- Name: COLUMN sources.failing_alerted; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.failing_alerted IS 'True once a "source failing" alert was sent for the current failure streak.';

--
-- Name: COLUMN sources.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.created_at IS 'When the source was added.';

--
-- Name: COLUMN sources.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sources.updated_at IS 'When the source''s definition (name, url, ignore patterns) last changed; fetch bookkeeping does not move it.';

--
-- Name: lock_source(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.lock_source(p_source_id uuid, p_not_found text) RETURNS public.sources
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare v_source public.sources;
begin
  select * into v_source from public.sources where id = p_source_id for update;
  if not found then
    raise exception using message = format(p_not_found, p_source_id), errcode = 'P0002';
  end if;
  return v_source;
end $$;

ALTER FUNCTION private.lock_source(p_source_id uuid, p_not_found text) OWNER TO postgres;

--
-- Name: FUNCTION lock_source(p_source_id uuid, p_not_found text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.lock_source(p_source_id uuid, p_not_found text) IS 'Locks a source''s row for the rest of the transaction and returns it; raises P0002 with format(p_not_found, p_source_id) when there is none.';

--
-- Name: policy_change_json(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.policy_change_json(p_change_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select jsonb_build_object('id', c.id, 'source_id', c.source_id, 'snapshot_id', c.snapshot_id,
    'previous_snapshot_id', c.previous_snapshot_id, 'detected_at', c.detected_at,
    'diff', c.diff, 'summary', c.summary)
  from public.policy_changes c where c.id = p_change_id
$$;

ALTER FUNCTION private.policy_change_json(p_change_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION policy_change_json(p_change_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.policy_change_json(p_change_id uuid) IS 'The policy change row as the job delivers it (the columns of shared/store/rows.ts POLICY_CHANGE_COLUMNS), or null: record_snapshot answers with it, so the job does not read back the change it just wrote.';

--
-- Name: prune_history(integer, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.prune_history(p_snapshot_days integer DEFAULT 30, p_item_days integer DEFAULT 30, p_batch integer DEFAULT 50000) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_items integer;
  v_snapshots integer;
  v_hosts integer;
  v_invocations integer;
begin
  with old as (
    select s.run_id, s.source_id from public.job_run_sources s
    join public.job_runs r on r.id = s.run_id
    where r.status <> 'running'
      and r.completed_at < now() - make_interval(days => p_item_days)
      and not s.changed and s.policy_change_id is null
    limit greatest(p_batch, 0)
  )
  delete from public.job_run_sources s using old
  where s.run_id = old.run_id and s.source_id = old.source_id;
  get diagnostics v_items = row_count;

  with old as (
    select sn.id from public.snapshots sn
    where sn.fetched_at < now() - make_interval(days => p_snapshot_days)
      and not exists (select 1 from public.policy_changes pc where pc.snapshot_id = sn.id)
      and not exists (select 1 from public.policy_changes pc where pc.previous_snapshot_id = sn.id)
      and not exists (select 1 from public.sources src where src.last_snapshot_id = sn.id)
    limit greatest(p_batch, 0)
  )
  delete from public.snapshots sn using old where sn.id = old.id;
  get diagnostics v_snapshots = row_count;

  delete from private.run_hosts h using public.job_runs r
  where r.id = h.run_id and r.status <> 'running' and r.completed_at < now() - interval '1 day';
  get diagnostics v_hosts = row_count;
  delete from private.run_invocations i using public.job_runs r
  where r.id = i.run_id and r.status <> 'running' and r.completed_at < now() - interval '1 day';
  get diagnostics v_invocations = row_count;

  return jsonb_build_object('run_items', v_items, 'snapshots', v_snapshots,
                            'run_hosts', v_hosts, 'run_invocations', v_invocations);
end $$;

ALTER FUNCTION private.prune_history(p_snapshot_days integer, p_item_days integer, p_batch integer) OWNER TO postgres;

--
-- Name: FUNCTION prune_history(p_snapshot_days integer, p_item_days integer, p_batch integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.prune_history(p_snapshot_days integer, p_item_days integer, p_batch integer) IS 'Retention (pg_cron prune-history, nightly): prunes unchanged run items of runs finished more than p_item_days ago, snapshots older than p_snapshot_days that no change needs (before or after) and no source has as its latest, and the per-host/per-invocation rows of runs finished more than a day ago; at most p_batch rows of each kind per call. Returns the counts.';

--
-- Name: queue_alerts(text, uuid, text, uuid, jsonb, timestamp with time zone, uuid, uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare v_rows jsonb;
begin
  insert into public.alerts (
    kind, policy_change_id, event_key, source_id, payload, subscription_id, status, next_attempt_at)
  select p_kind, p_policy_change_id, p_event_key, p_source_id, p_payload, s.id, 'pending', p_now
  from public.subscriptions s
  where s.active and (p_kind = 'policy_change' or s.operational_alerts)
    and (p_source_id is null or s.source_id is null or s.source_id = p_source_id)
    and s.id is distinct from p_exclude_subscription_id
    and (p_subscription_ids is null or s.id = any (p_subscription_ids))
  -- (policy_change_id, subscription_id) or (event_key, subscription_id): the other is null.
  on conflict do nothing;
  select coalesce(jsonb_agg(private.alert_queued_json(a) order by a.created_at, a.id), '[]'::jsonb)
  into v_rows
  from public.alerts a
  where (a.policy_change_id = p_policy_change_id or a.event_key = p_event_key)
    and (p_subscription_ids is null or a.subscription_id = any (p_subscription_ids));
  return v_rows;
end $$;

ALTER FUNCTION private.queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) IS 'Queues one pending alert of an event (p_policy_change_id for policy_change, else p_event_key) per active subscription concerned: of p_source_id or of all sources (every one for a source-less event), operational ones only for an operational kind, never p_exclude_subscription_id, only p_subscription_ids unless null; returns every row of the event (in the scope) as QueuedAlert.';

--
-- Name: report_dead_alert(public.alerts, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_channel text;
  v_active boolean;
begin
  -- A report that dies is not reported (no chain); an alert of a subscription that was
  -- switched off died on purpose.
  if p_alert.status <> 'dead' or p_alert.kind = 'alert_dead' then
    return '[]'::jsonb;
  end if;
  select s.channel, s.active into v_channel, v_active
  from public.subscriptions s where s.id = p_alert.subscription_id;
  if not found or not v_active then
    return '[]'::jsonb;
  end if;
  -- Not to the subscription that could not be reached; no target in the payload (a Slack
  -- webhook's path is its credential).
  return private.enqueue_operational_alerts(
    'alert_dead',
    'alert_dead:' || p_alert.id || ':' || (extract(epoch from p_now) * 1000)::bigint,
    p_alert.source_id,
    jsonb_build_object(
      'alert_id', p_alert.id,
      'alert_kind', p_alert.kind,
      'subscription_id', p_alert.subscription_id,
      'channel', v_channel,
      'policy_change_id', p_alert.policy_change_id,
      'event_key', p_alert.event_key,
      'attempts', p_alert.attempts,
      'error', p_alert.error,
      'queued_at', p_alert.created_at,
      'given_up_at', p_now),
    p_now,
    p_alert.subscription_id,
    p_subscription_ids);
end $$;

ALTER FUNCTION private.report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[]) IS 'Queues one alert_dead report of a dead alert to every active operational subscription concerned by its source (only p_subscription_ids unless null) except the alert''s own subscription, and returns the report rows (QueuedAlert). Nothing for a dead alert_dead report or for an alert of an inactive subscription.';

--
-- Name: resume_stalled_runs(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.resume_stalled_runs() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_run record;
  v_count integer := 0;
begin
  -- A run whose items are all gone (their sources were deleted mid-run) has nothing left
  -- to claim: finalise it now instead of at its deadline.
  for v_run in
    select r.id from public.job_runs r
    where r.status = 'running' and r.started_at < now() - interval '2 minutes'
      and not exists (select 1 from public.job_run_sources s where s.run_id = r.id
                      and s.status in ('pending', 'claimed'))
  loop
    perform public.job_complete_items(v_run.id, '[]'::jsonb);
    v_count := v_count + 1;
  end loop;
  -- Nobody can be asked before the project's Vault secrets are set (README, Deploy).
  if (select count(*) from vault.decrypted_secrets
      where name in ('project_url', 'service_role_key')) < 2 then
    return v_count;
  end if;
  -- A daily-fetch run whose items nobody holds: its invocations died (live ones renew their
  -- leases). Graces: 30 s after the start (its first invocation is about to claim) and 10 s
  -- after the last lease ended (another invocation may be claiming the item again); an
  -- extra invocation on a healthy run would only join it.
  for v_run in
    select r.id from public.job_runs r
    where r.job_name = 'daily-fetch' and r.status = 'running'
      and r.started_at < now() - interval '30 seconds'
      and exists (select 1 from public.job_run_sources s where s.run_id = r.id
                  and (s.status = 'pending' or (s.status = 'claimed' and s.lease_until < now())))
      and coalesce((select max(s.lease_until) from public.job_run_sources s
                    where s.run_id = r.id and s.status = 'claimed'), '-infinity')
          < now() - interval '10 seconds'
  loop
    perform private.call_api('daily-fetch-resume',
      '/functions/v1/api/jobs/runs/' || v_run.id || '/continue', '{}'::jsonb, true);
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;

ALTER FUNCTION private.resume_stalled_runs() OWNER TO postgres;

--
-- Name: FUNCTION resume_stalled_runs(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.resume_stalled_runs() IS 'Run by pg_cron every minute: finalises running runs with no item left, and asks for a new invocation on every running daily-fetch run whose items nobody holds (its invocations died: live ones renew their leases), 30 s after its start and 10 s after its last lease ended. Returns how many runs it acted on.';

--
-- Name: service_role_only(regprocedure[]); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.service_role_only(p_functions regprocedure[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare v_function regprocedure;
begin
  foreach v_function in array p_functions loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_function);
    execute format('grant execute on function %s to service_role', v_function);
  end loop;
end $$;

ALTER FUNCTION private.service_role_only(p_functions regprocedure[]) OWNER TO postgres;

--
-- Name: FUNCTION service_role_only(p_functions regprocedure[]); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.service_role_only(p_functions regprocedure[]) IS 'Migrations: makes each function executable by service_role only (revoked from PUBLIC, anon and authenticated, which Supabase''s default privileges grant).';

--
-- Name: url_host(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.url_host(p_url text) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $_$
  -- host[:port] of the URL, lower case, without user info; the default port is left out
  -- as WHATWG URL's `host` does.
  select case
    when lower(p_url) like 'http://%' then regexp_replace(x.h, ':80$', '')
    when lower(p_url) like 'https://%' then regexp_replace(x.h, ':443$', '')
    else x.h end
  from (select lower(coalesce(
    substring(p_url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#]*@)?([^/?#]*)'), '')) as h) x
$_$;

ALTER FUNCTION private.url_host(p_url text) OWNER TO postgres;

--
-- Name: FUNCTION url_host(p_url text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.url_host(p_url text) IS 'Host key of a URL for the per-host limits of a run: host[:port], lower case, without user info or default port.';

--
-- Name: validate_source(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.validate_source() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.validate_source() OWNER TO postgres;

--
-- Name: claim_alerts(timestamp with time zone, integer, integer, integer, uuid[], uuid[], uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_lease_until timestamptz := p_now + make_interval(secs => greatest(p_lease_ms, 0) / 1000.0);
  v_abandoned jsonb;
  v_dead_ids uuid[];
  v_reports jsonb := '[]'::jsonb;
  v_row public.alerts;
  v_claimed jsonb;
begin
  -- A sender that held the last allowed attempt and never reported: give up on the row.
  with gone as (
    select a.id from public.alerts a
    where a.status = 'sending' and a.next_attempt_at <= p_now and a.attempts >= p_max_attempts
      and (p_alert_ids is null or a.id = any (p_alert_ids))
      and (p_subscription_ids is null or a.subscription_id = any (p_subscription_ids))
    for update skip locked
  ), dead as (
    update public.alerts a set
      status = 'dead', updated_at = p_now,
      error = 'Cannot deliver alert ' || a.id || ': the sender of attempt ' || a.attempts
        || ' stopped before recording a result (gave up after ' || a.attempts || ' attempts)'
    from gone where a.id = gone.id
    returning a.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', d.id, 'kind', d.kind, 'subscription_id', d.subscription_id, 'channel', s.channel,
      'attempts', d.attempts, 'error', d.error) order by d.created_at, d.id), '[]'::jsonb),
    coalesce(array_agg(d.id), '{}')
  into v_abandoned, v_dead_ids
  from dead d join public.subscriptions s on s.id = d.subscription_id;
  for v_row in select * from public.alerts a where a.id = any (v_dead_ids)
    order by a.created_at, a.id loop
    v_reports := v_reports || private.report_dead_alert(v_row, p_now, p_subscription_ids);
  end loop;

  with due as (
    select a.id from public.alerts a
    where a.status in ('pending', 'failed', 'sending') and a.next_attempt_at <= p_now
      and a.attempts < p_max_attempts
      and (p_alert_ids is null or a.id = any (p_alert_ids))
      and (p_exclude_ids is null or not (a.id = any (p_exclude_ids)))
      and (p_subscription_ids is null or a.subscription_id = any (p_subscription_ids))
    -- Fewer attempts first among rows due at the same time, so retries cannot starve new rows.
    order by a.next_attempt_at, a.attempts, a.created_at, a.id
    limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update public.alerts a set
      status = 'sending', attempts = a.attempts + 1, next_attempt_at = v_lease_until,
      updated_at = p_now
    from due where a.id = due.id
    returning a.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', c.id,
      'kind', c.kind,
      'attempt', c.attempts,
      'lease_until', v_lease_until,
      'policy_change_id', c.policy_change_id,
      'event_key', c.event_key,
      'payload', c.payload,
      'created_at', c.created_at,
      'subscription', jsonb_build_object(
        'id', s.id, 'source_id', s.source_id, 'channel', s.channel, 'target', s.target,
        'has_secret', s.secret is not null, 'active', s.active),
      'source', case when src.id is null then null
        else jsonb_build_object('id', src.id, 'name', src.name, 'url', src.url) end)
      order by c.created_at, c.id), '[]'::jsonb)
  into v_claimed
  from claimed c
  join public.subscriptions s on s.id = c.subscription_id
  left join public.sources src on src.id = c.source_id;

  return jsonb_build_object('claimed', v_claimed, 'abandoned', v_abandoned, 'reports', v_reports);
end $$;

ALTER FUNCTION public.claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]) IS 'Outbox step 2: claims up to p_limit due alerts (pending, failed past next_attempt_at, or sending past their lease), optionally only among p_alert_ids, only of p_subscription_ids, and never p_exclude_ids. Claimed rows are sending with attempts + 1 and next_attempt_at = p_now + p_lease_ms. Rows whose sender died on the last allowed attempt become dead and are returned as abandoned, with the alert_dead reports they queued (reports). Subscriptions come without their secret (has_secret only).';

--
-- Name: enqueue_operational_alerts(text, text, uuid, jsonb, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select private.enqueue_operational_alerts(
    p_kind, p_event_key, p_source_id, p_payload, p_now, null, p_subscription_ids)
$$;

ALTER FUNCTION public.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]) IS 'Queues an operational event (source_failing, source_recovered, run_missed, alert_dead) once per event_key and operational subscription (only p_subscription_ids unless null); returns every row of the event.';

--
-- Name: enqueue_policy_change_alerts(uuid, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_source_id uuid := (select pc.source_id from public.policy_changes pc where pc.id = p_policy_change_id);
begin
  if v_source_id is null then
    raise exception 'Cannot queue alerts of policy change %: not found', p_policy_change_id
      using errcode = 'P0002';
  end if;
  return private.queue_alerts('policy_change', p_policy_change_id, null, v_source_id, null, p_now,
    null, p_subscription_ids);
end $$;

ALTER FUNCTION public.enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]) IS 'Outbox step 1: one pending alert per active subscription of the change''s source or of all sources (only p_subscription_ids unless null; a second call adds nothing). Returns every alert row of the change (in the scope).';

--
-- Name: finish_alert(uuid, integer, text, text, timestamp with time zone, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v_row public.alerts;
begin
  if p_status not in ('sent', 'failed', 'dead') then
    raise exception 'Cannot record alert %: invalid status %', p_alert_id, p_status using errcode = '22023';
  end if;
  if p_status = 'failed' and p_next_attempt_at is null then
    raise exception 'Cannot record alert %: failed without a retry time', p_alert_id using errcode = '22023';
  end if;
  update public.alerts a set
    status = p_status,
    error = case when p_status = 'sent' then null else left(p_error, 2000) end,
    sent_at = case when p_status = 'sent' then p_now else a.sent_at end,
    next_attempt_at = case when p_status = 'failed' then p_next_attempt_at else p_now end,
    updated_at = p_now
  where a.id = p_alert_id and a.status = 'sending' and a.attempts = p_attempt
  returning a.* into v_row;
  if not found then
    return jsonb_build_object('recorded', false, 'reports', '[]'::jsonb);
  end if;
  return jsonb_build_object('recorded', true,
    'reports', private.report_dead_alert(v_row, p_now, p_subscription_ids));
end $$;

ALTER FUNCTION public.finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]) IS 'Outbox step 3: records the result of attempt p_attempt (sent, failed with the next attempt time, or dead). Returns {recorded, reports}: recorded false, changing nothing, when the row is no longer that claim (its lease expired and another engine claimed it); reports, the alert_dead rows queued when the alert was given up (to the operational subscriptions, only p_subscription_ids unless null, in this transaction).';

--
-- Name: job_add_items(uuid, uuid[], uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]) RETURNS public.job_runs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]) IS 'Adds the work items of a run: due sources pending (with their host, and a private.run_hosts row per host), the others skipped; sets total_items and sources_skipped.';

--
-- Name: job_claim_items(uuid, text, integer, integer, integer, integer, integer, integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer DEFAULT NULL::integer, p_delay_ms integer DEFAULT 0, p_max_attempts integer DEFAULT 3, p_slot_depth integer DEFAULT 1) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v_poisoned uuid[];
begin
  -- Items whose last allowed claim died are finalised, not claimed again (this may
  -- finalise the run: they are still returned, marked, for their alerts).
  v_poisoned := private.job_fail_poison_items(p_run_id, p_max_attempts);
  return private.job_claim_next(p_run_id, p_claimed_by, p_limit, p_lease_ms, p_per_host,
    p_delay_ms, p_max_attempts, p_slot_depth, v_poisoned);
end $$;

ALTER FUNCTION public.job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer) OWNER TO postgres;

--
-- Name: FUNCTION job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer) IS 'Claims up to p_limit pending (or lease-expired) items of a running run for one invocation, with everything the pipeline needs (source, last hash, etag) in one round trip, keeping every host under p_per_host request slots in use (a slot holds up to p_slot_depth items of one claimer on a host holding at least 1/16 of the run''s items, one on the others and when the host has a politeness delay, claimed with a live lease, which it fetches one after the other, each queued one asking job_slot_start first; slot in each item) across all invocations and spacing its starts by the politeness delay (start_in_ms: wait this long before fetching). prior_policy_change_id is set when an earlier, dead claim already recorded this item''s change. An item is claimed at most p_max_attempts times (JOB_ITEM_MAX_ATTEMPTS): when the lease of its last claim expired, it is failed with class poison instead (private.job_fail_poison_items) and returned with poisoned = true (not to process: the job only sends its source-failing alert, as for any failure).';

--
-- Name: job_complete_and_claim(uuid, jsonb, jsonb, text, integer, integer, integer, integer, integer, integer, boolean); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer DEFAULT NULL::integer, p_delay_ms integer DEFAULT 0, p_max_attempts integer DEFAULT 3, p_slot_depth integer DEFAULT 1, p_count boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION public.job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean) OWNER TO postgres;

--
-- Name: FUNCTION job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean) IS 'One round trip of an invocation: records p_outcomes with p_bookkeeping (job_complete_items; skipped when there are none), then claims up to p_limit items (job_claim_items with the same host arguments; none when p_limit is null or 0, or the run was just finalised), in one transaction. Returns {completed, finalised, run (null when nothing was recorded), items (report_at_once true on those whose host''s request slots are all in use and the claim came short of p_limit or the host holds at least 1/16 of the run''s items: the next claims wait for that host, so its completion should not wait), open, held (the run''s unfinished items and those a live lease holds, after this claim; when p_count, or when p_limit is not null and no item was claimed, else null)}.';

--
-- Name: job_complete_items(uuid, jsonb); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v_tally jsonb;
begin
  v_tally := private.job_record_outcomes(p_run_id, p_outcomes);
  return private.job_count_outcomes(p_run_id, v_tally);
end $$;

ALTER FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb) OWNER TO postgres;

--
-- Name: FUNCTION job_complete_items(p_run_id uuid, p_outcomes jsonb); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb) IS 'Records the outcomes of claimed items (ignoring items whose claim was lost), moves the run''s counters, and finalises the run when no item is left (exactly once). Returns {completed, finalised, run}.';

--
-- Name: job_complete_items(uuid, jsonb, jsonb); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_bookkeeping is not null and jsonb_typeof(p_bookkeeping) = 'array'
     and jsonb_array_length(p_bookkeeping) > 0 then
    perform public.update_source_bookkeeping(p_bookkeeping);
  end if;
  return public.job_complete_items(p_run_id, p_outcomes);
end $$;

ALTER FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb) OWNER TO postgres;

--
-- Name: FUNCTION job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb) IS 'job_complete_items(run, outcomes) plus the sources'' bookkeeping patches (update_source_bookkeeping) in the same transaction: one write per batch.';

--
-- Name: job_expire_stale_runs(text); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_expire_stale_runs(p_job_name text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_expire_stale_runs(p_job_name text) OWNER TO postgres;

--
-- Name: FUNCTION job_expire_stale_runs(p_job_name text); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_expire_stale_runs(p_job_name text) IS 'Watchdog: finalises as failed every running run of the job whose deadline has passed (its invocations died). Returns how many.';

--
-- Name: job_fail_run(uuid, text); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_fail_run(p_run_id uuid, p_error text) RETURNS public.job_runs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_fail_run(p_run_id uuid, p_error text) OWNER TO postgres;

--
-- Name: FUNCTION job_fail_run(p_run_id uuid, p_error text); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_fail_run(p_run_id uuid, p_error text) IS 'Finalises a running run as failed with a run-level error (e.g. the sources could not be read).';

--
-- Name: job_renew_leases(uuid, text, integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer) OWNER TO postgres;

--
-- Name: FUNCTION job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer) IS 'Heartbeat of a live invocation (shared/jobs/lease_heartbeat.ts, every JOB_LEASE_RENEW_MS): extends to at least now + p_lease_ms the leases of the items of the run it still holds, so leases can be short and an expired one means its invocation died. Returns how many leases it renewed.';

--
-- Name: job_slot_release(uuid, uuid, integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  -- The item made its last request to its host (its claimer will not queue another one in
  -- its slot): the slot is free for any claimer from now, before the item's extraction,
  -- snapshot write and completion. The item stays claimed (its lease, its outcome to come).
  update public.job_run_sources s set slot = null
  where s.run_id = p_run_id and s.source_id = p_source_id and s.status = 'claimed'
    and s.attempts = p_attempt and s.slot is not null
  returning true
$$;

ALTER FUNCTION public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer) OWNER TO postgres;

--
-- Name: FUNCTION job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer) IS 'Frees the request slot of a claimed item (attempt p_attempt) whose requests are over, before its completion: the next claim of its host, by any invocation, may take the slot. Returns null when the item is not claimed by that attempt or holds no slot.';

--
-- Name: job_slot_start(uuid, text); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_slot_start(p_run_id uuid, p_host text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_slot_start(p_run_id uuid, p_host text) OWNER TO postgres;

--
-- Name: FUNCTION job_slot_start(p_run_id uuid, p_host text); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_slot_start(p_run_id uuid, p_host text) IS 'Asked by a request slot''s queued item of p_host (its claimer''s next in that slot) before it starts: ms to wait first. 0 unless a 429/503 with Retry-After slowed the host (job_slow_host); then the start is scheduled after the host''s next start (not_before), which moves a delay on, as for a claim.';

--
-- Name: job_slow_host(uuid, text, integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer) OWNER TO postgres;

--
-- Name: FUNCTION job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer) IS 'A 429/503 with Retry-After from the host of p_url: for the rest of the run, every invocation claims that host''s items one at a time, at least min(Retry-After, 1 s) apart, the first one that long after the throttled request''s own retry (at min(Retry-After, 10 s)). Returns false when the host is not one of the run''s.';

--
-- Name: job_start_run(text, text, jsonb, integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer) OWNER TO postgres;

--
-- Name: FUNCTION job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer) IS 'Starts a run (status running) after expiring stale runs and finalising running runs with no item left; returns {conflict: true, running_run_id} when a run of the job is in progress.';

--
-- Name: record_snapshot(uuid, uuid, text, text, text, text, text, jsonb, timestamp with time zone, jsonb, boolean); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
declare
  v_source public.sources;
  v_snapshot public.snapshots;
  v_change_id uuid;
  v_alerts jsonb;
  v_replayed boolean;
begin
  -- The idempotency check and the previous-hash check below see every earlier write.
  v_source := private.lock_source(p_source_id, 'Cannot record snapshot: source %s not found');

  -- A retry of the same fetch returns what the first call wrote, and writes nothing.
  select * into v_snapshot from public.snapshots where fetch_id = p_fetch_id;
  v_replayed := found;
  if v_replayed then
    if v_snapshot.source_id <> p_source_id then
      raise exception 'Cannot record snapshot: fetch % belongs to source %, not %',
        p_fetch_id, v_snapshot.source_id, p_source_id using errcode = '22023';
    end if;
    select id into v_change_id from public.policy_changes where snapshot_id = v_snapshot.id;
  else
    if v_source.last_hash is distinct from p_previous_hash then
      raise exception 'Cannot record snapshot of source %: last_hash is % but the fetch compared against %',
        p_source_id, coalesce(v_source.last_hash, 'null'), coalesce(p_previous_hash, 'null')
        using errcode = 'PT409', hint = 'Another writer recorded a snapshot meanwhile; fetch again.';
    end if;
    if p_content_hash is not distinct from p_previous_hash then
      raise exception 'Cannot record snapshot of source %: the content did not change', p_source_id
        using errcode = '22023';
    end if;
    if p_previous_hash is not null and p_diff is null then
      raise exception 'Cannot record policy change of source %: diff is missing', p_source_id
        using errcode = '22023';
    end if;

    insert into public.snapshots (source_id, fetch_id, content_hash, content, content_type, fetched_at)
    values (p_source_id, p_fetch_id, p_content_hash, p_content, p_content_type,
            coalesce(p_fetched_at, now()))
    returning * into v_snapshot;

    if p_previous_hash is not null then
      insert into public.policy_changes (source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary)
      values (p_source_id, v_snapshot.id, v_source.last_snapshot_id, coalesce(p_fetched_at, now()),
              p_diff, coalesce(p_summary, '{}'::jsonb))
      returning id into v_change_id;
    end if;

    -- The source's row is written once: its bookkeeping patch and the snapshot's hash together
    -- (two updates of the row cost ~0.4 ms more per snapshot: a baseline run records one per
    -- source); a late patch leaves the bookkeeping as it is and the hash moves alone.
    if p_bookkeeping is null or private.apply_source_bookkeeping(
         jsonb_build_array(p_bookkeeping || jsonb_build_object('id', p_source_id)),
         p_content_hash, v_snapshot.id) = 0 then
      update public.sources
        set last_hash = p_content_hash, last_snapshot_id = v_snapshot.id
        where id = p_source_id;
    end if;
  end if;

  -- The change's outbox rows, in the change's transaction (what enqueue_policy_change_alerts
  -- queues, due at the fetch's time); on a replay they are queued already: nothing is added
  -- and every row of the change is returned.
  if p_queue_alerts and v_change_id is not null then
    v_alerts := private.queue_alerts('policy_change', v_change_id, null, p_source_id, null,
      coalesce(p_fetched_at, now()), null, null);
  end if;

  return jsonb_build_object('snapshot_id', v_snapshot.id, 'policy_change_id', v_change_id,
    'baseline', v_change_id is null, 'replayed', v_replayed,
    'policy_change', private.policy_change_json(v_change_id), 'alerts', v_alerts);
end $$;

ALTER FUNCTION public.record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean) OWNER TO postgres;

--
-- Name: FUNCTION record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean) IS 'In one transaction: inserts a snapshot, the policy change from the previous snapshot (none for a baseline, when p_previous_hash is null), moves sources.last_hash / last_snapshot_id and applies the bookkeeping patch; with p_queue_alerts, also queues the change''s alerts as enqueue_policy_change_alerts does (one pending row per active subscription of the source or of all sources, due at p_fetched_at), so that the job needs no request of its own for them. Idempotent on p_fetch_id (a retry returns the first write''s ids with replayed = true). Fails with PT409 (HTTP 409) when the source''s last_hash is no longer p_previous_hash. Returns {snapshot_id, policy_change_id, baseline, replayed, policy_change, alerts} (policy_change: the change row, what alert delivery needs, or null for a baseline; alerts: with p_queue_alerts and a change, every alert row of the change as enqueue_policy_change_alerts returns them, a replay included; else null).';

--
-- Name: record_source_health(uuid, boolean, integer, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[] DEFAULT NULL::uuid[]) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_source public.sources;
  v_kind text;
  v_payload jsonb;
  v_event_key text;
begin
  v_source := private.lock_source(p_source_id, 'Cannot record the health of source %s: not found');
  if not p_succeeded and v_source.consecutive_failures >= p_threshold and not v_source.failing_alerted then
    v_kind := 'source_failing';
    v_payload := jsonb_build_object(
      'consecutive_failures', v_source.consecutive_failures,
      'threshold', p_threshold,
      'last_error', v_source.last_error,
      'last_error_class', v_source.last_error_class,
      'last_success_at', v_source.last_success_at,
      'last_checked_at', v_source.last_checked_at);
    update public.sources set failing_alerted = true where id = p_source_id;
  elsif p_succeeded and v_source.failing_alerted then
    v_kind := 'source_recovered';
    v_payload := jsonb_build_object('recovered_at', p_now, 'last_success_at', v_source.last_success_at);
    update public.sources set failing_alerted = false where id = p_source_id;
  else
    return jsonb_build_object('transition', null,
      'consecutive_failures', v_source.consecutive_failures, 'alerts', '[]'::jsonb);
  end if;
  v_event_key := v_kind || ':' || p_source_id || ':' || (extract(epoch from p_now) * 1000)::bigint;
  return jsonb_build_object(
    'transition', v_kind,
    'consecutive_failures', v_source.consecutive_failures,
    'alerts', private.enqueue_operational_alerts(
      v_kind, v_event_key, p_source_id, v_payload, p_now, null, p_subscription_ids));
end $$;

ALTER FUNCTION public.record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]) IS 'Call after the run recorded a source''s outcome. At the failure that reaches p_threshold consecutive failures, sets failing_alerted and queues source_failing alerts; at the next success, clears it and queues source_recovered alerts; otherwise does nothing. One transaction, so an alert is queued exactly when the flag flips. p_subscription_ids (unless null) limits who is alerted.';

--
-- Name: retry_alert(uuid, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.retry_alert(p_alert_id uuid, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION public.retry_alert(p_alert_id uuid, p_now timestamp with time zone) OWNER TO postgres;

--
-- Name: FUNCTION retry_alert(p_alert_id uuid, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.retry_alert(p_alert_id uuid, p_now timestamp with time zone) IS 'Puts a failed or dead alert back in the outbox as pending, due at p_now (a dead one with its attempts reset, so it gets ALERT_MAX_ATTEMPTS again). Returns {retried, status}: retried false with the current status when the alert is not failed or dead, status null when it does not exist.';

--
-- Name: set_fetch_schedule(text); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.set_fetch_schedule(cron_expression text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_schedule text := regexp_replace(btrim(coalesce(cron_expression, '')), '\s+', ' ', 'g');
  v_gap interval := private.cron_max_gap(v_schedule);
  v_job bigint;
  v_slowed jsonb;
begin
  select jobid into v_job from cron.job where jobname = 'daily-fetch';
  if v_job is null then
    raise exception 'the cron job daily-fetch is not installed' using errcode = 'P0002';
  end if;
  perform cron.alter_job(v_job, schedule := v_schedule);
  insert into private.fetch_schedule (job_name, schedule, max_gap, updated_at)
    values ('daily-fetch', v_schedule, v_gap, now())
  on conflict (job_name) do update
    set schedule = excluded.schedule, max_gap = excluded.max_gap, updated_at = excluded.updated_at;
  update private.watchdog_state set watching_since = now() where job_name = 'daily-fetch';
  -- Frequencies of active sources that this schedule checks less often than they ask.
  select coalesce(jsonb_agg(distinct f.name), '[]'::jsonb) into v_slowed
  from public.check_frequencies f
  join public.sources s on s.check_frequency = f.name and s.active
  where f.check_interval < v_gap;
  return jsonb_build_object('job_name', 'daily-fetch', 'schedule', v_schedule,
    'max_gap_seconds', extract(epoch from v_gap), 'slower_than_asked', v_slowed);
end $$;

ALTER FUNCTION public.set_fetch_schedule(cron_expression text) OWNER TO postgres;

--
-- Name: FUNCTION set_fetch_schedule(cron_expression text); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.set_fetch_schedule(cron_expression text) IS 'Operators (service_role or postgres): sets when the fetch job fires (five-field cron, UTC, e.g. ''0 * * * *'' hourly, ''30 4 * * *'' daily at 04:30), stores it so a later db push keeps it, restarts the missed-run watchdog''s window. Returns the schedule, its longest gap and the frequencies in use it serves less often than asked.';

--
-- Name: sign_alert_body(uuid, text); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.sign_alert_body(p_subscription_id uuid, p_body text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v_secret text;
begin
  select s.secret into v_secret from public.subscriptions s where s.id = p_subscription_id;
  if not found then
    raise exception 'Cannot sign alert body for subscription %: not found', p_subscription_id
      using errcode = 'P0002';
  end if;
  if v_secret is null then
    raise exception 'Cannot sign alert body for subscription %: it has no secret', p_subscription_id
      using errcode = '22023';
  end if;
  return encode(extensions.hmac(convert_to(p_body, 'UTF8'), convert_to(v_secret, 'UTF8'), 'sha256'), 'hex');
end $$;

ALTER FUNCTION public.sign_alert_body(p_subscription_id uuid, p_body text) OWNER TO postgres;

--
-- Name: FUNCTION sign_alert_body(p_subscription_id uuid, p_body text); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.sign_alert_body(p_subscription_id uuid, p_body text) IS 'Hex HMAC-SHA256 of p_body (UTF-8) keyed with the subscription''s webhook secret, for the X-Signature-256 header. The secret itself never leaves the database.';

--
-- Name: update_source_bookkeeping(jsonb); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.update_source_bookkeeping(p_patches jsonb) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select private.apply_source_bookkeeping(p_patches)
$$;

ALTER FUNCTION public.update_source_bookkeeping(p_patches jsonb) OWNER TO postgres;

--
-- Name: FUNCTION update_source_bookkeeping(p_patches jsonb); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.update_source_bookkeeping(p_patches jsonb) IS 'Applies many source bookkeeping patches in one call: a JSON array of {id, last_checked_at, last_success_at?, etag?, last_modified?, last_error?, last_error_class?, consecutive_failures?, text_key?}; keys left out keep their value. A patch older than the row''s last_checked_at is skipped. Returns the number of sources updated.';

--
-- Name: cron_dispatches; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.cron_dispatches (
    id bigint NOT NULL,
    job_name text NOT NULL,
    request_id bigint,
    dispatched_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE private.cron_dispatches OWNER TO postgres;

--
-- Name: TABLE cron_dispatches; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.cron_dispatches IS 'Each pg_net request the cron job queued, to find its response (net._http_response) when a night was missed.';

--
-- Name: COLUMN cron_dispatches.id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.cron_dispatches.id IS 'Row id.';

--
-- Name: COLUMN cron_dispatches.job_name; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.cron_dispatches.job_name IS 'Job the request started.';

--
-- Name: COLUMN cron_dispatches.request_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.cron_dispatches.request_id IS 'pg_net request id.';

--
-- Name: COLUMN cron_dispatches.dispatched_at; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.cron_dispatches.dispatched_at IS 'When the request was queued.';

--
-- Name: cron_dispatches_id_seq; Type: SEQUENCE; Schema: private; Owner: postgres
--

CREATE SEQUENCE private.cron_dispatches_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER TABLE private.cron_dispatches_id_seq OWNER TO postgres;

--
-- Name: cron_dispatches_id_seq; Type: SEQUENCE OWNED BY; Schema: private; Owner: postgres
--

ALTER SEQUENCE private.cron_dispatches_id_seq OWNED BY private.cron_dispatches.id;

--
-- Name: fetch_schedule; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.fetch_schedule (
    job_name text NOT NULL,
    schedule text NOT NULL,
    max_gap interval NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT fetch_schedule_max_gap_check CHECK ((max_gap > '00:00:00'::interval))
);

ALTER TABLE private.fetch_schedule OWNER TO postgres;

--
-- Name: TABLE fetch_schedule; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.fetch_schedule IS 'The schedule in force of each fetch job, set by public.set_fetch_schedule(); cron.schedule in the migration installs the stored value, so a later db push does not reset it.';

--
-- Name: COLUMN fetch_schedule.job_name; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.fetch_schedule.job_name IS 'pg_cron job name (daily-fetch).';

--
-- Name: COLUMN fetch_schedule.schedule; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.fetch_schedule.schedule IS 'Five-field cron expression, UTC.';

--
-- Name: COLUMN fetch_schedule.max_gap; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.fetch_schedule.max_gap IS 'Longest time between two firings of the schedule (what the missed-run watchdog waits for, plus grace).';

--
-- Name: COLUMN fetch_schedule.updated_at; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.fetch_schedule.updated_at IS 'When the schedule was last set.';

--
-- Name: run_hosts; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.run_hosts (
    run_id uuid NOT NULL,
    host text NOT NULL,
    not_before timestamp with time zone DEFAULT '-infinity'::timestamp with time zone NOT NULL,
    max_in_flight integer,
    delay_ms integer DEFAULT 0 NOT NULL,
    slowed_at timestamp with time zone,
    items integer DEFAULT 0 NOT NULL,
    CONSTRAINT run_hosts_delay_ms_check CHECK ((delay_ms >= 0)),
    CONSTRAINT run_hosts_items_check CHECK ((items >= 0)),
    CONSTRAINT run_hosts_max_in_flight_check CHECK (((max_in_flight IS NULL) OR (max_in_flight >= 1)))
);

ALTER TABLE private.run_hosts OWNER TO postgres;

--
-- Name: TABLE run_hosts; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.run_hosts IS 'Per-run, per-host politeness state shared by all invocations of a run: job_claim_items locks a host''s row while it claims its items, so no host ever has more items in flight than its limit, and the next start respects the politeness delay.';

--
-- Name: COLUMN run_hosts.run_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.run_id IS 'Run.';

--
-- Name: COLUMN run_hosts.host; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.host IS 'Host (private.url_host of the sources'' URLs).';

--
-- Name: COLUMN run_hosts.not_before; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.not_before IS 'No item of this host is claimed before this (politeness delay, Retry-After); infinity once the host has no item left.';

--
-- Name: COLUMN run_hosts.max_in_flight; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.max_in_flight IS 'Per-host limit lowered for the rest of the run (1 after a 429/503 with Retry-After); null: FETCH_PER_HOST_CONCURRENCY.';

--
-- Name: COLUMN run_hosts.delay_ms; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.delay_ms IS 'Politeness delay raised for the rest of the run by a Retry-After (the larger of this and FETCH_POLITENESS_DELAY_MS applies).';

--
-- Name: COLUMN run_hosts.slowed_at; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.slowed_at IS 'When a 429/503 with Retry-After last slowed this host.';

--
-- Name: COLUMN run_hosts.items; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_hosts.items IS 'How many of the run''s due items are on this host (job_add_items): a host holding at least 1/16 of them is the run''s bottleneck, and only such a host has its request slots hold more than one item of a claimer (job_claim_items p_slot_depth).';

--
-- Name: run_invocations; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.run_invocations (
    run_id uuid NOT NULL,
    invocation_id text NOT NULL,
    first_claim_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE private.run_invocations OWNER TO postgres;

--
-- Name: TABLE run_invocations; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.run_invocations IS 'Invocations that claimed items of a run (job_runs.invocations counts them).';

--
-- Name: COLUMN run_invocations.run_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_invocations.run_id IS 'Run.';

--
-- Name: COLUMN run_invocations.invocation_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_invocations.invocation_id IS 'Invocation id passed to job_claim_items.';

--
-- Name: COLUMN run_invocations.first_claim_at; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_invocations.first_claim_at IS 'When the invocation first claimed items.';

--
-- Name: run_items_gone; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.run_items_gone (
    run_id uuid NOT NULL,
    items integer DEFAULT 0 NOT NULL,
    CONSTRAINT run_items_gone_items_check CHECK ((items >= 0))
);

ALTER TABLE private.run_items_gone OWNER TO postgres;

--
-- Name: TABLE run_items_gone; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.run_items_gone IS 'Open work items (pending or claimed) of a running run whose source was deleted (on delete cascade): the run''s open items are total_items - sources_skipped - sources_processed - items (private.job_open_items).';

--
-- Name: COLUMN run_items_gone.run_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_items_gone.run_id IS 'Run.';

--
-- Name: COLUMN run_items_gone.items; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.run_items_gone.items IS 'How many of its open items went with their sources.';

--
-- Name: watchdog_state; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.watchdog_state (
    job_name text NOT NULL,
    watching_since timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE private.watchdog_state OWNER TO postgres;

--
-- Name: TABLE watchdog_state; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.watchdog_state IS 'Since when the missed-run watchdog watches a job: no run is reported missed within the first window (the schedule''s longest gap plus grace) after installation or a schedule change.';

--
-- Name: COLUMN watchdog_state.job_name; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.watchdog_state.job_name IS 'Watched job.';

--
-- Name: COLUMN watchdog_state.watching_since; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.watchdog_state.watching_since IS 'When the schedule was installed or last changed.';

--
-- Name: check_frequencies; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.check_frequencies (
    name text NOT NULL,
    check_interval interval NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    interval_seconds double precision GENERATED ALWAYS AS (EXTRACT(epoch FROM check_interval)) STORED,
    CONSTRAINT check_frequencies_check_interval_check CHECK ((check_interval > '00:00:00'::interval)),
    CONSTRAINT check_frequencies_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,30}$'::text))
);

ALTER TABLE public.check_frequencies OWNER TO postgres;

--
-- Name: TABLE check_frequencies; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.check_frequencies IS 'Allowed values of sources.check_frequency and the interval each one means. Add a row to add a frequency.';

--
-- Name: COLUMN check_frequencies.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.check_frequencies.name IS 'Name used in sources.check_frequency, e.g. daily.';

--
-- Name: COLUMN check_frequencies.check_interval; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.check_frequencies.check_interval IS 'Time between two checks of a source with this frequency.';

--
-- Name: COLUMN check_frequencies.description; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.check_frequencies.description IS 'Human description shown to operators.';

--
-- Name: COLUMN check_frequencies.interval_seconds; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.check_frequencies.interval_seconds IS 'check_interval in seconds (derived).';

--
-- Name: feed_tokens; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.feed_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    token_hash text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT feed_tokens_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT feed_tokens_token_hash_check CHECK ((token_hash ~ '^[0-9a-f]{64}$'::text))
);

ALTER TABLE public.feed_tokens OWNER TO postgres;

--
-- Name: TABLE feed_tokens; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.feed_tokens IS 'Tokens that authorise reading the Atom feed of changes (GET /api/feeds/changes.atom?token=...). Created and revoked through the API; only their SHA-256 is stored.';

--
-- Name: COLUMN feed_tokens.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.id IS 'Feed token id.';

--
-- Name: COLUMN feed_tokens.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.name IS 'What the token is for, e.g. "team feed reader".';

--
-- Name: COLUMN feed_tokens.token_hash; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.token_hash IS 'SHA-256 (hex) of the token; the token itself is shown once, when created.';

--
-- Name: COLUMN feed_tokens.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.created_at IS 'When the token was created.';

--
-- Name: COLUMN feed_tokens.last_used_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.last_used_at IS 'When the feed was last read with it.';

--
-- Name: COLUMN feed_tokens.revoked_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.feed_tokens.revoked_at IS 'When it was revoked; a revoked token reads nothing.';

--
-- Name: job_run_history; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.job_run_history WITH (security_invoker='true') AS
 SELECT r.id AS run_id,
    r.job_name,
    r.trigger,
    r.status,
    r.started_at,
    r.completed_at,
    (COALESCE(r.completed_at, now()) - r.started_at) AS duration,
    r.total_items,
    r.sources_processed,
    r.sources_succeeded,
    r.sources_failed,
    r.sources_skipped,
    r.changes_detected,
    r.alerts_sent,
    jsonb_array_length(r.errors) AS error_count
   FROM public.job_runs r
  ORDER BY r.started_at DESC;

ALTER TABLE public.job_run_history OWNER TO postgres;

--
-- Name: VIEW job_run_history; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON VIEW public.job_run_history IS 'Runs of the jobs, newest first, with duration and counts: read this in Studio.';

--
-- Name: COLUMN job_run_history.run_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.run_id IS 'Run id.';

--
-- Name: COLUMN job_run_history.job_name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.job_name IS 'Job name.';

--
-- Name: COLUMN job_run_history.trigger; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.trigger IS 'cron or manual.';

--
-- Name: COLUMN job_run_history.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.status IS 'running, succeeded, partial or failed.';

--
-- Name: COLUMN job_run_history.started_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.started_at IS 'Start.';

--
-- Name: COLUMN job_run_history.completed_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.completed_at IS 'End.';

--
-- Name: COLUMN job_run_history.duration; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.duration IS 'completed_at - started_at (so far, while running).';

--
-- Name: COLUMN job_run_history.total_items; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.total_items IS 'Sources looked at.';

--
-- Name: COLUMN job_run_history.sources_processed; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.sources_processed IS 'Sources fetched.';

--
-- Name: COLUMN job_run_history.sources_succeeded; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.sources_succeeded IS 'Sources fetched successfully.';

--
-- Name: COLUMN job_run_history.sources_failed; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.sources_failed IS 'Sources that failed.';

--
-- Name: COLUMN job_run_history.sources_skipped; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.sources_skipped IS 'Sources not due.';

--
-- Name: COLUMN job_run_history.changes_detected; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.changes_detected IS 'Changes recorded.';

--
-- Name: COLUMN job_run_history.alerts_sent; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.alerts_sent IS 'Alerts delivered.';

--
-- Name: COLUMN job_run_history.error_count; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.job_run_history.error_count IS 'Number of errors.';

--
-- Name: policy_changes; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.policy_changes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    source_id uuid NOT NULL,
    snapshot_id uuid,
    previous_snapshot_id uuid,
    detected_at timestamp with time zone DEFAULT now() NOT NULL,
    diff text DEFAULT ''::text NOT NULL,
    summary jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT policy_changes_summary_check CHECK ((jsonb_typeof(summary) = 'object'::text))
);
ALTER TABLE ONLY public.policy_changes ALTER COLUMN diff SET COMPRESSION lz4;

ALTER TABLE public.policy_changes OWNER TO postgres;

--
-- Name: TABLE policy_changes; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.policy_changes IS 'A real change of a source''s text: the unified diff between two snapshots.';

--
-- Name: COLUMN policy_changes.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.id IS 'PolicyChange id.';

--
-- Name: COLUMN policy_changes.source_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.source_id IS 'Source that changed.';

--
-- Name: COLUMN policy_changes.snapshot_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.snapshot_id IS 'Snapshot with the new text (unique: one change per snapshot).';

--
-- Name: COLUMN policy_changes.previous_snapshot_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.previous_snapshot_id IS 'Snapshot with the old text.';

--
-- Name: COLUMN policy_changes.detected_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.detected_at IS 'When the change was detected.';

--
-- Name: COLUMN policy_changes.diff; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.diff IS 'Unified diff of the normalised text, old to new.';

--
-- Name: COLUMN policy_changes.summary; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.policy_changes.summary IS 'Short summary: lines_added, lines_removed, first_changed_lines.';

--
-- Name: snapshots; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.snapshots (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    source_id uuid NOT NULL,
    fetch_id uuid NOT NULL,
    content_hash text NOT NULL,
    content text NOT NULL,
    content_type text,
    fetched_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT snapshots_content_hash_check CHECK ((content_hash ~ '^[0-9a-f]{64}$'::text))
);
ALTER TABLE ONLY public.snapshots ALTER COLUMN content SET COMPRESSION lz4;

ALTER TABLE public.snapshots OWNER TO postgres;

--
-- Name: TABLE snapshots; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.snapshots IS 'Normalised text of a source each time it changed (the first one is the baseline).';

--
-- Name: COLUMN snapshots.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.id IS 'Snapshot id.';

--
-- Name: COLUMN snapshots.source_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.source_id IS 'Source the text was fetched from.';

--
-- Name: COLUMN snapshots.fetch_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.fetch_id IS 'Id of the fetch that produced it; a retried write of the same fetch is a no-op.';

--
-- Name: COLUMN snapshots.content_hash; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.content_hash IS 'SHA-256 (hex) of content.';

--
-- Name: COLUMN snapshots.content; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.content IS 'Normalised text that was hashed.';

--
-- Name: COLUMN snapshots.content_type; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.content_type IS 'Media type of the response (text/html, application/pdf, ...).';

--
-- Name: COLUMN snapshots.fetched_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.snapshots.fetched_at IS 'When the response was fetched.';

--
-- Name: source_status; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.source_status WITH (security_invoker='true') AS
 SELECT s.id,
    s.name,
    s.url,
    s.active,
    s.check_frequency,
    s.css_selector,
    s.ignore_patterns,
    s.render,
    s.created_at,
    s.updated_at,
    s.last_checked_at,
    s.last_success_at,
    s.last_error,
    s.last_error_class,
    s.consecutive_failures,
    ( SELECT max(c.detected_at) AS max
           FROM public.policy_changes c
          WHERE (c.source_id = s.id)) AS last_change_at,
        CASE
            WHEN (s.last_checked_at IS NULL) THEN NULL::timestamp with time zone
            ELSE (s.last_checked_at + f.check_interval)
        END AS next_due_at
   FROM (public.sources s
     JOIN public.check_frequencies f ON ((f.name = s.check_frequency)));

ALTER TABLE public.source_status OWNER TO postgres;

--
-- Name: VIEW source_status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON VIEW public.source_status IS 'Sources with their health and schedule: last check, last change, failure streak, next due time. Read this in Studio.';

--
-- Name: COLUMN source_status.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.id IS 'Source id.';

--
-- Name: COLUMN source_status.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.name IS 'Human name.';

--
-- Name: COLUMN source_status.url; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.url IS 'URL fetched.';

--
-- Name: COLUMN source_status.active; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.active IS 'Only active sources are fetched.';

--
-- Name: COLUMN source_status.check_frequency; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.check_frequency IS 'How often the source is due.';

--
-- Name: COLUMN source_status.css_selector; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.css_selector IS 'Part of the page watched, or null for the main content.';

--
-- Name: COLUMN source_status.ignore_patterns; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.ignore_patterns IS 'Regular expressions removed before hashing.';

--
-- Name: COLUMN source_status.render; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.render IS 'static (plain HTTP) or browser (a real browser renders the page).';

--
-- Name: COLUMN source_status.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.created_at IS 'When the source was added.';

--
-- Name: COLUMN source_status.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.updated_at IS 'When the source was last changed.';

--
-- Name: COLUMN source_status.last_checked_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.last_checked_at IS 'Last fetch, successful or not.';

--
-- Name: COLUMN source_status.last_success_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.last_success_at IS 'Last successful fetch.';

--
-- Name: COLUMN source_status.last_error; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.last_error IS 'Message of the last failure; null after a success.';

--
-- Name: COLUMN source_status.last_error_class; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.last_error_class IS 'Class of the last failure.';

--
-- Name: COLUMN source_status.consecutive_failures; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.consecutive_failures IS 'Failure streak: failed checks since the last success.';

--
-- Name: COLUMN source_status.last_change_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.last_change_at IS 'When the last policy change of the source was detected.';

--
-- Name: COLUMN source_status.next_due_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.source_status.next_due_at IS 'When the source is next due (last check + its frequency); null: due at the next run.';

--
-- Name: subscriptions; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.subscriptions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    source_id uuid,
    channel text NOT NULL,
    target text NOT NULL,
    secret text,
    active boolean DEFAULT true NOT NULL,
    operational_alerts boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    has_secret boolean GENERATED ALWAYS AS ((secret IS NOT NULL)) STORED,
    CONSTRAINT subscriptions_channel_check CHECK ((channel = ANY (ARRAY['webhook'::text, 'slack'::text, 'email'::text]))),
    CONSTRAINT subscriptions_secret_check CHECK (((secret IS NULL) OR ((length(secret) >= 16) AND (length(secret) <= 512)))),
    CONSTRAINT subscriptions_target_check CHECK ((length(target) <= 2048)),
    CONSTRAINT subscriptions_target_valid CHECK ((((channel = ANY (ARRAY['webhook'::text, 'slack'::text])) AND (target ~* '^https?://[^\s/?#]+[^\s]*$'::text)) OR ((channel = 'email'::text) AND (target ~* '^[^\s@]+@[^\s@]+\.[^\s@]+$'::text))))
);

ALTER TABLE public.subscriptions OWNER TO postgres;

--
-- Name: TABLE subscriptions; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.subscriptions IS 'Who is alerted of changes: one source (source_id) or all sources (source_id null).';

--
-- Name: COLUMN subscriptions.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.id IS 'Subscription id.';

--
-- Name: COLUMN subscriptions.source_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.source_id IS 'Watched source; null means all sources.';

--
-- Name: COLUMN subscriptions.channel; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.channel IS 'Delivery channel: webhook, slack or email.';

--
-- Name: COLUMN subscriptions.target; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.target IS 'Webhook or Slack incoming-webhook URL, or an email address.';

--
-- Name: COLUMN subscriptions.secret; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.secret IS 'Webhook signing secret (HMAC-SHA256). Write-only for the API roles: no role but the owner can read it (column privileges); alerts are signed inside the database by sign_alert_body().';

--
-- Name: COLUMN subscriptions.active; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.active IS 'Only active subscriptions receive alerts.';

--
-- Name: COLUMN subscriptions.operational_alerts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.operational_alerts IS 'Also receive "source failing", "source recovered" and "run missed" alerts.';

--
-- Name: COLUMN subscriptions.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.created_at IS 'When the subscription was added.';

--
-- Name: COLUMN subscriptions.has_secret; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.subscriptions.has_secret IS 'True when a webhook signing secret is set (the secret itself is write-only).';

--
-- Name: cron_dispatches id; Type: DEFAULT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.cron_dispatches ALTER COLUMN id SET DEFAULT nextval('private.cron_dispatches_id_seq'::regclass);

--
-- Name: cron_dispatches cron_dispatches_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.cron_dispatches
    ADD CONSTRAINT cron_dispatches_pkey PRIMARY KEY (id);

--
-- Name: fetch_schedule fetch_schedule_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.fetch_schedule
    ADD CONSTRAINT fetch_schedule_pkey PRIMARY KEY (job_name);

--
-- Name: run_hosts run_hosts_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_hosts
    ADD CONSTRAINT run_hosts_pkey PRIMARY KEY (run_id, host);

--
-- Name: run_invocations run_invocations_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_invocations
    ADD CONSTRAINT run_invocations_pkey PRIMARY KEY (run_id, invocation_id);

--
-- Name: run_items_gone run_items_gone_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_items_gone
    ADD CONSTRAINT run_items_gone_pkey PRIMARY KEY (run_id);

--
-- Name: watchdog_state watchdog_state_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.watchdog_state
    ADD CONSTRAINT watchdog_state_pkey PRIMARY KEY (job_name);

--
-- Name: alerts alerts_change_subscription_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_change_subscription_key UNIQUE (policy_change_id, subscription_id);

--
-- Name: alerts alerts_event_subscription_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_event_subscription_key UNIQUE (event_key, subscription_id);

--
-- Name: alerts alerts_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);

--
-- Name: check_frequencies check_frequencies_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.check_frequencies
    ADD CONSTRAINT check_frequencies_pkey PRIMARY KEY (name);

--
-- Name: feed_tokens feed_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.feed_tokens
    ADD CONSTRAINT feed_tokens_pkey PRIMARY KEY (id);

--
-- Name: feed_tokens feed_tokens_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.feed_tokens
    ADD CONSTRAINT feed_tokens_token_hash_key UNIQUE (token_hash);

--
-- Name: job_run_sources job_run_sources_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.job_run_sources
    ADD CONSTRAINT job_run_sources_pkey PRIMARY KEY (run_id, source_id);

--
-- Name: job_runs job_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.job_runs
    ADD CONSTRAINT job_runs_pkey PRIMARY KEY (id);

--
-- Name: policy_changes policy_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.policy_changes
    ADD CONSTRAINT policy_changes_pkey PRIMARY KEY (id);

--
-- Name: policy_changes policy_changes_snapshot_id_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.policy_changes
    ADD CONSTRAINT policy_changes_snapshot_id_key UNIQUE (snapshot_id);

--
-- Name: snapshots snapshots_fetch_id_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.snapshots
    ADD CONSTRAINT snapshots_fetch_id_key UNIQUE (fetch_id);

--
-- Name: snapshots snapshots_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.snapshots
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (id);

--
-- Name: sources sources_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.sources
    ADD CONSTRAINT sources_pkey PRIMARY KEY (id);

--
-- Name: subscriptions subscriptions_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.subscriptions
    ADD CONSTRAINT subscriptions_pkey PRIMARY KEY (id);

--
-- Name: run_hosts_due_idx; Type: INDEX; Schema: private; Owner: postgres
--

CREATE INDEX run_hosts_due_idx ON private.run_hosts USING btree (run_id, not_before);

--
-- Name: alerts_due_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX alerts_due_idx ON public.alerts USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text, 'sending'::text]));

--
-- Name: alerts_event_key_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX alerts_event_key_idx ON public.alerts USING btree (event_key) WHERE (event_key IS NOT NULL);

--
-- Name: alerts_source_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX alerts_source_idx ON public.alerts USING btree (source_id) WHERE (source_id IS NOT NULL);

--
-- Name: alerts_subscription_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX alerts_subscription_idx ON public.alerts USING btree (subscription_id);

--
-- Name: job_run_sources_change_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX job_run_sources_change_idx ON public.job_run_sources USING btree (policy_change_id) WHERE (policy_change_id IS NOT NULL);

--
-- Name: job_run_sources_open_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX job_run_sources_open_idx ON public.job_run_sources USING btree (run_id, status, host, source_id) WHERE (status = ANY (ARRAY['pending'::text, 'claimed'::text]));

--
-- Name: job_run_sources_source_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX job_run_sources_source_idx ON public.job_run_sources USING btree (source_id, run_id);

--
-- Name: job_runs_completed_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX job_runs_completed_idx ON public.job_runs USING btree (completed_at) WHERE (status <> 'running'::text);

--
-- Name: job_runs_one_running; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX job_runs_one_running ON public.job_runs USING btree (job_name) WHERE (status = 'running'::text);

--
-- Name: job_runs_started_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX job_runs_started_idx ON public.job_runs USING btree (job_name, started_at DESC);

--
-- Name: policy_changes_previous_snapshot_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX policy_changes_previous_snapshot_idx ON public.policy_changes USING btree (previous_snapshot_id);

--
-- Name: policy_changes_source_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX policy_changes_source_idx ON public.policy_changes USING btree (source_id, detected_at DESC);

--
-- Name: snapshots_source_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX snapshots_source_idx ON public.snapshots USING btree (source_id, fetched_at DESC);

--
-- Name: sources_active_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX sources_active_idx ON public.sources USING btree (active, check_frequency);

--
-- Name: sources_last_snapshot_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX sources_last_snapshot_idx ON public.sources USING btree (last_snapshot_id);

--
-- Name: subscriptions_source_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX subscriptions_source_idx ON public.subscriptions USING btree (source_id) WHERE active;

--
-- Name: job_run_sources job_run_sources_gone; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER job_run_sources_gone AFTER DELETE ON public.job_run_sources FOR EACH ROW WHEN ((old.status = ANY (ARRAY['pending'::text, 'claimed'::text]))) EXECUTE FUNCTION private.job_item_gone();

--
-- Name: sources sources_validate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER sources_validate BEFORE INSERT OR UPDATE OF ignore_patterns, name, url ON public.sources FOR EACH ROW EXECUTE FUNCTION private.validate_source();

--
-- Name: run_hosts run_hosts_run_id_fkey; Type: FK CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_hosts
    ADD CONSTRAINT run_hosts_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.job_runs(id) ON DELETE CASCADE;

--
-- Name: run_invocations run_invocations_run_id_fkey; Type: FK CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_invocations
    ADD CONSTRAINT run_invocations_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.job_runs(id) ON DELETE CASCADE;

--
-- Name: run_items_gone run_items_gone_run_id_fkey; Type: FK CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.run_items_gone
    ADD CONSTRAINT run_items_gone_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.job_runs(id) ON DELETE CASCADE;

--
-- Name: alerts alerts_policy_change_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_policy_change_id_fkey FOREIGN KEY (policy_change_id) REFERENCES public.policy_changes(id) ON DELETE CASCADE;

--
-- Name: alerts alerts_source_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.sources(id) ON DELETE CASCADE;

--
-- Name: alerts alerts_subscription_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_subscription_id_fkey FOREIGN KEY (subscription_id) REFERENCES public.subscriptions(id) ON DELETE CASCADE;

--
-- Name: job_run_sources job_run_sources_policy_change_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.job_run_sources
    ADD CONSTRAINT job_run_sources_policy_change_id_fkey FOREIGN KEY (policy_change_id) REFERENCES public.policy_changes(id) ON DELETE SET NULL;

--
-- Name: job_run_sources job_run_sources_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.job_run_sources
    ADD CONSTRAINT job_run_sources_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.job_runs(id) ON DELETE CASCADE;

--
-- Name: job_run_sources job_run_sources_source_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.job_run_sources
    ADD CONSTRAINT job_run_sources_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.sources(id) ON DELETE CASCADE;

--
-- Name: policy_changes policy_changes_previous_snapshot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.policy_changes
    ADD CONSTRAINT policy_changes_previous_snapshot_id_fkey FOREIGN KEY (previous_snapshot_id) REFERENCES public.snapshots(id) ON DELETE SET NULL;

--
-- Name: policy_changes policy_changes_snapshot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.policy_changes
    ADD CONSTRAINT policy_changes_snapshot_id_fkey FOREIGN KEY (snapshot_id) REFERENCES public.snapshots(id) ON DELETE CASCADE;

--
-- Name: policy_changes policy_changes_source_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.policy_changes
    ADD CONSTRAINT policy_changes_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.sources(id) ON DELETE CASCADE;

--
-- Name: snapshots snapshots_source_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.snapshots
    ADD CONSTRAINT snapshots_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.sources(id) ON DELETE CASCADE;

--
-- Name: sources sources_check_frequency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.sources
    ADD CONSTRAINT sources_check_frequency_fkey FOREIGN KEY (check_frequency) REFERENCES public.check_frequencies(name) ON UPDATE CASCADE;

--
-- Name: sources sources_last_snapshot_fk; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.sources
    ADD CONSTRAINT sources_last_snapshot_fk FOREIGN KEY (last_snapshot_id) REFERENCES public.snapshots(id) ON DELETE SET NULL;

--
-- Name: subscriptions subscriptions_source_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.subscriptions
    ADD CONSTRAINT subscriptions_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.sources(id) ON DELETE CASCADE;

--
-- Name: cron_dispatches; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.cron_dispatches ENABLE ROW LEVEL SECURITY;

--
-- Name: fetch_schedule; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.fetch_schedule ENABLE ROW LEVEL SECURITY;

--
-- Name: run_hosts; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.run_hosts ENABLE ROW LEVEL SECURITY;

--
-- Name: run_invocations; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.run_invocations ENABLE ROW LEVEL SECURITY;

--
-- Name: run_items_gone; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.run_items_gone ENABLE ROW LEVEL SECURITY;

--
-- Name: watchdog_state; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.watchdog_state ENABLE ROW LEVEL SECURITY;

--
-- Name: alerts Admin users can read alerts; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Admin users can read alerts" ON public.alerts FOR SELECT TO authenticated USING ((((( SELECT auth.jwt() AS jwt) -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text));

--
-- Name: job_run_sources Admin users can read job run sources; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Admin users can read job run sources" ON public.job_run_sources FOR SELECT TO authenticated USING ((((( SELECT auth.jwt() AS jwt) -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text));

--
-- Name: job_runs Admin users can read job runs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Admin users can read job runs" ON public.job_runs FOR SELECT TO authenticated USING ((((( SELECT auth.jwt() AS jwt) -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text));

--
-- Name: policy_changes Admin users can read policy changes; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Admin users can read policy changes" ON public.policy_changes FOR SELECT TO authenticated USING ((((( SELECT auth.jwt() AS jwt) -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text));

--
-- Name: sources Admin users can read sources; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Admin users can read sources" ON public.sources FOR SELECT TO authenticated USING ((((( SELECT auth.jwt() AS jwt) -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text));

--
-- Name: check_frequencies Signed-in users can read check frequencies; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Signed-in users can read check frequencies" ON public.check_frequencies FOR SELECT TO authenticated USING (true);

--
-- Name: alerts; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.alerts ENABLE ROW LEVEL SECURITY;

--
-- Name: check_frequencies; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.check_frequencies ENABLE ROW LEVEL SECURITY;

--
-- Name: feed_tokens; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.feed_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: job_run_sources; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.job_run_sources ENABLE ROW LEVEL SECURITY;

--
-- Name: job_runs; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.job_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: policy_changes; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.policy_changes ENABLE ROW LEVEL SECURITY;

--
-- Name: snapshots; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.snapshots ENABLE ROW LEVEL SECURITY;

--
-- Name: sources; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.sources ENABLE ROW LEVEL SECURITY;

--
-- Name: subscriptions; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.subscriptions ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

GRANT ALL ON SCHEMA public TO postgres;
GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

--
-- Name: TABLE alerts; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.alerts TO anon;
GRANT ALL ON TABLE public.alerts TO authenticated;
GRANT ALL ON TABLE public.alerts TO service_role;

--
-- Name: FUNCTION alert_queued_json(p_alert public.alerts); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.alert_queued_json(p_alert public.alerts) FROM PUBLIC;

--
-- Name: FUNCTION apply_source_bookkeeping(p_patches jsonb, p_last_hash text, p_last_snapshot_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.apply_source_bookkeeping(p_patches jsonb, p_last_hash text, p_last_snapshot_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.call_api(p_job_name text, p_path text, p_body jsonb, p_async boolean) FROM PUBLIC;

--
-- Name: FUNCTION check_missed_daily_fetch(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.check_missed_daily_fetch() FROM PUBLIC;

--
-- Name: FUNCTION cron_field_values(p_field text, p_min integer, p_max integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.cron_field_values(p_field text, p_min integer, p_max integer) FROM PUBLIC;

--
-- Name: FUNCTION cron_max_gap(p_expression text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.cron_max_gap(p_expression text) FROM PUBLIC;

--
-- Name: FUNCTION describe(p_relation regclass, p_comment text, p_columns jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.describe(p_relation regclass, p_comment text, p_columns jsonb) FROM PUBLIC;

--
-- Name: FUNCTION enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION expose_table(p_table regclass, p_admin_read boolean); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.expose_table(p_table regclass, p_admin_read boolean) FROM PUBLIC;

--
-- Name: FUNCTION job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_claim_answer(p_run_id uuid, p_claimed_by text, p_lease_ms integer, p_now timestamp with time zone, p_ids uuid[], p_starts integer[], p_slots integer[], p_poisoned uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_claim_next(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_poisoned uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION job_count_outcomes(p_run_id uuid, p_tally jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_count_outcomes(p_run_id uuid, p_tally jsonb) FROM PUBLIC;

--
-- Name: FUNCTION job_fail_poison_items(p_run_id uuid, p_max_attempts integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_fail_poison_items(p_run_id uuid, p_max_attempts integer) FROM PUBLIC;

--
-- Name: FUNCTION job_item_gone(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_item_gone() FROM PUBLIC;

--
-- Name: TABLE job_run_sources; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.job_run_sources TO anon;
GRANT ALL ON TABLE public.job_run_sources TO authenticated;
GRANT ALL ON TABLE public.job_run_sources TO service_role;

--
-- Name: FUNCTION job_lost_claim(p_item public.job_run_sources); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_lost_claim(p_item public.job_run_sources) FROM PUBLIC;

--
-- Name: TABLE job_runs; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.job_runs TO anon;
GRANT ALL ON TABLE public.job_runs TO authenticated;
GRANT ALL ON TABLE public.job_runs TO service_role;

--
-- Name: FUNCTION job_open_items(p_run public.job_runs); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_open_items(p_run public.job_runs) FROM PUBLIC;

--
-- Name: FUNCTION job_record_outcomes(p_run_id uuid, p_outcomes jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.job_record_outcomes(p_run_id uuid, p_outcomes jsonb) FROM PUBLIC;

--
-- Name: TABLE sources; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.sources TO anon;
GRANT ALL ON TABLE public.sources TO authenticated;
GRANT ALL ON TABLE public.sources TO service_role;

--
-- Name: FUNCTION lock_source(p_source_id uuid, p_not_found text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.lock_source(p_source_id uuid, p_not_found text) FROM PUBLIC;

--
-- Name: FUNCTION policy_change_json(p_change_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.policy_change_json(p_change_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION prune_history(p_snapshot_days integer, p_item_days integer, p_batch integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.prune_history(p_snapshot_days integer, p_item_days integer, p_batch integer) FROM PUBLIC;

--
-- Name: FUNCTION queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.queue_alerts(p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_exclude_subscription_id uuid, p_subscription_ids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.report_dead_alert(p_alert public.alerts, p_now timestamp with time zone, p_subscription_ids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION resume_stalled_runs(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.resume_stalled_runs() FROM PUBLIC;

--
-- Name: FUNCTION service_role_only(p_functions regprocedure[]); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.service_role_only(p_functions regprocedure[]) FROM PUBLIC;

--
-- Name: FUNCTION claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.claim_alerts(p_now timestamp with time zone, p_lease_ms integer, p_limit integer, p_max_attempts integer, p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[]) TO service_role;

--
-- Name: FUNCTION enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.enqueue_operational_alerts(p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamp with time zone, p_subscription_ids uuid[]) TO service_role;

--
-- Name: FUNCTION enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.enqueue_policy_change_alerts(p_policy_change_id uuid, p_now timestamp with time zone, p_subscription_ids uuid[]) TO service_role;

--
-- Name: FUNCTION finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.finish_alert(p_alert_id uuid, p_attempt integer, p_status text, p_error text, p_next_attempt_at timestamp with time zone, p_now timestamp with time zone, p_subscription_ids uuid[]) TO service_role;

--
-- Name: FUNCTION job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_add_items(p_run_id uuid, p_due uuid[], p_skipped uuid[]) TO service_role;

--
-- Name: FUNCTION job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_claim_items(p_run_id uuid, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer) TO service_role;

--
-- Name: FUNCTION job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_complete_and_claim(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb, p_claimed_by text, p_limit integer, p_lease_ms integer, p_per_host integer, p_delay_ms integer, p_max_attempts integer, p_slot_depth integer, p_count boolean) TO service_role;

--
-- Name: FUNCTION job_complete_items(p_run_id uuid, p_outcomes jsonb); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb) TO service_role;

--
-- Name: FUNCTION job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_complete_items(p_run_id uuid, p_outcomes jsonb, p_bookkeeping jsonb) TO service_role;

--
-- Name: FUNCTION job_expire_stale_runs(p_job_name text); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_expire_stale_runs(p_job_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_expire_stale_runs(p_job_name text) TO service_role;

--
-- Name: FUNCTION job_fail_run(p_run_id uuid, p_error text); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_fail_run(p_run_id uuid, p_error text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_fail_run(p_run_id uuid, p_error text) TO service_role;

--
-- Name: FUNCTION job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_renew_leases(p_run_id uuid, p_claimed_by text, p_lease_ms integer) TO service_role;

--
-- Name: FUNCTION job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_slot_release(p_run_id uuid, p_source_id uuid, p_attempt integer) TO service_role;

--
-- Name: FUNCTION job_slot_start(p_run_id uuid, p_host text); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_slot_start(p_run_id uuid, p_host text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_slot_start(p_run_id uuid, p_host text) TO service_role;

--
-- Name: FUNCTION job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_slow_host(p_run_id uuid, p_url text, p_retry_after_ms integer) TO service_role;

--
-- Name: FUNCTION job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.job_start_run(p_job_name text, p_trigger text, p_options jsonb, p_deadline_ms integer) TO service_role;

--
-- Name: FUNCTION record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION public.record_snapshot(p_source_id uuid, p_fetch_id uuid, p_previous_hash text, p_content_hash text, p_content text, p_content_type text, p_diff text, p_summary jsonb, p_fetched_at timestamp with time zone, p_bookkeeping jsonb, p_queue_alerts boolean) TO service_role;

--
-- Name: FUNCTION record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.record_source_health(p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamp with time zone, p_subscription_ids uuid[]) TO service_role;

--
-- Name: FUNCTION retry_alert(p_alert_id uuid, p_now timestamp with time zone); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.retry_alert(p_alert_id uuid, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.retry_alert(p_alert_id uuid, p_now timestamp with time zone) TO service_role;

--
-- Name: FUNCTION set_fetch_schedule(cron_expression text); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.set_fetch_schedule(cron_expression text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.set_fetch_schedule(cron_expression text) TO service_role;

--
-- Name: FUNCTION sign_alert_body(p_subscription_id uuid, p_body text); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.sign_alert_body(p_subscription_id uuid, p_body text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.sign_alert_body(p_subscription_id uuid, p_body text) TO service_role;

--
-- Name: FUNCTION update_source_bookkeeping(p_patches jsonb); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.update_source_bookkeeping(p_patches jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.update_source_bookkeeping(p_patches jsonb) TO service_role;

--
-- Name: TABLE check_frequencies; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.check_frequencies TO anon;
GRANT ALL ON TABLE public.check_frequencies TO authenticated;
GRANT ALL ON TABLE public.check_frequencies TO service_role;

--
-- Name: TABLE feed_tokens; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.feed_tokens TO anon;
GRANT ALL ON TABLE public.feed_tokens TO authenticated;
GRANT ALL ON TABLE public.feed_tokens TO service_role;

--
-- Name: TABLE job_run_history; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.job_run_history TO anon;
GRANT ALL ON TABLE public.job_run_history TO authenticated;
GRANT ALL ON TABLE public.job_run_history TO service_role;

--
-- Name: TABLE policy_changes; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.policy_changes TO anon;
GRANT ALL ON TABLE public.policy_changes TO authenticated;
GRANT ALL ON TABLE public.policy_changes TO service_role;

--
-- Name: TABLE snapshots; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.snapshots TO anon;
GRANT ALL ON TABLE public.snapshots TO authenticated;
GRANT ALL ON TABLE public.snapshots TO service_role;

--
-- Name: TABLE source_status; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.source_status TO anon;
GRANT ALL ON TABLE public.source_status TO authenticated;
GRANT ALL ON TABLE public.source_status TO service_role;

--
-- Name: TABLE subscriptions; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.subscriptions TO anon;
GRANT INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.subscriptions TO authenticated;
GRANT INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(id) ON TABLE public.subscriptions TO anon;
GRANT SELECT(id) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(id) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.source_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(source_id) ON TABLE public.subscriptions TO anon;
GRANT SELECT(source_id) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(source_id) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.channel; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(channel) ON TABLE public.subscriptions TO anon;
GRANT SELECT(channel) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(channel) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.target; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(target) ON TABLE public.subscriptions TO anon;
GRANT SELECT(target) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(target) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.active; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(active) ON TABLE public.subscriptions TO anon;
GRANT SELECT(active) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(active) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.operational_alerts; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(operational_alerts) ON TABLE public.subscriptions TO anon;
GRANT SELECT(operational_alerts) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(operational_alerts) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.created_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(created_at) ON TABLE public.subscriptions TO anon;
GRANT SELECT(created_at) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(created_at) ON TABLE public.subscriptions TO service_role;

--
-- Name: COLUMN subscriptions.has_secret; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(has_secret) ON TABLE public.subscriptions TO anon;
GRANT SELECT(has_secret) ON TABLE public.subscriptions TO authenticated;
GRANT SELECT(has_secret) ON TABLE public.subscriptions TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

--
-- Extensions (bootstrap's and the migrations')
--

CREATE EXTENSION IF NOT EXISTS pg_cron WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgtap WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;

--
-- pg_cron jobs (cron.job)
--

SELECT cron.schedule('alerts-deliver', '*/5 * * * *', $cmd$select private.call_api('alerts-deliver', '/functions/v1/api/jobs/alerts/deliver', '{}', false)$cmd$);
SELECT cron.schedule('daily-fetch', '0 * * * *', $cmd$select private.call_api('daily-fetch', '/functions/v1/api/jobs/daily-fetch', '{"trigger": "cron"}', true)$cmd$);
SELECT cron.schedule('daily-fetch-resume', '* * * * *', $cmd$select private.resume_stalled_runs()$cmd$);
SELECT cron.schedule('daily-fetch-watchdog', '15 * * * *', $cmd$select private.check_missed_daily_fetch()$cmd$);
SELECT cron.schedule('prune-cron-history', '30 3 * * *', $cmd$delete from cron.job_run_details where end_time < now() - interval '30 days'$cmd$);
SELECT cron.schedule('prune-history', '45 3 * * *', $cmd$select private.prune_history()$cmd$);

--
-- Rows the migrations insert
--

-- public.check_frequencies (name, check_interval, description):
--   ('daily', '1 day', 'Checked once a day, by the nightly run')
--   ('hourly', '01:00:00', 'Checked at most once an hour')
--   ('weekly', '7 days', 'Checked once a week')

-- private.watchdog_state (job_name):
--   ('daily-fetch')

-- private.fetch_schedule (job_name, schedule, max_gap):
--   ('daily-fetch', '0 * * * *', '01:00:00')
