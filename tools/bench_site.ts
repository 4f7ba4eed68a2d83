/**
 * The benchmark's fixture site, in its own process so its CPU is not counted as ours:
 * N noisy policy pages of about 40 KB at `/p/<i>`, each answered after a fixed latency,
 * whose inline script and footer timestamp change on every request.
 * `POST /edit?round=<k>` edits 5 % of the pages (those with i % 20 == k % 20: one word
 * each); `GET /stats` returns the request count and the most requests seen in flight to
 * one host (`?reset`: then starts counting that maximum again).
 *
 *   deno run -A tools/bench_site.ts <port> <latency_ms>
 * @module
 */

import { benchSiteContent, benchSitePage } from "../tests/fixtures/pipeline_pages.ts";

const [portArg, latencyArg] = import.meta.main ? Deno.args : [];
const port = Number(portArg ?? 54350);
const latencyMs = Number(latencyArg ?? 100);

const edits = new Map<number, number>(); // page → edit round applied
/**
 * Page contents made so far (deterministic, so any can be made again; making one costs ~1.4
 * ms of the site's CPU, which shares the machine with ours): kept for every page up to
 * 150,000 (~6 GB: bench_run starts the site with an 8 GB heap; 100,000 pages took it past
 * V8's default 4 GB limit at the end of the first N = 100,000 baseline), the oldest dropped
 * beyond.
 */
const bodies = new Map<number, string>();
const BODIES_KEPT = 150_000;
let requests = 0;

function page(i: number): string {
  let content = bodies.get(i);
  if (content === undefined) {
    bodies.set(i, content = benchSiteContent(i));
    if (bodies.size > BODIES_KEPT) bodies.delete(bodies.keys().next().value!);
  }
  const noise = { token: crypto.randomUUID(), at: new Date() };
  return benchSitePage(i, noise, { content, editRound: edits.get(i) });
}

/** Pages are served on HOSTS loopback addresses (127.0.0.1 … 127.0.0.64), as real sources
 * spread over many hosts: the pipeline's per-host politeness limit applies per address. */
export const HOSTS = 64;

/** Requests in flight per host (index 1 … HOSTS), and the most seen since the last reset. */
const inFlight = new Array<number>(HOSTS + 1).fill(0);
let maxInFlight = 0;

const handler = async (req: Request, host: number): Promise<Response> => {
  const url = new URL(req.url);
  if (req.method === "POST" && url.pathname === "/edit") {
    const round = Number(url.searchParams.get("round") ?? "1");
    const n = Number(url.searchParams.get("n") ?? "0");
    let edited = 0;
    for (let i = 0; i < n; i++) {
      if (i % 20 === round % 20) {
        edits.set(i, round);
        edited++;
      }
    }
    return Response.json({ edited });
  }
  if (url.pathname === "/stats") {
    const stats = { requests, max_in_flight_per_host: maxInFlight };
    if (url.searchParams.has("reset")) maxInFlight = 0;
    return Response.json(stats);
  }
  const m = url.pathname.match(/^\/p\/(\d+)$/);
  if (!m) return new Response("not found", { status: 404 });
  requests++;
  maxInFlight = Math.max(maxInFlight, ++inFlight[host]!);
  try {
    await new Promise((r) => setTimeout(r, latencyMs));
  } finally {
    inFlight[host]!--;
  }
  return new Response(page(Number(m[1])), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    },
  });
};
if (import.meta.main) {
  for (let h = 1; h <= HOSTS; h++) {
    Deno.serve({ hostname: `127.0.0.${h}`, port, onListen() {} }, (req) => handler(req, h));
  }
  console.log(`bench site on 127.0.0.1-${HOSTS}:${port}, latency ${latencyMs} ms`);
}
