/**
 * `deno task bench:browser`: what a render = 'browser' source costs on the local stack's
 * Chromium, against the same page fetched statically. A fixture page (a ~40 KB policy whose
 * text a script fetches as JSON and writes) is fetched N times by each path, one at a time
 * and BROWSER_CONCURRENCY at a time; prints wall time per page (median, p95) and Chromium's
 * memory (PSS summed over its process group: idle, peak while rendering, after).
 *
 *   deno task stack:start && deno task bench:browser [N]
 * @module
 */
import { DEFAULT_CONFIG } from "../shared/config.ts";
import { defaultResolveHost } from "../shared/pipeline/address_guard.ts";
import { browserSeam, fetchRendered } from "../shared/pipeline/browser_fetcher.ts";
import { fetchDocument } from "../shared/pipeline/fetcher.ts";
import { BROWSER_ENDPOINT, STATE_DIR } from "../supabase/local/ports.ts";

const N = Number(Deno.args[0] ?? "20");
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const config = {
  ...DEFAULT_CONFIG,
  FETCH_ALLOW_LOOPBACK: true,
  BROWSER_WS_ENDPOINT: BROWSER_ENDPOINT,
};

const items = Array.from(
  { length: 400 },
  (_, i) => `Section ${i + 1}: visitors may stay up to ${90 + (i % 7)} days in any 180-day period.`,
);
const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen() {},
}, (req): Response => {
  if (new URL(req.url).pathname === "/rules.json") return Response.json({ items });
  return new Response(
    `<!doctype html><html><head><title>Rules</title></head><body><nav>Home</nav>
<main><h1>Visa rules</h1><ol id="rules"><li>Loading…</li></ol></main>
<script>fetch('/rules.json').then((r) => r.json()).then((j) => {
  document.getElementById('rules').innerHTML = j.items.map((t) => '<li>' + t + '</li>').join('');
});</script></body></html>`,
    { headers: { "content-type": "text/html; charset=utf-8" } },
  );
});
const url = `http://127.0.0.1:${server.addr.port}/policy`;

/** PSS (kB) of every process in Chromium's process group (the stack's pid file). */
async function chromiumPssKb(): Promise<number> {
  const pgid = Number((await Deno.readTextFile(`${STATE_DIR}/pids/chromium.pid`)).trim());
  let total = 0;
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
      const rollup = await Deno.readTextFile(`/proc/${e.name}/smaps_rollup`);
      total += Number(rollup.match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0);
    } catch { /* the process went away */ }
  }
  return total;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms`;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const browser = browserSeam(config, { fetch })!;
const deps = {
  browser,
  config,
  logger,
  clock: () => new Date(),
  resolveHost: defaultResolveHost(),
};
const render = () => fetchRendered({ url }, deps);
const fetchStatic = () => fetchDocument({ url }, { ...deps, fetch });

const idle = await chromiumPssKb();
let peak = idle;
const sampler = setInterval(() => chromiumPssKb().then((kb) => (peak = Math.max(peak, kb))), 100);
await render(); // warm-up
const sequential: number[] = [];
for (let i = 0; i < N; i++) sequential.push(await timed(render));
const parallelStart = performance.now();
const parallel = await Promise.all(Array.from({ length: N }, () => timed(render)));
const parallelWall = performance.now() - parallelStart;
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 1_000));
const after = await chromiumPssKb();
const statics: number[] = [];
for (let i = 0; i < N; i++) statics.push(await timed(fetchStatic));
await server.shutdown();

console.log(`browser bench: ${N} renders of a script-written ${items.length}-item policy page`);
console.log(`  static fetch          ${stats(statics)}`);
console.log(`  browser, one at a time ${stats(sequential)} (connect + context + load + settle)`);
console.log(
  `  browser, ${config.BROWSER_CONCURRENCY} at a time  ${
    (parallelWall / N).toFixed(0)
  } ms per page of wall time (${stats(parallel)} each, queueing included)`,
);
console.log(
  `  Chromium PSS          idle ${(idle / 1024).toFixed(0)} MB, peak ${
    (peak / 1024).toFixed(0)
  } MB, after ${(after / 1024).toFixed(0)} MB`,
);
