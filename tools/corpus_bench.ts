/**
 * `deno task bench:corpus`: detection quality on real pages. Replays the real-pages corpus
 * (Open Terms Archive snapshots, `../shared/corpus` beside the repository, or
 * `CORPUS_DIR`) through the real job on the local stack: one source per document, served
 * by a local HTTP server that answers with the document's current snapshot; per round the
 * server moves every document one snapshot on (for each pair: `prev`, then `next`) and one
 * run checks all of them through the public API (`POST /functions/v1/api/jobs/daily-fetch`
 * with `source_ids`). A second fetch in the same round (a confirmation) sees the same page.
 * Only the labelled transitions `prev` → `next` are scored, by whether the run recorded a
 * change for the source: precision and recall over REAL pairs, and the noise-FP rate
 * (NOISE pairs flagged / NOISE pairs). Prints the figures and the worst examples; not a test.
 *
 *   deno task bench:corpus                       # whole development split
 *   deno task bench:corpus --docs 10 --worst 20  # first 10 documents, 20 examples
 *   deno task bench:corpus --json out.json       # also write every scored pair
 * @module
 */
import postgres from "postgres";
import { start } from "../supabase/local/stack.ts";
import { readKeys } from "../supabase/local/keys.ts";
import { DB_URL, PORTS, REPO_ROOT, STATE_DIR, SUPABASE_URL } from "../supabase/local/ports.ts";
import { waitForNoRunningRun } from "../tests/integration/_stack.ts";
import { edgeCpuSince, logOffsets } from "./edge_cpu.ts";

/** One labelled pair of the corpus (the fields the bench reads). */
interface Pair {
  id: string;
  document: string;
  content_type: string;
  prev_blob: string;
  next_blob: string;
  label: "REAL" | "NOISE" | "UNSURE";
  label_detail: string;
  ota_changed_words: number;
  evidence: string[] | null;
}

/** A document's snapshots in the order served, and which step scores which pair. */
interface Doc {
  name: string;
  contentType: string;
  steps: string[];
  /** Step index → the pair whose `next` that step serves. */
  scored: Map<number, Pair>;
  url: string;
  sourceId: string;
  current: string | null;
}

/** What the run recorded for one scored pair. */
interface Scored {
  pair: Pair;
  flagged: boolean;
  status: string;
  errorClass: string | null;
  error: string | null;
  diff: string | null;
  content: string | null;
}

const SITE_PORT = PORTS.benchSite + 1;
const HOSTS = 64;
const args = Deno.args;
function _arg(name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}
const CORPUS = _arg("--corpus") ?? Deno.env.get("CORPUS_DIR") ?? `${REPO_ROOT}/../shared/corpus`;
const MAX_DOCS = Number(_arg("--docs") ?? Infinity);
const WORST = Number(_arg("--worst") ?? 12);
const JSON_OUT = _arg("--json");
const NAME_PREFIX = "corpus ";

const sql = postgres(DB_URL, { max: 2, onnotice: () => {} });
const blobCache = new Map<string, Uint8Array<ArrayBuffer>>();

async function _blob(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const cached = blobCache.get(path);
  if (cached) return cached;
  const file = await Deno.open(`${CORPUS}/${path}`);
  const body = new Uint8Array(
    await new Response(file.readable.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
  );
  blobCache.set(path, body);
  return body;
}

function _loadDocs(): Doc[] {
  const pairs = Deno.readTextFileSync(`${CORPUS}/pairs.jsonl`).split("\n").filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Pair);
  const byDoc = new Map<string, Pair[]>();
  for (const pair of pairs) {
    const list = byDoc.get(pair.document);
    if (list) list.push(pair);
    else byDoc.set(pair.document, [pair]);
  }
  const docs: Doc[] = [];
  for (const [name, list] of byDoc) {
    if (docs.length >= MAX_DOCS) break;
    const steps: string[] = [];
    const scored = new Map<number, Pair>();
    for (const pair of list) {
      if (steps[steps.length - 1] !== pair.prev_blob) steps.push(pair.prev_blob);
      steps.push(pair.next_blob);
      if (pair.label !== "UNSURE") scored.set(steps.length - 1, pair);
    }
    const i = docs.length;
    docs.push({
      name,
      contentType: list[0]!.content_type,
      steps,
      scored,
      url: `http://127.0.0.${(i % HOSTS) + 1}:${SITE_PORT}/doc/${i}`,
      sourceId: "",
      current: null,
    });
  }
  return docs;
}

