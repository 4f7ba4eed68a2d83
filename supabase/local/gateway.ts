/**
 * The local stand-in for Supabase's API gateway (Kong) at http://127.0.0.1:54321:
 * `/rest/v1/*` → PostgREST, `/functions/v1/<fn>/*` → the function server (the function
 * sees `/<fn>/*`, as on the edge runtime), `/auth/v1/.well-known/jwks.json` → the
 * project's public signing keys. Streams bodies both ways.
 * @module
 */
import { readKeys } from "./keys.ts";
import { PORTS } from "./ports.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

async function proxy(req: Request, upstream: string): Promise<Response> {
  const headers = new Headers(req.headers);
  for (const h of HOP_BY_HOP) headers.delete(h);
  headers.set("accept-encoding", "identity");
  headers.set("x-forwarded-host", new URL(req.url).host);
  try {
    const res = await fetch(upstream, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    const out = new Headers(res.headers);
    for (const h of HOP_BY_HOP) out.delete(h);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`gateway: upstream ${new URL(upstream).port} failed: ${message}`);
    return errorResponse(502, "bad_gateway", "Upstream service unavailable");
  }
}

const WORKERS = [PORTS.functions, PORTS.functions2];
let next = 0;

/** Routes one request of the gateway. */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/auth/v1/.well-known/jwks.json") {
    const keys = await readKeys();
    return Response.json(keys.jwks, { headers: { "cache-control": "public, max-age=600" } });
  }
  if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
    const rest = path.slice("/rest/v1".length) || "/";
    return await proxy(req, `http://127.0.0.1:${PORTS.postgrest}${rest}${url.search}`);
  }
  const fn = path.match(/^\/functions\/v1(\/[^/]+(?:\/.*)?)$/);
  if (fn?.[1]) {
    // Round robin over the function workers; a worker that refuses the connection (it
    // died) is skipped while the other is up, as the edge runtime routes around a dead one.
    const first = next++ % WORKERS.length;
    const length = Number(req.headers.get("content-length") ?? (req.body ? NaN : 0));
    if (!(length <= 1_048_576)) {
      // Large or unknown-length bodies are streamed to one worker, never buffered here.
      return await proxy(req, `http://127.0.0.1:${WORKERS[first]}${fn[1]}${url.search}`);
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
    let res: Response | null = null;
    for (let i = 0; i < WORKERS.length; i++) {
      const port = WORKERS[(first + i) % WORKERS.length]!;
      const attempt = new Request(req.url, { method: req.method, headers: req.headers, body });
      res = await proxy(attempt, `http://127.0.0.1:${port}${fn[1]}${url.search}`);
      if (res.status !== 502) return res;
    }
    return res!;
  }
  return errorResponse(404, "not_found", `No route for ${req.method} ${path}`);
}

if (import.meta.main) {
  Deno.serve({ hostname: "127.0.0.1", port: PORTS.gateway }, handle);
}
