/**
 * Row counts of every table of the project's schemas (public, private), listed from the
 * catalog so a new table is covered without editing the tests: the "nothing was written"
 * check of the security tests.
 * @module
 */
import type postgres from "postgres";

/** Schemas whose tables are counted. */
export const COUNTED_SCHEMAS = ["public", "private"] as const;

/** `schema.table` → number of rows. */
export type RowCounts = Record<string, number>;

/**
 * Counts the rows of every ordinary or partitioned table in {@link COUNTED_SCHEMAS}, in one
 * statement (one snapshot).
 * @example
 * const before = await rowCounts(sql);
 */
export async function rowCounts(sql: postgres.Sql): Promise<RowCounts> {
  const [built] = await sql<{ query: string | null }[]>`
    select string_agg(
      format('select %L::text as name, count(*)::bigint as n from %I.%I',
             n.nspname || '.' || c.relname, n.nspname, c.relname),
      ' union all ' order by n.nspname, c.relname) as query
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ${sql([...COUNTED_SCHEMAS])} and c.relkind in ('r', 'p')`;
  if (!built?.query) throw new Error("Cannot count rows: no table found in public or private");
  const rows = await sql.unsafe<{ name: string; n: string }[]>(built.query);
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

/** The tables whose counts differ, as `table: before → after`; empty when none. */
export function countChanges(before: RowCounts, after: RowCounts): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].sort().filter((n) => before[n] !== after[n]).map((n) =>
    `${n}: ${before[n] ?? "absent"} → ${after[n] ?? "absent"}`
  );
}