function _serve(docs: Doc[]): Deno.HttpServer[] {
  const handler = async (req: Request): Promise<Response> => {
    const m = new URL(req.url).pathname.match(/^\/doc\/(\d+)$/);
    const doc = m ? docs[Number(m[1])] : undefined;
    if (!doc || !doc.current) return new Response("not found", { status: 404 });
    const body = await _blob(doc.current);
    return new Response(body, { headers: { "content-type": doc.contentType } });
  };
  const servers: Deno.HttpServer[] = [];
  for (let h = 1; h <= Math.min(HOSTS, docs.length); h++) {
    servers.push(Deno.serve({ hostname: `127.0.0.${h}`, port: SITE_PORT, onListen() {} }, handler));
  }
  return servers;
}

/** Starts a run over `sourceIds` through the API and waits until it is finished. */
async function _run(serviceKey: string, sourceIds: string[]): Promise<string> {
  for (;;) {
    await waitForNoRunningRun(Infinity, sql);
    const res = await fetch(`${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${serviceKey}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ force: true, source_ids: sourceIds }),
    });
    const body = await res.json();
    if (res.status === 409) continue;
    if (res.status !== 202) {
      throw new Error(`Cannot start a run: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
    for (;;) {
      const [run] = await sql`select status from public.job_runs where id = ${body.run_id}`;
      if (run!.status !== "running") return body.run_id as string;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The changed lines of a diff, shortened, for the report. */
function _changedLines(diff: string | null, max = 4): string {
  if (!diff) return "";
  const lines = diff.split("\n").filter((l) =>
    (l.startsWith("+") || l.startsWith("-")) && !l.startsWith("+++") && !l.startsWith("---") &&
    l.trim().length > 1
  );
  return lines.slice(0, max).map((l) => (l.length > 140 ? `${l.slice(0, 139)}…` : l)).join(" ⏎ ") +
    (lines.length > max ? ` (+${lines.length - max} more lines)` : "");
}

/** Lines of the stack's edge-limit log (one per worker the limits ended), 0 when there is none. */
async function _limitKills(): Promise<number> {
  try {
    const text = await Deno.readTextFile(`${STATE_DIR}/logs/limits.log`);
    return text.split("\n").filter((l) => l.trim()).length;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** Fails runs an interrupted bench left running over its sources (their site is gone). */
async function _failLeftoverRuns(): Promise<void> {
  const left = await sql`select distinct r.id from public.job_runs r
    join public.job_run_sources s on s.run_id = r.id
    join public.sources src on src.id = s.source_id
    where r.status = 'running' and src.name like ${NAME_PREFIX + "%"}`;
  for (const run of left) {
    await sql`select public.job_fail_run(${run.id}, 'an earlier corpus bench was interrupted')`;
    console.log(`failed run ${run.id}, left running by an interrupted bench`);
  }
}

function _pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

if (import.meta.main) {
  await start();
  const { serviceRoleKey } = await readKeys();
  const docs = _loadDocs();
  const servers = _serve(docs);
  await _failLeftoverRuns();
  await waitForNoRunningRun(Infinity, sql);
  const killsBefore = await _limitKills();
  const offsets = logOffsets();
  await sql`delete from public.sources where name like ${NAME_PREFIX + "%"}`;
  // No alert leaves during the bench: subscriptions are paused and restored after.
  const subs = await sql`update public.subscriptions set active = false where active returning id`;
  const results: Scored[] = [];
  const t0 = performance.now();
  const failures = new Map<string, number>();
  let fetched = 0;
  try {
    for (const doc of docs) {
      const [row] = await sql`insert into public.sources (name, url, active)
        values (${NAME_PREFIX + doc.name}, ${doc.url}, true) returning id`;
      doc.sourceId = row!.id;
    }
    const rounds = Math.max(...docs.map((d) => d.steps.length));
    for (let round = 0; round < rounds; round++) {
      const live = docs.filter((d) => round < d.steps.length);
      fetched += live.length;
      for (const doc of live) doc.current = doc.steps[round]!;
      const runId = await _run(serviceRoleKey, live.map((d) => d.sourceId));
      const rows = await sql`select s.source_id, s.status, s.changed, s.error_class,
          s.error_message, c.diff
        from public.job_run_sources s left join public.policy_changes c on c.id = s.policy_change_id
        where s.run_id = ${runId}`;
      const bySource = new Map(rows.map((r) => [r.source_id as string, r]));
      let flagged = 0;
      for (const doc of live) {
        const r = bySource.get(doc.sourceId);
        if (r?.status === "failed") {
          const key = `${r.error_class}`;
          failures.set(key, (failures.get(key) ?? 0) + 1);
        }
        const pair = doc.scored.get(round);
        if (!pair) continue;
        const content = r?.changed ? null : (await sql`select content from public.snapshots
          where source_id = ${doc.sourceId} order by fetched_at desc limit 1`)[0]?.content ?? null;
        const scored: Scored = {
          pair,
          flagged: r?.changed === true,
          status: r?.status ?? "missing",
          errorClass: r?.error_class ?? null,
          error: r?.error_message ?? null,
          diff: r?.diff ?? null,
          content: typeof content === "string" ? content.slice(0, 300) : null,
        };
        if (scored.flagged) flagged++;
        results.push(scored);
      }
      console.log(
        `round ${round + 1}/${rounds}: ${live.length} sources, ${flagged} scored pairs flagged, ` +
          `${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
    }
  } finally {
    for (const server of servers) await server.shutdown();
    if (subs.length > 0) {
      await sql`update public.subscriptions set active = true where id = any(${
        subs.map((s) => s.id)
      })`;
    }
    await sql.end();
  }

  const real = results.filter((r) => r.pair.label === "REAL");
  const noise = results.filter((r) => r.pair.label === "NOISE");
  const tp = real.filter((r) => r.flagged).length;
  const fp = noise.filter((r) => r.flagged).length;
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = real.length === 0 ? 1 : tp / real.length;
  const noiseFp = noise.length === 0 ? 0 : fp / noise.length;
  const misses = real.filter((r) => !r.flagged);
  const falseAlarms = noise.filter((r) => r.flagged);
  console.log(`\nworst false alarms (NOISE flagged), ${falseAlarms.length}:`);
  for (const r of falseAlarms.slice(0, WORST)) {
    console.log(
      `  ${r.pair.document} [${r.pair.id}, ${r.pair.label_detail}]: ${_changedLines(r.diff)}`,
    );
  }
  console.log(`\nworst misses (REAL not flagged), ${misses.length}:`);
  for (
    const r of misses.sort((a, b) => b.pair.ota_changed_words - a.pair.ota_changed_words).slice(
      0,
      WORST,
    )
  ) {
    const ours = r.status === "failed"
      ? `failed ${r.errorClass}: ${r.error}`
      : `no change; our text: ${JSON.stringify(r.content?.slice(0, 120) ?? "")}`;
    const ota = (r.pair.evidence ?? []).slice(0, 2).map((e) => e.slice(0, 100)).join(" | ");
    console.log(
      `  ${r.pair.document} [${r.pair.id}, ${r.pair.ota_changed_words} words]: ${ours}; OTA: ${ota}`,
    );
  }
  console.log(
    `\nfetch failures by class (all rounds): ${JSON.stringify(Object.fromEntries(failures))}`,
  );
  const kills = (await _limitKills()) - killsBefore;
  // The budget's calibration on real pages (docs/benchmarks.md): the workers' CPU from
  // outside against the compute the invocations measured, per source they handled.
  const cost = edgeCpuSince(offsets);
  const perFetch = (ms: number) => (fetched > 0 ? ms / fetched : 0);
  // The log's rate gate may drop closing lines: their own items are the denominator.
  const computePer = cost.handled > 0 ? cost.computeMs / cost.handled : 0;
  console.log(
    `\nfunction CPU from outside (workers' main threads since boot): ${
      (cost.workersCpuMs / 1000).toFixed(2)
    } s over ${fetched} sources checked; most of one worker ${cost.maxWorkerCpuMs} ms ` +
      `(killed at 2000); per source: outside ${
        perFetch(cost.workersCpuMs).toFixed(2)
      } ms, measured compute ${computePer.toFixed(2)} ms (${cost.invocations} invocations ` +
      `logged, ${cost.handled} sources); largest invocation estimate ${cost.maxInvocationCpuMs} ms`,
  );
  console.log(`edge-limit kills during the bench: ${kills} (.stack/logs/limits.log)`);
  console.log(
    `\ncorpus bench: ${docs.length} documents, ${real.length} REAL, ${noise.length} NOISE pairs scored, ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  console.log(
    `precision ${precision.toFixed(3)}  recall ${recall.toFixed(3)}  noise-FP ${_pct(noiseFp)}` +
      `  (TP ${tp}, FP ${fp}, FN ${misses.length})`,
  );
  if (JSON_OUT) {
    await Deno.writeTextFile(
      JSON_OUT,
      JSON.stringify(
        results.map((r) => ({
          ...r,
          pair: {
            id: r.pair.id,
            document: r.pair.document,
            label: r.pair.label,
            label_detail: r.pair.label_detail,
          },
        })),
        null,
        1,
      ),
    );
  }
}
