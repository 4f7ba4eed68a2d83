/**
 * `supabase/schema.sql`: the live schema in one readable file, dumped from the migrations
 * (graphile-worker's habit). Applies bootstrap.sql and supabase/migrations through the real
 * CLI into a scratch cluster of its own (initdb in a temporary directory, a free port; the
 * stack's database is not touched, and pg_cron can only live in a cluster's `postgres`
 * database), then writes `pg_dump --schema-only` of the schemas public and private plus
 * what else the migrations own (extensions, pg_cron jobs, rows they insert), normalised so
 * the same migrations always give the same bytes.
 *
 *   deno task schema:dump             # rewrites supabase/schema.sql
 *   deno task schema:check            # fails with a diff when supabase/schema.sql is stale
 *   deno run -A tools/schema.ts dump --root DIR --out FILE   # DIR/supabase/migrations
 * @module
 */
import postgres from "postgres";
import { applyMigrations, asPostgres, initCluster, PG_BIN, run } from "../supabase/local/stack.ts";
import { freePort, REPO_ROOT } from "../supabase/local/ports.ts";
import { errorMessage } from "../shared/errors.ts";

/** The committed dump. */
export const SCHEMA_FILE = `${REPO_ROOT}/supabase/schema.sql`;

/**
 * Tables the migrations fill, and the columns of theirs that are stable (a timestamp of the
 * migration's run is not). The dump fails when another table has rows after the migrations,
 * so a new seeded table is not left out silently.
 */
const SEEDED_TABLES: Record<string, string[]> = {
  "public.check_frequencies": ["name", "check_interval", "description"],
  "private.watchdog_state": ["job_name"],
  "private.fetch_schedule": ["job_name", "schedule", "max_gap"],
};

const HEADER =
  `-- supabase/schema.sql: the schema the migrations build, dumped by \`deno task schema:dump\`.
-- Do not edit: change supabase/migrations/*.sql, then run \`deno task schema:dump\`;
-- \`deno task schema:check\` (part of \`deno task test\`) fails when this file is stale.
-- pg_dump --schema-only of the schemas public and private, then the extensions, pg_cron
-- jobs and rows the migrations own.
`;

/** Strips what differs between two dumps of the same schema (versions, the restrict key). */
export function normaliseDump(text: string): string {
  const start = text.indexOf("SET statement_timeout");
  return text.slice(start < 0 ? 0 : start)
    .split("\n")
    .filter((l) =>
      !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from|by) /.test(l) &&
      !/^-- PostgreSQL database dump( complete)?$/.test(l)
    )
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/(\n--)+\s*$/, "")
    .trim() + "\n";
}

async function pgCtl(dataDir: string, args: string[]): Promise<void> {
  const [cmd, argv] = asPostgres(`${PG_BIN}/pg_ctl`, ["-D", dataDir, ...args]);
  await run(cmd, argv, { quiet: true });
}

/** What the migrations own outside the two dumped schemas, as readable SQL. */
async function extras(dbUrl: string): Promise<string> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const out: string[] = ["", "--", "-- Extensions (bootstrap's and the migrations')", "--", ""];
    for (
      const e of await sql<Array<{ name: string; schema: string }>>`
        select format('%I', e.extname) as name, format('%I', n.nspname) as schema
        from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where e.extname <> 'plpgsql' order by e.extname`
    ) out.push(`CREATE EXTENSION IF NOT EXISTS ${e.name} WITH SCHEMA ${e.schema};`);
    out.push("", "--", "-- pg_cron jobs (cron.job)", "--", "");
    for (
      const j of await sql<Array<{ jobname: string; schedule: string; command: string }>>`
        select jobname, schedule, command from cron.job order by jobname`
    ) {
      out.push(
        `SELECT cron.schedule('${j.jobname}', '${j.schedule}', $cmd$${j.command}$cmd$);`,
      );
    }
    out.push("", "--", "-- Rows the migrations insert", "--");
    const seeded = new Set(Object.keys(SEEDED_TABLES));
    for (
      const t of await sql<Array<{ name: string }>>`
        select format('%s.%s', n.nspname, c.relname) as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname in ('public', 'private') order by 1`
    ) {
      const [{ n }] = await sql.unsafe(`select count(*)::int as n from ${t.name}`) as unknown as [
        { n: number },
      ];
      if (n > 0 && !seeded.has(t.name)) {
        throw new Error(
          `Cannot dump the schema: ${t.name} has ${n} rows after the migrations; add it to SEEDED_TABLES in tools/schema.ts`,
        );
      }
    }
    for (const [table, columns] of Object.entries(SEEDED_TABLES)) {
      const list = columns.join(", ");
      const rows = await sql.unsafe(
        `select format('(%s)', concat_ws(', ', ${
          columns.map((c) => `quote_nullable(${c}::text)`).join(", ")
        })) as v from ${table} order by 1`,
      ) as unknown as Array<{ v: string }>;
      out.push("", `-- ${table} (${list}):`);
      for (const r of rows) out.push(`--   ${r.v}`);
    }
    return out.join("\n") + "\n";
  } finally {
    await sql.end();
  }
}

