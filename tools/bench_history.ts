/**
 * History for `deno task bench:run --history`: what a year of use leaves in the tables that a
 * run must not pay for (issue 14 item 4). 20,000 inactive sources, each with a baseline and
 * four changes over the year (snapshots, policy changes and their sent alerts to one inactive
 * subscription), and a year of hourly daily-fetch runs: 8,760 finished runs, one a day with
 * 2,000 run items (each inactive source checked every ten days: 730,000 items, a few failed).
 * Everything is written in SQL (set-based, a minute or two here) and marked so that
 * {@link clearHistory} removes exactly it: sources named `history …`, runs with
 * `options.bench_history`.
 *
 *   deno run -A tools/bench_history.ts seed|clear     # on its own, against the local stack
 * @module
 */
import type postgres from "postgres";

/** How much history {@link seedHistory} writes. */
export interface HistoryShape {
  inactiveSources: number;
  days: number;
  /** Run items of the one run a day that fetched something. */
  itemsPerDay: number;
  changesPerSource: number;
}

/** The figure: 20,000 inactive sources and a year of runs. */
export const YEAR_OF_HISTORY: HistoryShape = {
  inactiveSources: 20_000,
  days: 365,
  itemsPerDay: 2_000,
  changesPerSource: 4,
};

/** What was written, by table. */
export type HistoryCounts = Record<string, number>;

const TEXT = "Rules for applicants. Section 1 applies. Section 2 applies. ".repeat(20);

/**
 * Writes the history (after clearing an earlier one). The bench's own sources (`bench …`)
 * are not touched.
 */
export async function seedHistory(
  sql: postgres.Sql,
  shape: HistoryShape = YEAR_OF_HISTORY,
): Promise<HistoryCounts> {
  await clearHistory(sql);
  const changes = shape.changesPerSource;
  await sql.begin(async (tx) => {
    await tx`insert into public.sources (name, url, active, check_frequency, last_checked_at,
        last_success_at, created_at)
      select 'history ' || g, 'https://history-' || (g % 500) || '.example/p/' || g, false,
             'daily', now() - interval '30 days', now() - interval '30 days',
             now() - make_interval(days => ${shape.days})
      from generate_series(1, ${shape.inactiveSources}) g`;
    // A baseline and `changes` changes per source, spread over the year.
    await tx`insert into public.snapshots (source_id, fetch_id, content_hash, content,
        content_type, fetched_at)
      select s.id, gen_random_uuid(), encode(sha256((s.id::text || k)::bytea), 'hex'),
             ${TEXT} || ' version ' || k, 'text/html',
             now() - make_interval(days => ${shape.days}) + make_interval(days => k * ${
      Math.floor(shape.days / (changes + 1))
    })
      from public.sources s, generate_series(0, ${changes}) k
      where s.name like 'history %'`;
    await tx`insert into public.policy_changes (source_id, snapshot_id, previous_snapshot_id,
        detected_at, diff, summary)
      select n.source_id, n.id, n.previous, n.fetched_at,
             '@@ -1 +1 @@' || chr(10) || '-old' || chr(10) || '+new', '{"lines_added": 1}'
      from (select sn.*, lag(sn.id) over (partition by sn.source_id order by sn.fetched_at)
              as previous
            from public.snapshots sn join public.sources s on s.id = sn.source_id
            where s.name like 'history %') n
      where n.previous is not null`;
    await tx`update public.sources s set last_snapshot_id = l.id, last_hash = l.content_hash
      from (select distinct on (sn.source_id) sn.source_id, sn.id, sn.content_hash
            from public.snapshots sn join public.sources s on s.id = sn.source_id
            where s.name like 'history %' order by sn.source_id, sn.fetched_at desc) l
      where s.id = l.source_id`;
    const [sub] = await tx<{ id: string }[]>`insert into public.subscriptions
        (source_id, channel, target, active)
      values (null, 'webhook', 'https://history.example/hook', false) returning id`;
    await tx`insert into public.alerts (policy_change_id, subscription_id, kind, status,
        attempts, next_attempt_at, sent_at, created_at, updated_at)
      select pc.id, ${sub!.id}, 'policy_change', 'sent', 1, pc.detected_at, pc.detected_at,
             pc.detected_at, pc.detected_at
      from public.policy_changes pc join public.sources s on s.id = pc.source_id
      where s.name like 'history %'`;
    // A year of hourly runs; the one at 02:00 checked `itemsPerDay` sources.
    await tx`insert into public.job_runs (job_name, trigger, status, started_at, completed_at,
        deadline_at, options, total_items, sources_processed, sources_succeeded,
        sources_skipped, invocations)
      select 'daily-fetch', 'cron', 'succeeded', t, t + interval '40 seconds',
             t + interval '2 hours', '{"bench_history": true}'::jsonb,
             case when extract(hour from t) = 2 then ${shape.itemsPerDay} else 0 end,
             case when extract(hour from t) = 2 then ${shape.itemsPerDay} else 0 end,
             case when extract(hour from t) = 2 then ${shape.itemsPerDay} else 0 end,
             0, 1
      from generate_series(date_trunc('hour', now()) - make_interval(days => ${shape.days}),
                           date_trunc('hour', now()) - interval '1 hour', interval '1 hour') t`;
    await tx`with days as (
        select r.id, r.started_at, row_number() over (order by r.started_at) - 1 as d
        from public.job_runs r
        where r.options ? 'bench_history' and r.total_items > 0
      ), numbered as (
        select s.id, row_number() over (order by s.id) - 1 as i, count(*) over () as n
        from public.sources s where s.name like 'history %'
      )
      insert into public.job_run_sources (run_id, source_id, status, error_class, error_message,
        duration_ms, attempts, finished_at, host, fetch_id)
      select d.id, n.id,
             case when (n.i + d.d) % 97 = 0 then 'failed' else 'succeeded' end,
             case when (n.i + d.d) % 97 = 0 then 'timeout' end,
             case when (n.i + d.d) % 97 = 0 then 'timed out after 30000 ms' end,
             120, 1, d.started_at + interval '30 seconds',
             'history-' || (n.i % 500) || '.example', gen_random_uuid()
      from days d
      join numbered n on n.i >= (d.d * ${shape.itemsPerDay}) % n.n
                     and n.i < (d.d * ${shape.itemsPerDay}) % n.n + ${shape.itemsPerDay}`;
  });
  // A year of history has been vacuumed many times over: vacuumed here too, so that the
  // autovacuum of the rows just inserted (insert-triggered since Postgres 13: seen on the
  // seeded alerts in the middle of a measured run) does not run during the bench's run.
  await vacuumRunTables(sql);
  return await historyCounts(sql);
}

