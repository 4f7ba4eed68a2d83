/**
 * `deno run -A tools/slot_timeline.ts [--n 800] [--runs 2]`: where a one-host run loses
 * time against its politeness floor (issue 14 item 2). Runs the daily-fetch job through
 * the stack (POST → gateway → function workers) over N pages of ONE local host (100 ms
 * latency, ~40 KB), records every request at that host, and splits the host's idle slot
 * time into: the ramp (POST → first request), gaps between two fetches of one request
 * slot by the same invocation, gaps where the slot passed to another invocation (a
 * handover or a worker boot), and the tail (last fetch → run finalised). A handover gap is
 * split again: until the predecessor's last item of the slot was completed (its extraction,
 * snapshot write and completion: the database frees the slot then), until the successor
 * claimed for the first time (it was not up yet), and the successor's claim that found the
 * slot free. Each run also prints its calls of the job's RPCs (pg_stat_statements, reset
 * before the run; job_slot_start: the asks of queued items). Not a test.
 * `--skew`: the skewed mix of tools/bench_run.ts instead (half of the N pages on the host
 * above, the other half spread over 63 more hosts, 127.0.0.2 … 64): the split is of the
 * largest host's slots, the floor its pages × latency ÷ slots, and each invocation's share
 * of that host's items is printed too (an invocation that took few of them passed its
 * slots on after few fetches).
 * The function's tuning variables (e.g. `JOB_HOST_SLOT_DEPTH=1`) come from THIS process's
 * environment: its stack start restarts the functions when they differ.
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { readKeys } from "../supabase/local/keys.ts";
import { ADMIN_DB_URL, DB_URL, SUPABASE_URL } from "../supabase/local/ports.ts";
import { waitForNoRunningRun } from "../tests/integration/_stack.ts";

const args = Deno.args;
const arg = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const N = arg("--n", 800);
const RUNS = arg("--runs", 2);
const SKEW = args.includes("--skew");
/** Pages on the largest host (the one the split is of). */
const BIG = SKEW ? Math.ceil(N / 2) : N;
const SMALL_HOSTS = 63;
const LATENCY_MS = 100;
const PER_HOST = Number(Deno.env.get("FETCH_PER_HOST_CONCURRENCY") ?? 4);
const sql = postgres(DB_URL, { max: 2, onnotice: () => {} });
/** pg_stat_statements: the job's RPCs per run (the admin role reads every statement). */
const admin = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
const RPCS = [
  "job_complete_and_claim",
  "job_slot_start",
  "job_slot_release",
  "job_slow_host",
  "record_snapshot",
];

const filler = Array.from(
  { length: 400 },
  (_, i) => `<p>Clause ${i}: the provider may process data for the purposes listed here.</p>`,
).join("\n");
let round = 0;
/** Requests at the largest host. */
const requests: Array<{ path: string; start: number; end: number }> = [];
const handler = (big: boolean) => async (req: Request) => {
  const path = new URL(req.url).pathname;
  const startMs = Date.now();
  await new Promise((r) => setTimeout(r, LATENCY_MS));
  const edited = round > 1 && Number(path.split("/").pop()) % 20 === 0 ? ` edit ${round}` : "";
  const body = `<html><body><main><h1>Policy ${path}${edited}</h1>${filler}</main>` +
    `<footer>${Date.now()}</footer></body></html>`;
  if (big) requests.push({ path, start: startMs, end: Date.now() });
  return new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
};
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler(true));
const base = `http://127.0.0.1:${server.addr.port}`;
const smallServers = SKEW
  ? Array.from(
    { length: SMALL_HOSTS },
    (_, h) => Deno.serve({ hostname: `127.0.0.${h + 2}`, port: 0, onListen() {} }, handler(false)),
  )
  : [];
const pageUrl = (i: number): string => {
  if (i < BIG) return `${base}/p/${i}`;
  const s = smallServers[i % SMALL_HOSTS]!;
  return `http://${s.addr.hostname}:${s.addr.port}/p/${i}`;
};

await start();
const { serviceRoleKey } = await readKeys();
await waitForNoRunningRun(Infinity, sql);
const others = await sql`update public.sources set active = false
  where active and name not like 'slotline %' returning id`;
