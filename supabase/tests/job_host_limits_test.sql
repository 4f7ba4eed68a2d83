-- Per-host limits of a run, decided by job_claim_items for every invocation: the host key
-- of a URL, no host above p_per_host items in flight whoever claims, the politeness delay
-- spacing a host's starts, a host done for the run, a 429's slow-down (job_slow_host), and
-- request slots (p_slot_depth): items of one claimer queued behind each other in a slot,
-- only on a host holding at least 1/16 of the run's items, and a queued item's start after
-- a slow-down (job_slot_start); claims take the largest host first, and a claimer holding
-- slots of the run's bottleneck leaves the other hosts to the other invocations.
begin;
select plan(37);

select is(private.url_host('https://User:pw@WWW.Example.org:443/a?b#c'), 'www.example.org',
  'host key: lower case, no user info, no default port');
select is(private.url_host('http://127.0.0.1:8080/x'), '127.0.0.1:8080', 'a port is kept');

insert into public.sources (id, name, url)
select ('50000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'host limits ' || g,
       case when g <= 10 then 'https://big.example/p' || g else 'https://small.example/p' || g end
from generate_series(1, 12) g;
insert into public.job_runs (id, job_name, trigger)
values ('50000000-0000-4000-8000-100000000000', 'host-limits-tap', 'manual');
select public.job_add_items('50000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'host limits %'), '{}');
select is((select count(*)::int from private.run_hosts
           where run_id = '50000000-0000-4000-8000-100000000000'), 2, 'one run_hosts row per host');
select is((select array_agg(items order by host) from private.run_hosts
           where run_id = '50000000-0000-4000-8000-100000000000'), array[10, 2],
  'each host counts its items');

-- Invocation a takes 3 of big (limit 3) and both of small; b finds big full.
select is(jsonb_array_length(public.job_claim_items(
  '50000000-0000-4000-8000-100000000000', 'a', 10, 60000, 3, 0)), 5,
  'a claim takes at most p_per_host items of each host');
select is((select count(*)::int from public.job_run_sources
           where run_id = '50000000-0000-4000-8000-100000000000'
             and host = 'big.example' and status = 'claimed'), 3, 'three of the big host');
select is(public.job_claim_items('50000000-0000-4000-8000-100000000000', 'b', 10, 60000, 3, 0),
  '[]'::jsonb, 'another invocation gets nothing while the host is at its limit');

-- One item of big done: b may take exactly one more.
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '50000000-0000-4000-8000-100000000000'
  and source_id = (select source_id from public.job_run_sources
                   where run_id = '50000000-0000-4000-8000-100000000000'
                     and host = 'big.example' and status = 'claimed' limit 1);
select is(jsonb_array_length(public.job_claim_items(
  '50000000-0000-4000-8000-100000000000', 'b', 10, 60000, 3, 0)), 1,
  'a freed slot is taken by one item, by any invocation');

-- A dead invocation's expired lease no longer counts as in flight.
update public.job_run_sources set lease_until = now() - interval '1 second'
where run_id = '50000000-0000-4000-8000-100000000000' and host = 'big.example'
  and status = 'claimed';
select is(jsonb_array_length(public.job_claim_items(
  '50000000-0000-4000-8000-100000000000', 'c', 10, 60000, 3, 0)), 3,
  'expired leases free their slots (and their items are claimed again)');

-- small is done: its row is parked for the run.
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '50000000-0000-4000-8000-100000000000' and host = 'small.example';
select public.job_claim_items('50000000-0000-4000-8000-100000000000', 'c', 10, 60000, 3, 0);
select is((select not_before from private.run_hosts
           where run_id = '50000000-0000-4000-8000-100000000000' and host = 'small.example'),
  'infinity'::timestamptz, 'a host with no open item is not looked at again');

-- Politeness delay: the starts of one claim are spaced, and the next claim waits.
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '50000000-0000-4000-8000-100000000000' and status = 'claimed';
select is((select array_agg((i ->> 'start_in_ms')::int order by (i ->> 'start_in_ms')::int)
           from jsonb_array_elements(public.job_claim_items(
             '50000000-0000-4000-8000-100000000000', 'd', 10, 60000, 3, 500)) i),
  array[0, 500, 1000], 'start_in_ms spaces a host''s starts by the delay');
select ok((select not_before > now() + interval '1.4 seconds' from private.run_hosts
           where run_id = '50000000-0000-4000-8000-100000000000' and host = 'big.example'),
  'the host''s next start is a delay after the last one');

-- A 429 with Retry-After: one at a time, later, for every invocation.
select ok(public.job_slow_host('50000000-0000-4000-8000-100000000000',
  'https://big.example/anything', 2000), 'job_slow_host finds the host of the URL');
select is((select (max_in_flight, delay_ms) from private.run_hosts
           where run_id = '50000000-0000-4000-8000-100000000000' and host = 'big.example'),
  row(1, 1000), 'the host is down to one in flight, a second apart (at most)');
select is(job_slow_host, false, 'a host not in the run is not slowed')
from public.job_slow_host('50000000-0000-4000-8000-100000000000', 'https://other.example/', 1000);

-- Request slots: per_host 2, depth 2 — a claimer holds at most two items per slot, no
-- host has more than two slots in use, and a slot stays its claimer's until it is empty.
-- (A second run over the ten sources of big.example.)
insert into public.job_runs (id, job_name, trigger)
values ('52000000-0000-4000-8000-100000000000', 'host-slots-tap', 'manual');
select public.job_add_items('52000000-0000-4000-8000-100000000000',
  array(select id from public.sources where url like 'https://big.example/%'), '{}');
select is((select array_agg((i ->> 'slot')::int order by (i ->> 'slot')::int)
           from jsonb_array_elements(public.job_claim_items(
             '52000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2)) i),
  array[1, 1, 2, 2], 'two slots of two items each, round robin');
select is(public.job_claim_items('52000000-0000-4000-8000-100000000000', 'b', 10, 60000, 2, 0, 3, 2),
  '[]'::jsonb, 'another claimer gets nothing while both slots are in use');
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '52000000-0000-4000-8000-100000000000'
  and source_id = (select source_id from public.job_run_sources
                   where run_id = '52000000-0000-4000-8000-100000000000' and slot = 1
                     and status = 'claimed' order by source_id limit 1);
select is(public.job_claim_items('52000000-0000-4000-8000-100000000000', 'b', 10, 60000, 2, 0, 3, 2),
  '[]'::jsonb, 'a slot with an item left stays its claimer''s');
select is((select array_agg((i ->> 'slot')::int)
           from jsonb_array_elements(public.job_claim_items(
             '52000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2)) i),
  array[1], 'its claimer refills it, up to the depth');
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '52000000-0000-4000-8000-100000000000' and slot = 2;
select is((select array_agg((i ->> 'slot')::int)
           from jsonb_array_elements(public.job_claim_items(
             '52000000-0000-4000-8000-100000000000', 'b', 10, 60000, 2, 0, 3, 2)) i),
  array[2, 2], 'an emptied slot goes to any claimer');
select ok(public.job_slow_host('52000000-0000-4000-8000-100000000000',
  'https://big.example/x', 1000), 'slowed to one in flight');
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '52000000-0000-4000-8000-100000000000' and slot = 1
  and source_id = (select source_id from public.job_run_sources
                   where run_id = '52000000-0000-4000-8000-100000000000' and slot = 1
                     and status = 'claimed' order by source_id limit 1);
update private.run_hosts set not_before = now() - interval '1 second'
where run_id = '52000000-0000-4000-8000-100000000000';
select is(public.job_claim_items('52000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2),
  '[]'::jsonb, 'over the lowered limit (two slots in use, one allowed), nobody refills a slot');
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '52000000-0000-4000-8000-100000000000' and status = 'claimed';
update private.run_hosts set not_before = now() - interval '1 second'
where run_id = '52000000-0000-4000-8000-100000000000';
select is(jsonb_array_length(public.job_claim_items(
  '52000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2)), 1,
  'with a politeness delay (here the slowed host''s), a slot holds one item: starts stay on schedule');

-- A queued item of a slowed host asks before it starts: it is scheduled, a delay apart.
select cmp_ok(public.job_slot_start('52000000-0000-4000-8000-100000000000', 'big.example'),
  '<=', 1000, 'a queued start of a slowed host waits for its turn (the claim''s start is next)');
select ok((select not_before > now() + interval '0.9 seconds' from private.run_hosts
           where run_id = '52000000-0000-4000-8000-100000000000' and host = 'big.example'),
  'and the host''s next start moves a delay on');
select cmp_ok(public.job_slot_start('52000000-0000-4000-8000-100000000000', 'big.example'),
  '>=', 1900, 'the next queued start comes a delay after it');

-- Items added in chunks add up; only a host holding 1/16 of the run's items queues items
-- in its slots (31 sources on many.example, 2 on few.example; depth 2, one slot each).
insert into public.sources (id, name, url)
select ('53000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'host share ' || g,
       case when g <= 31 then 'https://many.example/p' || g else 'https://few.example/p' || g end
from generate_series(1, 33) g;
insert into public.job_runs (id, job_name, trigger)
values ('53000000-0000-4000-8000-100000000000', 'host-share-tap', 'manual');
select public.job_add_items('53000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'host share %' order by id limit 20), '{}');
select public.job_add_items('53000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'host share %' order by id offset 20), '{}');
select is((select array_agg(items order by host) from private.run_hosts
           where run_id = '53000000-0000-4000-8000-100000000000'), array[2, 31],
  'chunks of items add to their hosts'' counts');
select is(public.job_slot_start('53000000-0000-4000-8000-100000000000', 'many.example'), 0,
  'a queued start of a host nobody slowed goes at once');
select is((select not_before from private.run_hosts
           where run_id = '53000000-0000-4000-8000-100000000000' and host = 'many.example'),
  '-infinity'::timestamptz, 'and writes nothing');
select is((select jsonb_object_agg(h.host, h.n) from (
             select i ->> 'host' as host, count(*)::int as n
             from jsonb_array_elements(public.job_claim_items(
               '53000000-0000-4000-8000-100000000000', 'a', 10, 60000, 1, 0, 3, 2)) i
             group by 1) h),
  '{"many.example": 2, "few.example": 1}'::jsonb,
  'the run''s big host queues two in its slot, a host with 2 of 33 items one');

-- The largest host first, and a bottleneck's claimer leaves the other hosts to others: 20
-- sources on z.example (the bottleneck: at least 1/16 of the items), 2 on each of 12 small
-- hosts that sort before it; per_host 2, depth 2.
insert into public.sources (id, name, url)
select ('54000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'host order ' || g,
       case when g <= 20 then 'https://z.example/p' || g
            else 'https://a' || ((g - 21) / 2) || '.example/p' || g end
from generate_series(1, 44) g;
insert into public.job_runs (id, job_name, trigger)
values ('54000000-0000-4000-8000-100000000000', 'host-order-tap', 'manual');
select public.job_add_items('54000000-0000-4000-8000-100000000000',
  array(select id from public.sources where name like 'host order %'), '{}');
select is((select array_agg(distinct i ->> 'host')
           from jsonb_array_elements(public.job_claim_items(
             '54000000-0000-4000-8000-100000000000', 'a', 3, 60000, 2, 0, 3, 2)) i),
  array['z.example'], 'a claim takes the largest host''s items first');
select is((select count(*)::int
           from jsonb_array_elements(public.job_claim_items(
             '54000000-0000-4000-8000-100000000000', 'b', 5, 60000, 2, 0, 3, 2)) i
           where i ->> 'host' <> 'z.example'), 5,
  'another claimer finds the bottleneck''s slots in use and takes the small hosts');
select is((select array_agg(i ->> 'host')
           from jsonb_array_elements(public.job_claim_items(
             '54000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2)) i),
  array['z.example'],
  'the bottleneck''s claimer refills its slots and leaves the small hosts to the other one');
update public.job_run_sources set status = 'succeeded', lease_until = null
where run_id = '54000000-0000-4000-8000-100000000000' and claimed_by = 'b';
select ok((select count(*) from jsonb_array_elements(public.job_claim_items(
             '54000000-0000-4000-8000-100000000000', 'a', 10, 60000, 2, 0, 3, 2)) i
           where i ->> 'host' <> 'z.example') > 0,
  'with nobody else on the small hosts it takes them too');

-- job_slot_release: an item whose requests are over frees its slot before its completion.
select is(public.job_slot_release('54000000-0000-4000-8000-100000000000',
  (select source_id from public.job_run_sources where run_id = '54000000-0000-4000-8000-100000000000'
     and host = 'z.example' and slot = 1 order by source_id limit 1), 99), null,
  'a release by another attempt than the claim''s does nothing');
select public.job_slot_release('54000000-0000-4000-8000-100000000000', source_id, attempts)
from public.job_run_sources where run_id = '54000000-0000-4000-8000-100000000000'
  and host = 'z.example' and slot = 1 and status = 'claimed';
select is((select array_agg((i ->> 'slot')::int)
           from jsonb_array_elements(public.job_claim_items(
             '54000000-0000-4000-8000-100000000000', 'c', 1, 60000, 2, 0, 3, 2)) i
           where i ->> 'host' = 'z.example'), array[1],
  'the freed slot goes to another claimer while its items are still claimed');
select is((select count(*)::int from public.job_run_sources
           where run_id = '54000000-0000-4000-8000-100000000000' and host = 'z.example'
             and status = 'claimed' and claimed_by = 'a' and slot is null), 2,
  'and they stay claimed, without a slot');

select * from finish();
rollback;
