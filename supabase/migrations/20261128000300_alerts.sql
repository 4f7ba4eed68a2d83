-- The alert engine's database side: the outbox in public.alerts is written, claimed and
-- completed only through these RPCs, so every step is atomic and idempotent.
--   * enqueue: one row per (change, subscription) or (event_key, subscription); the unique
--     keys make a second enqueue a no-op.
--   * claim: due rows (pending, failed past their backoff, or sending past their lease)
--     move to 'sending' with attempts + 1 and next_attempt_at = end of the lease, under
--     `for update skip locked`, so two engines never claim the same row and a crashed
--     sender's row is claimed again after its lease.
--   * finish: records sent / failed (with the next attempt time) / dead, fenced by the
--     attempt number so a sender that lost its lease cannot overwrite a newer attempt.
--   * source health: flips sources.failing_alerted and queues the "source failing" or
--     "source recovered" alerts in the same transaction.
--   * dead alerts: the step that gives an alert up (finish as dead, or a claim that finds
--     its last sender gone) queues an `alert_dead` report to the operational subscriptions
--     in the same transaction, and returns it, so the engine sends it at once.
--   * signing: subscription secrets never leave the database; the engine asks for the
--     HMAC-SHA256 of a body instead (pgcrypto, schema extensions).
-- All of them are security definer with an empty search_path and are executable by
-- service_role only (the edge function's own work).
--
-- Scope: the RPCs that choose rows (enqueue, source health, claim, the dead reports of
-- finish) take p_subscription_ids: null (the function's own work) means every
-- subscription; an array limits the call to those subscriptions' rows. An engine given a
-- scope (createSupabaseAlertStore(db, { subscriptionIds })) neither queues for, claims nor
-- reports to anyone else: the alert engine's tests share the stack's outbox this way, and
-- an operator can drain one subscription's alerts after fixing its receiver.

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

-- ---------------------------------------------------------------------------
-- The outbox.
create table if not exists public.alerts (
  id uuid primary key default gen_random_uuid(),
  policy_change_id uuid references public.policy_changes (id) on delete cascade,
  subscription_id uuid not null references public.subscriptions (id) on delete cascade,
  kind text not null default 'policy_change' check (kind in (
    'policy_change', 'source_failing', 'source_recovered', 'run_missed', 'alert_dead')),
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
select private.describe('public.alerts',
  'Outbox of notifications: one row per (policy change, subscription), written before sending, so nothing is sent twice.',
  jsonb_build_object(
    'id', 'Alert id.',
    'policy_change_id', 'Change being announced (policy_change alerts).',
    'subscription_id', 'Recipient subscription.',
    'kind', 'policy_change, or an operational alert: source_failing, source_recovered, run_missed, alert_dead (another alert was given up).',
    'event_key', 'Deduplication key of operational alerts (one per event and subscription).',
    'source_id', 'Source concerned, when there is one.',
    'payload', 'Event data of operational alerts.',
    'status', 'pending, sending, sent, failed (will be retried) or dead (gave up).',
    'attempts', 'Delivery attempts so far.',
    'next_attempt_at', 'Earliest time of the next attempt of a failed alert.',
    'sent_at', 'When the receiver accepted it.',
    'error', 'Last delivery error.',
    'created_at', 'When the alert was queued.',
    'updated_at', 'When the row last changed.'));
create index if not exists alerts_due_idx on public.alerts (next_attempt_at) where status in ('pending', 'failed', 'sending');
create index if not exists alerts_subscription_idx on public.alerts (subscription_id);
create index if not exists alerts_event_key_idx on public.alerts (event_key) where event_key is not null;
-- A deleted source's health alerts go with it (foreign key): found by index, not by a scan.
create index if not exists alerts_source_idx on public.alerts (source_id) where source_id is not null;
select private.expose_table('public.alerts', p_admin_read => true);

-- ---------------------------------------------------------------------------
-- Rows as the engine reads them: no secret, only whether there is one.
create or replace function private.alert_queued_json(p_alert public.alerts)
returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'id', p_alert.id,
    'subscription_id', p_alert.subscription_id,
    'channel', (select s.channel from public.subscriptions s where s.id = p_alert.subscription_id),
    'kind', p_alert.kind,
    'status', p_alert.status,
    'attempts', p_alert.attempts,
    'next_attempt_at', p_alert.next_attempt_at)
$$;
comment on function private.alert_queued_json(public.alerts) is 'An alerts row as returned by the enqueue RPCs (QueuedAlert in shared/alerts/types.ts).';

-- The outbox's one insert: a pending alert of an event (a policy change, or an operational
-- event_key) for each active subscription concerned; the unique keys make a second call a
-- no-op. Returns every row of the event in the scope.
create or replace function private.queue_alerts(
  p_kind text, p_policy_change_id uuid, p_event_key text, p_source_id uuid, p_payload jsonb,
  p_now timestamptz, p_exclude_subscription_id uuid, p_subscription_ids uuid[])
returns jsonb
language plpgsql set search_path = '' as $$
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
comment on function private.queue_alerts(text, uuid, text, uuid, jsonb, timestamptz, uuid, uuid[]) is 'Queues one pending alert of an event (p_policy_change_id for policy_change, else p_event_key) per active subscription concerned: of p_source_id or of all sources (every one for a source-less event), operational ones only for an operational kind, never p_exclude_subscription_id, only p_subscription_ids unless null; returns every row of the event (in the scope) as QueuedAlert.';
revoke all on function private.queue_alerts(text, uuid, text, uuid, jsonb, timestamptz, uuid, uuid[]) from public;

create or replace function private.enqueue_operational_alerts(
  p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamptz,
  p_exclude_subscription_id uuid default null, p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql set search_path = '' as $$
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
comment on function private.enqueue_operational_alerts(text, text, uuid, jsonb, timestamptz, uuid, uuid[]) is 'Queues one alert of an operational event per active operational subscription concerned (all of them for source-less events; never p_exclude_subscription_id; only p_subscription_ids unless null) and returns every row of the event (in the scope).';
revoke all on function private.enqueue_operational_alerts(text, text, uuid, jsonb, timestamptz, uuid, uuid[]) from public;

-- ---------------------------------------------------------------------------
-- An alert given up is reported to the operational subscriptions (issue 13: alerts on
-- their own clock). Called by the two steps that make a row dead, in their transaction.
create or replace function private.report_dead_alert(
  p_alert public.alerts, p_now timestamptz, p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql set search_path = '' as $$
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
comment on function private.report_dead_alert(public.alerts, timestamptz, uuid[]) is 'Queues one alert_dead report of a dead alert to every active operational subscription concerned by its source (only p_subscription_ids unless null) except the alert''s own subscription, and returns the report rows (QueuedAlert). Nothing for a dead alert_dead report or for an alert of an inactive subscription.';
revoke all on function private.report_dead_alert(public.alerts, timestamptz, uuid[]) from public;

-- ---------------------------------------------------------------------------
create or replace function public.enqueue_policy_change_alerts(
  p_policy_change_id uuid, p_now timestamptz, p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
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
comment on function public.enqueue_policy_change_alerts(uuid, timestamptz, uuid[]) is 'Outbox step 1: one pending alert per active subscription of the change''s source or of all sources (only p_subscription_ids unless null; a second call adds nothing). Returns every alert row of the change (in the scope).';

create or replace function public.enqueue_operational_alerts(
  p_kind text, p_event_key text, p_source_id uuid, p_payload jsonb, p_now timestamptz,
  p_subscription_ids uuid[] default null)
returns jsonb
language sql security definer set search_path = '' as $$
  select private.enqueue_operational_alerts(
    p_kind, p_event_key, p_source_id, p_payload, p_now, null, p_subscription_ids)
$$;
comment on function public.enqueue_operational_alerts(text, text, uuid, jsonb, timestamptz, uuid[]) is 'Queues an operational event (source_failing, source_recovered, run_missed, alert_dead) once per event_key and operational subscription (only p_subscription_ids unless null); returns every row of the event.';

-- ---------------------------------------------------------------------------
create or replace function public.record_source_health(
  p_source_id uuid, p_succeeded boolean, p_threshold integer, p_now timestamptz,
  p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
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
comment on function public.record_source_health(uuid, boolean, integer, timestamptz, uuid[]) is 'Call after the run recorded a source''s outcome. At the failure that reaches p_threshold consecutive failures, sets failing_alerted and queues source_failing alerts; at the next success, clears it and queues source_recovered alerts; otherwise does nothing. One transaction, so an alert is queued exactly when the flag flips. p_subscription_ids (unless null) limits who is alerted.';

-- ---------------------------------------------------------------------------
create or replace function public.claim_alerts(
  p_now timestamptz, p_lease_ms integer, p_limit integer, p_max_attempts integer,
  p_alert_ids uuid[], p_exclude_ids uuid[], p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
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
comment on function public.claim_alerts(timestamptz, integer, integer, integer, uuid[], uuid[], uuid[]) is 'Outbox step 2: claims up to p_limit due alerts (pending, failed past next_attempt_at, or sending past their lease), optionally only among p_alert_ids, only of p_subscription_ids, and never p_exclude_ids. Claimed rows are sending with attempts + 1 and next_attempt_at = p_now + p_lease_ms. Rows whose sender died on the last allowed attempt become dead and are returned as abandoned, with the alert_dead reports they queued (reports). Subscriptions come without their secret (has_secret only).';

-- ---------------------------------------------------------------------------
create or replace function public.finish_alert(
  p_alert_id uuid, p_attempt integer, p_status text, p_error text,
  p_next_attempt_at timestamptz, p_now timestamptz, p_subscription_ids uuid[] default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
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
comment on function public.finish_alert(uuid, integer, text, text, timestamptz, timestamptz, uuid[]) is 'Outbox step 3: records the result of attempt p_attempt (sent, failed with the next attempt time, or dead). Returns {recorded, reports}: recorded false, changing nothing, when the row is no longer that claim (its lease expired and another engine claimed it); reports, the alert_dead rows queued when the alert was given up (to the operational subscriptions, only p_subscription_ids unless null, in this transaction).';

-- ---------------------------------------------------------------------------
create or replace function public.sign_alert_body(p_subscription_id uuid, p_body text)
returns text
language plpgsql stable security definer set search_path = '' as $$
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
comment on function public.sign_alert_body(uuid, text) is 'Hex HMAC-SHA256 of p_body (UTF-8) keyed with the subscription''s webhook secret, for the X-Signature-256 header. The secret itself never leaves the database.';

-- ---------------------------------------------------------------------------
-- An operator's retry (POST /api/alerts/{id}/retry).
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

-- ---------------------------------------------------------------------------
-- Only the service role (the edge function's own work) may call these.
select private.service_role_only(array[
  'public.enqueue_policy_change_alerts(uuid, timestamptz, uuid[])',
  'public.enqueue_operational_alerts(text, text, uuid, jsonb, timestamptz, uuid[])',
  'public.record_source_health(uuid, boolean, integer, timestamptz, uuid[])',
  'public.claim_alerts(timestamptz, integer, integer, integer, uuid[], uuid[], uuid[])',
  'public.finish_alert(uuid, integer, text, text, timestamptz, timestamptz, uuid[])',
  'public.sign_alert_body(uuid, text)',
  'public.retry_alert(uuid, timestamptz)'
]::regprocedure[]);
revoke all on function private.alert_queued_json(public.alerts) from public;
