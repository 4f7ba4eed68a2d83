/**
 * Hostile content through the public API (issue 11's "done when"): one run of the job with
 * pages whose content is hostile (generated here, not stored) beside five healthy pages,
 * on a real server on 127.0.0.1, met by the real job on the local stack. Every healthy
 * source succeeds; every hostile one succeeds or fails with its class (never `internal`);
 * `/api/health` answers throughout (its slowest answer is printed: docs/reliability.md);
 * no function worker's peak grows by more than 128 MB; the next run starts and finishes.
 */
import assert from "node:assert/strict";
import { catastrophicPattern, HOSTILE_CASES } from "../../fixtures/hostile_inputs.ts";
import { serviceDb, sqlClient, SUPABASE_URL } from "../_stack.ts";
import {
  functionWorkerPids,
  type ProcessMemory,
  processMemory,
  resetPeakMemory,
  startRunAsync,
  waitRun,
} from "./_api.ts";

const GROWTH_BUDGET_KB = 128 * 1024;
const enc = (s: string) => new TextEncoder().encode(s);

interface Page {
  body: Uint8Array;
  type: string;
  /** The source's ignore patterns. */
  patterns?: string[];
}

/** The hostile classes served (tests/fixtures/hostile_inputs.ts HOSTILE_CASES), by name. */
const SERVED_CASES = ["url_dense", "json_deep", "pdf_inflate_bomb", "pdf_60k_pages"];

async function hostilePages(withHtml: boolean): Promise<Record<string, Page>> {
  const pages: Record<string, Page> = {};
  for (const name of withHtml ? [...SERVED_CASES, "html_deep"] : SERVED_CASES) {
    const hostile = HOSTILE_CASES.find((c) => c.name === name);
    if (!hostile) throw new Error(`Cannot serve hostile class ${name}: not in HOSTILE_CASES`);
    const { body, contentType, patterns } = await hostile.make();
    pages[name] = { body, type: contentType, patterns };
  }
  pages.plain_over_text_cap = {
    body: enc("Visa fee 719 GBP from 1 January 2026.\n".repeat(9 * 1024 * 1024 / 38)),
    type: "text/plain",
  };
  const { pattern, text } = catastrophicPattern(40);
  pages.regex_nested_quantifier = { body: enc(text), type: "text/plain", patterns: [pattern] };
  return pages;
}

function healthyPage(n: number): Page {
  return {
    body: enc(
      `<!doctype html><html><body><main><h1>Rules ${n}</h1><p>Stay up to ${
        90 + n
      } days.</p></main></body></html>`,
    ),
    type: "text/html; charset=utf-8",
  };
}

async function runMix(withHtml: boolean) {
  const pages: Record<string, Page> = { ...(await hostilePages(withHtml)) };
  for (let n = 1; n <= 5; n++) pages[`healthy_${n}`] = healthyPage(n);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const page = pages[new URL(req.url).pathname.slice(1)];
    if (!page) return new Response("not found", { status: 404 });
    return new Response(page.body as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": page.type },
    });
  });
  const tag = crypto.randomUUID().slice(0, 8);
  const db = await serviceDb();
  const sql = sqlClient();
  const names = Object.keys(pages);
  const { data: created, error } = await db.from("sources").insert(
    names.map((name) => ({
      name: `${name} ${tag}`,
      url: `http://127.0.0.1:${server.addr.port}/${name}`,
      ignore_patterns: pages[name]!.patterns ?? [],
    })),
  ).select("id, name");
  assert.equal(error, null, error?.message);
  const ids = created!.map((s) => s.id as string);
  const byId = new Map(created!.map((s, i) => [s.id as string, names[i]!]));
  try {
    const workers = await functionWorkerPids();
    const before = new Map<string, ProcessMemory>();
    for (const [service, pid] of workers) before.set(service, await resetPeakMemory(pid));
    const started = performance.now();
    const runId = await startRunAsync(sql, { source_ids: ids, force: true });
    // /api/health throughout the run.
    const health: { ms: number; status: number }[] = [];
    let running = true;
    const polling = (async () => {
      while (running) {
        const t0 = performance.now();
        const res = await fetch(`${SUPABASE_URL}/functions/v1/api/health`);
        await res.body?.cancel();
        health.push({ ms: performance.now() - t0, status: res.status });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const run = await waitRun(runId, 300_000).finally(() => (running = false));
    await polling;
    const seconds = (performance.now() - started) / 1000;
    const rows = await sql<
      {
        source_id: string;
        status: string;
        error_class: string | null;
        error_message: string | null;
      }[]
    >`
      select source_id, status, error_class, error_message from public.job_run_sources
      where run_id = ${runId}`;
    const memory = [];
    for (const [service, pid] of workers) {
      memory.push({ service, before: before.get(service)!, after: await processMemory(pid) });
    }
    // The next run starts and finishes (healthy sources only).
    const nextId = await startRunAsync(sql, {
      source_ids: ids.filter((id) => byId.get(id)!.startsWith("healthy")),
      force: true,
    });
    const next = await waitRun(nextId, 120_000);
    return { run, rows, byId, health, memory, seconds, next };
  } finally {
    await db.from("sources").delete().in("id", ids);
    await sql.end();
    await server.shutdown();
  }
}

function check(result: Awaited<ReturnType<typeof runMix>>): void {
  const { run, rows, byId, health, memory, seconds, next } = result;
  for (const row of rows) {
    const name = byId.get(row.source_id)!;
    console.log(`${name}: ${row.status} ${row.error_class ?? ""} ${row.error_message ?? ""}`);
    if (name.startsWith("healthy")) {
      assert.equal(row.status, "succeeded", `${name}: ${row.error_message}`);
    } else {
      assert.notEqual(row.error_class, "internal", `${name}: ${row.error_message}`);
      assert.ok(["succeeded", "failed"].includes(row.status), `${name}: ${row.status}`);
    }
  }
  assert.equal(rows.length, byId.size);
  assert.equal(run.status, "partial");
  const slowest = Math.max(...health.map((h) => h.ms));
  console.log(
    `run took ${seconds.toFixed(1)} s; /api/health answered ${health.length} times, ` +
      `slowest ${Math.round(slowest)} ms`,
  );
  assert.ok(health.length > 0 && health.every((h) => h.status === 200), JSON.stringify(health));
  for (const { service, before, after } of memory) {
    const growthKb = after.hwmKb - before.rssKb;
    console.log(
      `${service}: RSS ${Math.round(before.rssKb / 1024)} MB before, peak ${
        Math.round(after.hwmKb / 1024)
      } MB (+${Math.round(growthKb / 1024)} MB)`,
    );
    assert.ok(growthKb <= GROWTH_BUDGET_KB, `${service} grew by ${growthKb} kB`);
  }
  assert.equal(next.status, "succeeded");
}

Deno.test("a run of hostile pages beside healthy ones: healthy succeed, hostile are classified, workers stay bounded", async () => {
  check(await runMix(false));
});

Deno.test({
  name: "the same with deeply nested HTML (400 KB, 40,000 levels)",
  // Failed before h15a's depth-safe HTML paths: the streaming extractor was quadratic in
  // depth (~15 s of CPU holding the worker) and the cheerio path overflowed the stack.
  async fn() {
    check(await runMix(true));
  },
});
