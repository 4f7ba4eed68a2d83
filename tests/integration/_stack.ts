/**
 * Access to the running local stack for integration tests (`deno task test` starts it)
 * and the benches in tools/ that drive the real job.
 * @module
 */
import postgres from "postgres";
import { readKeys } from "../../supabase/local/keys.ts";
import {
  ADMIN_DB_URL,
  DB_URL,
  DEMO_URL,
  JWT_SECRET,
  SUPABASE_URL,
} from "../../supabase/local/ports.ts";
import { type Db, serviceClient } from "../../shared/store/client.ts";

export { ADMIN_DB_URL, DB_URL, DEMO_URL, JWT_SECRET, SUPABASE_URL };

/** The stack's anon and service-role keys. */
export async function stackKeys(): Promise<
  { anonKey: string; serviceRoleKey: string }
> {
  const keys = await readKeys();
  return { anonKey: keys.anonKey, serviceRoleKey: keys.serviceRoleKey };
}

/** A service-role supabase-js client of the local stack. */
export async function serviceDb(): Promise<Db> {
  return serviceClient(SUPABASE_URL, (await stackKeys()).serviceRoleKey);
}

/** An anon supabase-js client of the local stack. */
export async function anonDb(): Promise<Db> {
  return serviceClient(SUPABASE_URL, (await stackKeys()).anonKey);
}

/**
 * A direct Postgres connection as `postgres` (owner of the schema, not a superuser, as on a
 * hosted project); call `end()` when done.
 */
export function sqlClient(): postgres.Sql {
  return postgres(DB_URL, { max: 2, onnotice: () => {} });
}

/**
 * A connection as the bootstrap superuser `supabase_admin`, for tests that must look behind
 * the platform's grants (e.g. Vault's table, role settings); call `end()` when done.
 */
export function adminSqlClient(): postgres.Sql {
  return postgres(ADMIN_DB_URL, { max: 2, onnotice: () => {} });
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what} after ${ms} ms`);
}

/**
 * Waits until no daily-fetch run is running (one run at a time is the rule: another test's
 * run, a cron run), for at most `ms`; on `sql` when given, else on a connection of its own.
 */
export async function waitForNoRunningRun(ms = 90_000, sql?: postgres.Sql): Promise<void> {
  const db = sql ?? sqlClient();
  try {
    await eventually("no running daily-fetch run", async () => {
      const [row] = await db<{ n: number }[]>`select count(*)::int as n from public.job_runs
        where job_name = 'daily-fetch' and status = 'running'`;
      return row!.n === 0 ? true : undefined;
    }, ms);
  } finally {
    if (sql === undefined) await db.end();
  }
}
