/**
 * `deno run -A tools/rpc_timings.ts [--n 20000]`: does every RPC the job makes finish inside
 * a hosted project's 8 s statement timeout (authenticator's `statement_timeout`, which every
 * PostgREST request of the service role runs under)? Resets `pg_stat_statements`, runs the
 * bench (`tools/bench_run.ts --n N`: a baseline and a change run over N sources), then prints
 * per RPC the calls, mean and max execution time, and the statement-timeout cancellations
 * Postgres logged meanwhile. Not a test: figures for docs/benchmarks.md. Other options go to
 * the bench as they are: `--n 10000,100000 --no-skew --no-urlwatch` times the RPCs of both
 * sizes together (issue 14 item 3).
 *
 * `--queue-only` runs the job's queue instead of the bench (tools/bench_queue.ts: the run's
 * start and every claim, heartbeat and completion over N sources on a skewed host mix,
 * without fetching), which reaches N = 100,000 in minutes.
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { ADMIN_DB_URL, LOG_DIR, REPO_ROOT } from "../supabase/local/ports.ts";
import { queueRun } from "./bench_queue.ts";

const nArg = Deno.args[Deno.args.indexOf("--n") + 1];
/** N of the queue-only run; the bench takes a list (`--n 10000,100000`). */
const N = Deno.args.includes("--n") && nArg ? Number(nArg.split(",").at(-1)) : 20000;
const TIMEOUT_MS = 8000;
const QUEUE_ONLY = Deno.args.includes("--queue-only");

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
    if (QUEUE_ONLY) {
      const q = await queueRun(sql, N);
      console.log(
        `queue at N = ${q.n}: start (list + add items) ${(q.startMs / 1000).toFixed(1)} s, ` +
          `drain ${(q.drainMs / 1000).toFixed(1)} s in ${q.calls} round trips, run ${q.status}; ` +
          `load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
      );
    } else {
      const bench = await new Deno.Command(Deno.execPath(), {
        // The bench's own options pass through (e.g. `--n 10000,100000 --no-skew`).
        args: [
          "run",
          "-A",
          `${REPO_ROOT}/tools/bench_run.ts`,
          ...(Deno.args.includes("--n") ? Deno.args : ["--n", String(N), ...Deno.args]),
        ],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!bench.success) throw new Error(`Cannot time the RPCs: the bench exited ${bench.code}`);
    }
    // PostgREST calls an RPC as `… from "public"."<name>"(…)`; group its statements by name.
    const rows = await sql<RpcRow[]>`
      select substring(query from '"public"\\."([a-z_]+)"\\(') as rpc,
             sum(calls)::int as calls,
             round((sum(total_exec_time) / sum(calls))::numeric, 1)::float8 as mean_ms,
             round(max(max_exec_time)::numeric, 1)::float8 as max_ms
      from extensions.pg_stat_statements
      where query ~ '"public"\\."[a-z_]+"\\('
      group by 1 order by max_ms desc`;
    const reads = await sql<{ query: string; calls: number; max_ms: number }[]>`
      select left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as query, calls::int,
             round(max_exec_time::numeric, 1)::float8 as max_ms
      from extensions.pg_stat_statements
      where query !~ '"public"\\."[a-z_]+"\\(' and query ~* '(job_|sources|snapshots|alerts)'
      order by max_exec_time desc limit 5`;
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
    console.log("\nslowest other statements (PostgREST reads and the like):\n");
    for (const r of reads) console.log(`- ${r.max_ms} ms max, ${r.calls} calls: ${r.query}`);
    console.log(`\nstatement-timeout cancellations logged during the bench: ${cancelled.length}`);
    for (const line of cancelled.slice(0, 5)) console.log(`  ${line}`);
    if (rows.some((r) => r.max_ms >= TIMEOUT_MS) || cancelled.length > 0) Deno.exitCode = 1;
  } finally {
    await sql.end();
  }
}
