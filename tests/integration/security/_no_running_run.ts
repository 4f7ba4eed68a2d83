/**
 * Waiting for the stack to have no daily-fetch run in progress (a previous test's background
 * run, the cron run), since a second run would be refused with 409 and a run's writes would
 * blur the row-count checks.
 * @module
 */
import type postgres from "postgres";

/**
 * Polls until no daily-fetch run is `running`, for at most `ms`. Resolves true when idle,
 * false when runs are still running at the end (their ids and start times in `still`).
 * @example
 * if (!(await noRunningRun(sql, 60_000)).idle) throw new Error("stack busy");
 */
export async function noRunningRun(
  sql: postgres.Sql,
  ms: number,
): Promise<{ idle: boolean; still: string[] }> {
  const until = Date.now() + ms;
  for (;;) {
    const rows = await sql<{ id: string; started_at: Date }[]>`
      select id, started_at from public.job_runs
      where job_name = 'daily-fetch' and status = 'running'`;
    if (rows.length === 0) return { idle: true, still: [] };
    if (Date.now() >= until) {
      return {
        idle: false,
        still: rows.map((r) => `${r.id} (running since ${r.started_at.toISOString()})`),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Progress of the runs in progress: run id → sources processed (and status). */
export type RunProgress = Map<string, string>;

/** The runs in progress now and how far each one got. */
export async function runProgress(sql: postgres.Sql): Promise<RunProgress> {
  const rows = await sql<{ id: string; progress: string }[]>`
    select id, sources_processed || '/' || total_items || ' ' || status as progress
    from public.job_runs where status = 'running'`;
  return new Map(rows.map((r) => [r.id, r.progress]));
}

/**
 * The runs that were in progress at `before` and moved since (processed sources, finished):
 * another client's work, whose writes explain changed row counts. A run started after
 * `before` is not listed: it may be the one under suspicion.
 */
export async function runsThatMoved(sql: postgres.Sql, before: RunProgress): Promise<string[]> {
  const now = new Map<string, string>();
  if (before.size > 0) {
    const rows = await sql<{ id: string; progress: string }[]>`
      select id, sources_processed || '/' || total_items || ' ' || status as progress
      from public.job_runs where id = any(${[...before.keys()]}::uuid[])`;
    for (const r of rows) now.set(r.id, r.progress);
  }
  return [...before].filter(([id, p]) => now.get(id) !== p).map(([id, p]) =>
    `${id} (${p} → ${now.get(id) ?? "deleted"})`
  );
}
