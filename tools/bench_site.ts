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

const [portArg, latencyArg] = import.meta.main ? Deno.args : [];
const port = Number(portArg ?? 54350);
const latencyMs = Number(latencyArg ?? 100);

const WORDS = (
  "applicant visa permit residence employer sponsor salary threshold document passport " +
  "biometric appointment decision appeal refusal condition dependant partner child study " +
  "course licence register notify change address period days months entry border officer " +
  "evidence fund maintenance insurance healthcare surcharge fee payment refund exemption"
).split(" ");

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const edits = new Map<number, number>(); // page → edit round applied
const bodies = new Map<number, string>();
let requests = 0;

function mainContent(i: number): string {
  const cached = bodies.get(i);
  if (cached) return cached;
  const r = rng(i + 1);
  const parts: string[] = [`<h1>Policy ${i}: rules for applicants</h1>`];
  let size = 0;
  let section = 1;
  while (size < 36_000) {
    parts.push(`<h2>Section ${section++}</h2>`);
    const paras = 3 + Math.floor(r() * 3);
    for (let p = 0; p < paras; p++) {
      const n = 40 + Math.floor(r() * 40);
      const words = Array.from(
        { length: n },
        () => WORDS[Math.floor(r() * WORDS.length)],
      );
      const text = `${words.join(" ")}.`;
      parts.push(`<p>${text}</p>`);
      size += text.length + 7;
    }
    parts.push(
      `<ul><li>Rule ${section}.1 applies.</li><li>Rule ${section}.2 applies.</li></ul>`,
    );
  }
  const html = parts.join("\n");
  bodies.set(i, html);
  return html;
}

function page(i: number): string {
  let main = mainContent(i);
  const round = edits.get(i);
  if (round !== undefined) {
    main = main.replace("applies.", `applies (amended in round ${round}).`);
  }
  const token = crypto.randomUUID();
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Policy ${i}</title>
<script>window.__state={"id":"${token}","t":${Date.now()}};</script>
<style>body{font-family:sans-serif}</style></head><body>
<header><nav><a href="/">Home</a> <a href="/p/${
    (i + 1) % 1000
  }?sid=${token}">Next</a></nav></header>
<main>
${main}
</main>
<footer>Generated ${new Date().toISOString()} · request ${token}</footer>
</body></html>`;
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