/** Builds the schema of `root`/supabase/migrations in a scratch cluster; returns the dump. */
export async function dumpSchema(root = REPO_ROOT): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "schema-dump-" });
  const dataDir = `${dir}/pgdata`;
  const port = freePort();
  const dbUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const adminUrl = `postgresql://supabase_admin@127.0.0.1:${port}/postgres`;
  let started = false;
  try {
    await Deno.chmod(dir, 0o755);
    await initCluster(dataDir, port, dir);
    // A small scratch server: the machine is shared.
    await Deno.writeTextFile(
      `${dataDir}/postgresql.conf`,
      "shared_buffers = 16MB\nmax_connections = 20\nmax_worker_processes = 8\n",
      { append: true },
    );
    await pgCtl(dataDir, ["-l", `${dir}/postgres.log`, "-w", "-t", "60", "start"]);
    started = true;
    await applyMigrations(dbUrl, adminUrl, root);
    const dump = await run("pg_dump", [
      adminUrl,
      "--schema-only",
      "--schema=public",
      "--schema=private",
    ], { quiet: true });
    return HEADER + "\n" + normaliseDump(dump) + (await extras(adminUrl));
  } finally {
    if (started) await pgCtl(dataDir, ["-m", "immediate", "-w", "stop"]).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** `diff -u` of two texts (empty when equal). */
async function unifiedDiff(a: string, b: string, labels: [string, string]): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a`, a);
    await Deno.writeTextFile(`${dir}/b`, b);
    const out = await new Deno.Command("diff", {
      args: ["-u", "--label", labels[0], "--label", labels[1], `${dir}/a`, `${dir}/b`],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Compares supabase/schema.sql with a fresh dump; returns the diff (empty when current). */
export async function checkSchema(): Promise<string> {
  const committed = await Deno.readTextFile(SCHEMA_FILE).catch(() => "");
  const fresh = await dumpSchema();
  if (committed === fresh) return "";
  return await unifiedDiff(committed, fresh, [
    "supabase/schema.sql (committed)",
    "supabase/schema.sql (from the migrations)",
  ]);
}

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  const flag = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  try {
    if (command === "dump") {
      const out = flag("--out") ?? SCHEMA_FILE;
      await Deno.writeTextFile(out, await dumpSchema(flag("--root") ?? REPO_ROOT));
      console.log(`[schema] wrote ${out}`);
    } else if (command === "check") {
      const diff = await checkSchema();
      if (diff) {
        console.log(diff);
        console.error(
          "[schema] supabase/schema.sql is stale: run `deno task schema:dump` and commit it",
        );
        Deno.exit(1);
      }
      console.log("[schema] supabase/schema.sql matches the migrations");
    } else {
      console.error("usage: schema.ts dump [--root DIR] [--out FILE] | check");
      Deno.exit(2);
    }
  } catch (e) {
    console.error(`[schema] ${errorMessage(e)}`);
    Deno.exit(1);
  }
}
