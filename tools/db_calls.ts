/**
 * `deno run -A tools/db_calls.ts [bench:run arguments]`: where a run's database round trips
 * go. Runs `tools/bench_run.ts` with the given arguments (e.g. `--n 2000 --no-skew
 * --no-urlwatch`) and takes a snapshot of `pg_stat_statements` and `pg_stat_database` each
 * time the bench prints a run's line ("ours baseline: …", "ours change run: …"), without
 * polling the database meanwhile (the bench counts every transaction as a round trip). Then
 * prints, per run: the transactions, the PostgREST requests (each one runs its
 * `set_config` statement once) and the calls per statement kind (an RPC by name, a table
 * read by table), with their execution time. `--nested` (taken out of the bench's arguments)
 * also sets `pg_stat_statements.track = all` and `track_functions = all` meanwhile and prints,
 * per run, the costliest statements run inside functions and the functions' own time
 * (`pg_stat_user_functions`). Not a test: figures for docs/benchmarks.md.
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { ADMIN_DB_URL, REPO_ROOT } from "../supabase/local/ports.ts";

interface Row {
  kind: string;
  calls: number;
  ms: number;
  /** Planning time in ms (with --nested: pg_stat_statements.track_planning). */
  planMs?: number;
}

interface Snapshot {
  label: string;
  xacts: number;
  rows: Map<string, Row>;
  /** Statements inside functions, by text (with --nested). */
  nested: Map<string, Row>;
  /** Functions' calls and own time in ms, by name (with --nested). */
  functions: Map<string, Row>;
}

/** Statement kind: the RPC PostgREST called, the table it read or wrote, else the text. */
export function statementKind(query: string): string {
  const rpc = query.match(/"public"\."([a-z_]+)"\(/);
  if (rpc) return `rpc ${rpc[1]}`;
  if (/set_config\(/i.test(query)) return "PostgREST request (set_config)";
  const table = query.match(/FROM "(public|private)"\."([a-z_]+)"/);
  if (table) return `read ${table[1]}.${table[2]}`;
  const write = query.match(/(INSERT INTO|UPDATE|DELETE FROM) "(public|private)"\."([a-z_]+)"/i);
  if (write) return `${write[1]!.split(" ")[0]!.toLowerCase()} ${write[2]}.${write[3]}`;
  return `other: ${query.replace(/\s+/g, " ").slice(0, 70)}`;
}

async function snapshot(sql: postgres.Sql, label: string): Promise<Snapshot> {
  const [db] = await sql<{ n: string }[]>`
    select (xact_commit + xact_rollback)::bigint as n from pg_stat_database
    where datname = 'postgres'`;
  const list = await sql<{ query: string; calls: string; ms: number }[]>`
    select query, calls::bigint as calls, total_exec_time::float8 as ms
    from extensions.pg_stat_statements where toplevel`;
  const rows = new Map<string, Row>();
  for (const r of list) {
    const kind = statementKind(r.query);
    const row = rows.get(kind) ?? { kind, calls: 0, ms: 0 };
    row.calls += Number(r.calls);
    row.ms += r.ms;
    rows.set(kind, row);
  }
  const nested = new Map<string, Row>();
  const functions = new Map<string, Row>();
  if (NESTED) {
    const inner = await sql<{ query: string; calls: string; ms: number; plan: number }[]>`
      select query, calls::bigint as calls, total_exec_time::float8 as ms,
             total_plan_time::float8 as plan
      from extensions.pg_stat_statements where not toplevel`;
    for (const r of inner) {
      const kind = r.query.replace(/\s+/g, " ").slice(0, 110);
      const row = nested.get(kind) ?? { kind, calls: 0, ms: 0, planMs: 0 };
      row.calls += Number(r.calls);
      row.ms += r.ms;
      row.planMs = (row.planMs ?? 0) + r.plan;
      nested.set(kind, row);
    }
    const fns = await sql<{ name: string; calls: string; ms: number }[]>`
      select schemaname || '.' || funcname as name, calls::bigint as calls,
             self_time::float8 as ms
      from pg_stat_user_functions`;
    for (const f of fns) functions.set(f.name, { kind: f.name, calls: Number(f.calls), ms: f.ms });
  }
  return { label, xacts: Number(db!.n), rows, nested, functions };
}

/** What grew between two snapshots of one map, costliest first. */
function grown(before: Map<string, Row>, after: Map<string, Row>): Row[] {
  const rows: Row[] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind);
    const calls = a.calls - (b?.calls ?? 0);
    const planMs = (a.planMs ?? 0) - (b?.planMs ?? 0);
    if (calls > 0) rows.push({ kind, calls, ms: a.ms - (b?.ms ?? 0), planMs });
  }
  return rows.sort((x, y) => y.ms + (y.planMs ?? 0) - x.ms - (x.planMs ?? 0));
}

