/**
 * `deno run -A tools/rpc_timings.ts [--n 20000]`: does every RPC the job makes finish inside
 * a hosted project's 8 s statement timeout (authenticator's `statement_timeout`, which every
 * PostgREST request of the service role runs under)? Resets `pg_stat_statements`, runs the
 * bench (`tools/bench_run.ts --n N`: a baseline and a change run over N sources), then prints
 * per RPC the calls, mean and max execution time, and the statement-timeout cancellations
 * Postgres logged meanwhile. Not a test: figures for docs/benchmarks.md.
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { ADMIN_DB_URL, LOG_DIR, REPO_ROOT } from "../supabase/local/ports.ts";

const nArg = Deno.args[Deno.args.indexOf("--n") + 1];
const N = Deno.args.includes("--n") && nArg ? Number(nArg) : 20000;
const TIMEOUT_MS = 8000;

interface RpcRow {
  rpc: string;
  calls: number;
  mean_ms: number;
  max_ms: number;
}

async function logSize(): Promise<number> {
  return (await Deno.stat(`${LOG_DIR}/postgres.log`)).size;
}

async function timeoutsSince(offset: number): Promise<string[]> {
  const file = await Deno.open(`${LOG_DIR}/postgres.log`);
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const text = await new Response(file.readable).text();
    return text.split("\n").filter((l) =>
      l.includes("canceling statement due to statement timeout")
    );
  } catch (e) {
    file.close();
    throw e;
  }
}

if (import.meta.main) {
  await start();
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  try {
    const [setting] = await sql<{ config: string[] }[]>`
      select rolconfig as config from pg_roles where rolname = 'authenticator'`;
    console.log(`authenticator settings: ${setting?.config.join(", ")}`);
    await sql`select extensions.pg_stat_statements_reset()`;
    const offset = await logSize();
    const bench = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_ROOT}/tools/bench_run.ts`, "--n", String(N)],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!bench.success) throw new Error(`Cannot time the RPCs: the bench exited ${bench.code}`);
    // PostgREST calls an RPC as `… from "public"."<name>"(…)`; group its statements by name.
    const rows = await sql<RpcRow[]>`
      select substring(query from '"public"\\."([a-z_]+)"\\(') as rpc,
             sum(calls)::int as calls,
             round((sum(total_exec_time) / sum(calls))::numeric, 1)::float8 as mean_ms,
             round(max(max_exec_time)::numeric, 1)::float8 as max_ms
      from extensions.pg_stat_statements
      where query ~ '"public"\\."[a-z_]+"\\('
      group by 1 order by max_ms desc`;
    const cancelled = await timeoutsSince(offset);
    console.log(`\nRPCs of the job at N = ${N} (pg_stat_statements, execution time per call):\n`);
    console.log("| RPC | calls | mean ms | max ms | inside 8 s |");
    console.log("|---|---:|---:|---:|---|");
    for (const r of rows) {
      console.log(
        `| ${r.rpc} | ${r.calls} | ${r.mean_ms} | ${r.max_ms} | ${
          r.max_ms < TIMEOUT_MS ? "yes" : "**no**"
        } |`,
      );
    }
    console.log(`\nstatement-timeout cancellations logged during the bench: ${cancelled.length}`);
    for (const line of cancelled.slice(0, 5)) console.log(`  ${line}`);
    if (rows.some((r) => r.max_ms >= TIMEOUT_MS) || cancelled.length > 0) Deno.exitCode = 1;
  } finally {
    await sql.end();
  }
}
