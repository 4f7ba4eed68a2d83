-- record_snapshot writes its source's row once: the snapshot's hash and id together with
-- the check's bookkeeping patch (private.apply_source_bookkeeping); a late patch (older
-- than the row's last_checked_at) leaves the bookkeeping as it is while the hash still
-- moves; without a patch the hash moves alone; the batch call (update_source_bookkeeping)
-- never touches the hash; a snapshot goes with exactly one patch.
begin;
select plan(12);

insert into public.sources (id, name, url) values
  ('a4200000-0000-4000-8000-000000000001', 'one write', 'https://example.org/once'),
  ('a4200000-0000-4000-8000-000000000002', 'late patch', 'https://example.org/late'),
  ('a4200000-0000-4000-8000-000000000003', 'no patch', 'https://example.org/none');

set local role service_role;
set local request.jwt.claims = '{"role": "service_role"}';

-- A baseline with its patch: hash, pointer and bookkeeping in one row version.
create temp table updates_before as
  select n_tup_upd from pg_stat_xact_user_tables where relid = 'public.sources'::regclass;
select public.record_snapshot(
  'a4200000-0000-4000-8000-000000000001', 'a4200000-0000-4000-8000-000000000101', null,
  repeat('1', 64), 'Rule one.', 'text/html', null, null, '2026-12-01 02:00+00',
  jsonb_build_object('last_checked_at', '2026-12-01 02:00+00', 'last_success_at',
    '2026-12-01 02:00+00', 'etag', '"e1"', 'consecutive_failures', 0,
    'text_key', repeat('a', 64) || ':9'));
select is(
  (select row(s.last_hash, s.last_snapshot_id = sn.id, s.last_checked_at, s.last_success_at,
              s.etag, s.text_key)::text
   from public.sources s join public.snapshots sn on sn.fetch_id = 'a4200000-0000-4000-8000-000000000101'
   where s.id = 'a4200000-0000-4000-8000-000000000001'),
  row(repeat('1', 64), true, '2026-12-01 02:00+00'::timestamptz, '2026-12-01 02:00+00'::timestamptz,
      '"e1"', repeat('a', 64) || ':9')::text,
  'a baseline moves the hash and pointer and applies its patch');
select is(
  (select x.n_tup_upd - b.n_tup_upd from pg_stat_xact_user_tables x, updates_before b
   where x.relid = 'public.sources'::regclass),
  1::bigint, 'the source''s row is written once');

-- A change whose patch is late (a later check already wrote the row): the hash and pointer
-- move, the newer bookkeeping stays.
select public.record_snapshot(
  'a4200000-0000-4000-8000-000000000002', 'a4200000-0000-4000-8000-000000000201', null,
  repeat('2', 64), 'Rule A.', 'text/html', null, null, '2026-12-01 02:00+00',
  jsonb_build_object('last_checked_at', '2026-12-01 05:00+00', 'etag', '"new"'));
select public.record_snapshot(
  'a4200000-0000-4000-8000-000000000002', 'a4200000-0000-4000-8000-000000000202', repeat('2', 64),
  repeat('3', 64), 'Rule B.', 'text/html', '-Rule A.
+Rule B.', '{}', '2026-12-01 03:00+00',
  jsonb_build_object('last_checked_at', '2026-12-01 03:00+00', 'etag', '"old"'));
select is(
  (select last_hash from public.sources where id = 'a4200000-0000-4000-8000-000000000002'),
  repeat('3', 64), 'a late patch: the hash still moves');
select is(
  (select last_snapshot_id from public.sources where id = 'a4200000-0000-4000-8000-000000000002'),
  (select id from public.snapshots where fetch_id = 'a4200000-0000-4000-8000-000000000202'),
  'a late patch: the pointer still moves');
select is(
  (select row(last_checked_at, etag)::text from public.sources
   where id = 'a4200000-0000-4000-8000-000000000002'),
  row('2026-12-01 05:00+00'::timestamptz, '"new"')::text,
  'a late patch: the newer bookkeeping stays');
select is(
  (select count(*)::int from public.policy_changes
   where source_id = 'a4200000-0000-4000-8000-000000000002'),
  1, 'the change is recorded');

-- No patch: the hash moves alone.
select public.record_snapshot(
  'a4200000-0000-4000-8000-000000000003', 'a4200000-0000-4000-8000-000000000301', null,
  repeat('4', 64), 'Rule X.', 'text/html', null, null, '2026-12-01 02:00+00', null);
select is(
  (select row(last_hash, last_checked_at)::text from public.sources
   where id = 'a4200000-0000-4000-8000-000000000003'),
  row(repeat('4', 64), null::timestamptz)::text,
  'without a patch the hash moves and the bookkeeping does not');

-- The batch call keeps every hash.
select is(
  public.update_source_bookkeeping(jsonb_build_array(
    jsonb_build_object('id', 'a4200000-0000-4000-8000-000000000001',
      'last_checked_at', '2026-12-02 02:00+00', 'etag', '"e2"'),
    jsonb_build_object('id', 'a4200000-0000-4000-8000-000000000003',
      'last_checked_at', '2026-12-02 02:00+00'))),
  2, 'the batch call updates both sources');
select is(
  (select array_agg(last_hash order by id) from public.sources
   where id in ('a4200000-0000-4000-8000-000000000001', 'a4200000-0000-4000-8000-000000000003')),
  array[repeat('1', 64), repeat('4', 64)],
  'the batch call leaves the hashes');
select is(
  (select etag from public.sources where id = 'a4200000-0000-4000-8000-000000000001'),
  '"e2"', 'the batch call applies its patch');

reset role;
-- A snapshot goes with one patch, and with both its hash and id.
select throws_ok(
  $$select private.apply_source_bookkeeping(jsonb_build_array(
      jsonb_build_object('id', 'a4200000-0000-4000-8000-000000000001', 'last_checked_at', now()),
      jsonb_build_object('id', 'a4200000-0000-4000-8000-000000000003', 'last_checked_at', now())),
    repeat('5', 64), gen_random_uuid())$$,
  '22023', 'Cannot update source bookkeeping: a snapshot (hash and id) goes with exactly one patch',
  'a snapshot with two patches is refused');
select throws_ok(
  $$select private.apply_source_bookkeeping(jsonb_build_array(
      jsonb_build_object('id', 'a4200000-0000-4000-8000-000000000001', 'last_checked_at', now())),
    repeat('5', 64), null)$$,
  '22023', 'Cannot update source bookkeeping: a snapshot (hash and id) goes with exactly one patch',
  'a hash without its snapshot id is refused');

select * from finish();
rollback;