const NESTED = Deno.args.includes("--nested");

function report(before: Snapshot, after: Snapshot, n: number): string[] {
  const rows: Row[] = [];
  for (const [kind, a] of after.rows) {
    const b = before.rows.get(kind);
    const calls = a.calls - (b?.calls ?? 0);
    if (calls > 0) rows.push({ kind, calls, ms: a.ms - (b?.ms ?? 0) });
  }
  rows.sort((x, y) => y.calls - x.calls);
  const xacts = after.xacts - before.xacts;
  const requests = rows.find((r) => r.kind.startsWith("PostgREST request"))?.calls ?? 0;
  const lines = [
    `\n${after.label} (N = ${n}): ${xacts} transactions (${(xacts / n).toFixed(3)} per source), ` +
    `${requests} PostgREST requests (${(requests / n).toFixed(3)} per source)\n`,
    "| statement | calls | per source | exec ms total | mean ms |",
    "|---|---:|---:|---:|---:|",
  ];
  for (const r of rows.slice(0, 25)) {
    lines.push(
      `| ${r.kind} | ${r.calls} | ${(r.calls / n).toFixed(3)} | ${r.ms.toFixed(0)} | ${
        (r.ms / r.calls).toFixed(2)
      } |`,
    );
  }
  if (NESTED) {
    for (
      const [title, list] of [
        ["statement inside a function", grown(before.nested, after.nested)],
        ["function (own time)", grown(before.functions, after.functions)],
      ] as const
    ) {
      lines.push(
        "",
        `| ${title} | calls | per source | exec ms total | mean ms |`,
        "|---|---:|---:|---:|---:|",
      );
      for (const r of list.slice(0, 25)) {
        lines.push(
          `| ${r.kind.replaceAll("|", "\\|")} | ${r.calls} | ${(r.calls / n).toFixed(3)} | ${
            r.ms.toFixed(0)
          } | ${(r.ms / r.calls).toFixed(3)} |`,
        );
      }
    }
  }
  return lines;
}

if (import.meta.main) {
  await start();
  const nArg = Deno.args[Deno.args.indexOf("--n") + 1];
  const n = Deno.args.includes("--n") && nArg ? Number(nArg.split(",")[0]) : 2000;
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  const out: string[] = [];
  try {
    if (NESTED) {
      await sql`alter system set pg_stat_statements.track = 'all'`;
      await sql`alter system set track_functions = 'all'`;
      await sql`alter system set pg_stat_statements.track_planning = on`;
      await sql`select pg_reload_conf()`;
    }
    await sql`select extensions.pg_stat_statements_reset()`;
    const bench = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${REPO_ROOT}/tools/bench_run.ts`,
        ...Deno.args.filter((a) => a !== "--nested"),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let last = await snapshot(sql, "start");
    const decoder = new TextDecoderStream();
    let buffered = "";
    for await (const chunk of bench.stdout.pipeThrough(decoder)) {
      await Deno.stdout.write(new TextEncoder().encode(chunk));
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const m = line.match(/^ours ([a-z -]+?)(?: run)?(?: \(clean\))?(?: with [a-z ]+)?:/);
        if (!m) continue;
        const next = await snapshot(sql, `ours ${m[1]}`);
        out.push(...report(last, next, n));
        last = next;
      }
    }
    const status = await bench.status;
    console.log(out.join("\n"));
    console.log(`\nload average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    if (!status.success) Deno.exitCode = 1;
  } finally {
    if (NESTED) {
      await sql`alter system reset pg_stat_statements.track`;
      await sql`alter system reset track_functions`;
      await sql`alter system reset pg_stat_statements.track_planning`;
      await sql`select pg_reload_conf()`;
    }
    await sql.end();
  }
}