const subs = await sql`update public.subscriptions set active = false where active returning id`;
await sql`delete from public.sources where name like 'slotline %'`;
const rows = Array.from(
  { length: N },
  (_, i) => ({ name: `slotline ${i}`, url: pageUrl(i) }),
);
await sql`insert into public.sources ${sql(rows)}`;

try {
  for (let r = 1; r <= RUNS; r++) {
    round = r;
    requests.length = 0;
    await admin`select extensions.pg_stat_statements_reset()`;
    const t0 = Date.now();
    const res = await fetch(`${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${serviceRoleKey}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ force: true }),
    });
    const started = await res.json();
    if (res.status !== 202) throw new Error(`HTTP ${res.status} ${JSON.stringify(started)}`);
    let run: Record<string, unknown>;
    for (;;) {
      [run] = await sql`select * from public.job_runs where id = ${started.run_id}`;
      if (run!.status !== "running") break;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    const t1 = new Date(run!.completed_at as string).getTime();
    const items = await sql`select s.url, i.slot, i.claimed_by, i.attempts, i.finished_at
      from public.job_run_sources i join public.sources s on s.id = i.source_id
      where i.run_id = ${started.run_id}`;
    const bySlot = new Map<string, { slot: number; by: string; finished: number }>();
    /** Per invocation: items of the largest host, items of the others. */
    const shares = new Map<string, [number, number]>();
    for (const i of items) {
      const isBig = new URL(i.url).host === new URL(base).host;
      const share = shares.get(i.claimed_by) ?? [0, 0];
      share[isBig ? 0 : 1]++;
      shares.set(i.claimed_by, share);
      if (!isBig) continue;
      bySlot.set(new URL(i.url).pathname, {
        slot: i.slot,
        by: i.claimed_by,
        finished: new Date(i.finished_at).getTime(),
      });
    }
    const firstClaims = new Map<string, number>();
    for (
      const f of await sql`select invocation_id, first_claim_at from private.run_invocations
      where run_id = ${started.run_id}`
    ) firstClaims.set(f.invocation_id, new Date(f.first_claim_at).getTime());
    const [inv] = await sql`select count(*)::int as n from private.run_invocations
      where run_id = ${started.run_id}`;
    const sorted = [...requests].sort((a, b) => a.start - b.start);
    const gaps = { same: [] as number[], handover: [] as number[] };
    // A handover gap, split: the predecessor's last item of the slot is completed (its
    // slot freed: extraction, snapshot write, completion) / the successor's first claim
    // comes later still (it was not up yet) / the successor's claim that finds the slot free.
    const parts = { release: [] as number[], late: [] as number[], claim: [] as number[] };
    for (let s = 1; s <= PER_HOST; s++) {
      const lane = sorted.filter((q) => bySlot.get(q.path)?.slot === s);
      for (let k = 1; k < lane.length; k++) {
        const gap = lane[k]!.start - lane[k - 1]!.end;
        const prev = bySlot.get(lane[k - 1]!.path)!, next = bySlot.get(lane[k]!.path)!;
        const same = next.by === prev.by;
        (same ? gaps.same : gaps.handover).push(gap);
        if (same) continue;
        const freed = Math.min(Math.max(prev.finished, lane[k - 1]!.end), lane[k]!.start);
        const up = Math.min(Math.max(firstClaims.get(next.by) ?? freed, freed), lane[k]!.start);
        parts.release.push(freed - lane[k - 1]!.end);
        parts.late.push(up - freed);
        parts.claim.push(lane[k]!.start - up);
      }
    }
    const sum = (xs: number[]) => xs.reduce((t, x) => t + x, 0);
    const pct = (xs: number[], p: number) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0;
    };
    const wall = t1 - t0;
    const floor = (BIG * LATENCY_MS) / PER_HOST;
    const busy = sum(requests.map((q) => q.end - q.start));
    const ramp = sorted[0]!.start - t0;
    const tail = t1 - Math.max(...requests.map((q) => q.end));
    console.log(
      `run ${r} (${r === 1 ? "baseline" : "change"}${SKEW ? ", skewed" : ""}): wall ${wall} ms = ${
        (wall / floor).toFixed(2)
      }× floor ${floor} ms; ${requests.length} requests, ${inv!.n} invocations; ` +
        `slot time ${wall * PER_HOST} ms = busy ${busy} + idle ${wall * PER_HOST - busy}`,
    );
    console.log(
      `  idle per slot: ramp ${ramp} ms, tail ${tail} ms; same-invocation gaps ${gaps.same.length}` +
        ` Σ ${sum(gaps.same)} ms (median ${pct(gaps.same, 0.5)}, p90 ${
          pct(gaps.same, 0.9)
        }); handover gaps ${gaps.handover.length} Σ ${sum(gaps.handover)} ms (median ${
          pct(gaps.handover, 0.5)
        }, p90 ${pct(gaps.handover, 0.9)}) — Σ over ${PER_HOST} slots`,
    );
    const part = (xs: number[]) => `Σ ${sum(xs)} (median ${pct(xs, 0.5)}, p90 ${pct(xs, 0.9)})`;
    console.log(
      `  handover gaps: slot freed (predecessor's completion) ${part(parts.release)}, ` +
        `successor not claiming yet ${part(parts.late)}, successor's claim ${part(parts.claim)} ms`,
    );
    if (SKEW) {
      const order = [...shares.entries()].sort((a, b) =>
        (firstClaims.get(a[0]) ?? 0) - (firstClaims.get(b[0]) ?? 0)
      );
      const holders = order.filter(([, [b]]) => b > 0).length;
      // Per tenth of the run: how busy the largest host's slots were, and how many of the
      // other hosts' items finished (where in the run the largest host lost its time).
      const tenth = wall / 10;
      const busyIn = Array.from({ length: 10 }, () => 0);
      for (const q of requests) {
        for (let b = 0; b < 10; b++) {
          const lo = t0 + b * tenth, hi = lo + tenth;
          busyIn[b]! += Math.max(0, Math.min(q.end, hi) - Math.max(q.start, lo));
        }
      }
      const smallIn = Array.from({ length: 10 }, () => 0);
      for (const i of items) {
        if (new URL(i.url).host === new URL(base).host) continue;
        const b = Math.floor((new Date(i.finished_at).getTime() - t0) / tenth);
        smallIn[Math.min(9, Math.max(0, b))]!++;
      }
      console.log(
        `  per tenth of the run: largest host's slots busy ${
          busyIn.map((b) => `${Math.round((100 * b) / (tenth * PER_HOST))}%`).join(" ")
        }; other hosts' items finished ${smallIn.join(" ")}`,
      );
      if (args.includes("--who")) {
        // Each invocation's first claim and the span of its requests at the largest host
        // (ms from the POST), in the first third of the run.
        const span = new Map<string, [number, number, number]>();
        for (const q of requests) {
          const by = bySlot.get(q.path)?.by;
          if (by === undefined) continue;
          const s = span.get(by) ?? [Infinity, 0, 0];
          span.set(by, [Math.min(s[0], q.start - t0), Math.max(s[1], q.end - t0), s[2] + 1]);
        }
        console.log(
          `  first claim → largest host's requests (ms): ${
            order.filter(([id]) => (firstClaims.get(id) ?? 0) - t0 < wall / 3).map(([id]) => {
              const s = span.get(id);
              const first = (firstClaims.get(id) ?? 0) - t0;
              return s ? `${first}→[${s[0]}–${s[1]}:${s[2]}]` : `${first}→-`;
            }).join(" ")
          }`,
        );
      }
      console.log(
        `  invocations holding the largest host: ${holders} of ${order.length}; items per ` +
          `invocation, largest host/others, by first claim: ${
            order.map(([, [b, o]]) => `${b}/${o}`).join(" ")
          }`,
      );
    }
    const calls = await admin`select query, calls::int from extensions.pg_stat_statements
      where toplevel`;
    const count = (rpc: string) =>
      calls.filter((c) => c.query.includes(`"public"."${rpc}"(`)).reduce((t, c) => t + c.calls, 0);
    console.log(`  RPC calls: ${RPCS.map((rpc) => `${rpc} ${count(rpc)}`).join(", ")}`);
    const [upt] = (await Deno.readTextFile("/proc/loadavg")).split(" ");
    console.log(`  load average ${upt}`);
  }
} finally {
  await sql`delete from public.sources where name like 'slotline %'`;
  if (others.length) {
    await sql`update public.sources set active = true where id in ${sql(others.map((o) => o.id))}`;
  }
  if (subs.length) {
    await sql`update public.subscriptions set active = true where id in ${
      sql(subs.map((o) => o.id))
    }`;
  }
  await server.shutdown();
  for (const s of smallServers) await s.shutdown();
  await sql.end();
  await admin.end();
}