/** Rows of the seeded history, by table. */
export async function historyCounts(sql: postgres.Sql): Promise<HistoryCounts> {
  const [r] = await sql<HistoryCounts[]>`select
      (select count(*)::int from public.sources where name like 'history %') as sources,
      (select count(*)::int from public.snapshots sn join public.sources s on s.id = sn.source_id
        where s.name like 'history %') as snapshots,
      (select count(*)::int from public.policy_changes pc join public.sources s
        on s.id = pc.source_id where s.name like 'history %') as policy_changes,
      (select count(*)::int from public.alerts a join public.subscriptions su
        on su.id = a.subscription_id where su.target = 'https://history.example/hook') as alerts,
      (select count(*)::int from public.job_runs where options ? 'bench_history') as job_runs,
      (select count(*)::int from public.job_run_sources i join public.job_runs r on r.id = i.run_id
        where r.options ? 'bench_history') as job_run_sources`;
  return r!;
}

/** Removes what {@link seedHistory} wrote (runs first: their items go with them by run id). */
export async function clearHistory(sql: postgres.Sql): Promise<void> {
  await sql`delete from public.job_runs where options ? 'bench_history'`;
  await sql`delete from public.subscriptions where target = 'https://history.example/hook'`;
  await sql`update public.sources set last_snapshot_id = null where name like 'history %'`;
  await sql`delete from public.sources where name like 'history %'`;
  // The dead rows of a year of history, vacuumed now rather than by autovacuum during the
  // bench's next (clean) run.
  await vacuumRunTables(sql);
}

/**
 * `vacuum analyze` of the tables a run and the history fill: after seeding or clearing the
 * history, and after a bench deletes its sources (their snapshots, run items and changes go
 * with them), so that no measured run carries the dead rows of the one before it.
 */
export async function vacuumRunTables(sql: postgres.Sql): Promise<void> {
  await sql`vacuum analyze public.sources, public.snapshots, public.policy_changes,
    public.alerts, public.job_runs, public.job_run_sources`;
}

if (import.meta.main) {
  const { default: pg } = await import("postgres");
  const { DB_URL } = await import("../supabase/local/ports.ts");
  const sql = pg(DB_URL, { max: 1, onnotice: () => {} });
  try {
    const t0 = performance.now();
    if (Deno.args[0] === "clear") await clearHistory(sql);
    else console.log(await seedHistory(sql));
    console.log(`${Deno.args[0] ?? "seed"}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await sql.end();
  }
}
