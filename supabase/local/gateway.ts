/**
 * The local stand-in for Supabase's API gateway at http://127.0.0.1:54321:
 * `/rest/v1/*` → PostgREST, `/functions/v1/<fn>/*` → the function server (the function
 * sees `/<fn>/*`, as on the edge runtime), `/auth/v1/.well-known/jwks.json` → the
 * project's public signing keys. Streams responses; request bodies to PostgREST up to 8 MB
 * are buffered and sent again when the connection fails, as Kong does (see proxyBuffered).
 *
 * API keys on `/rest/v1`, as Supabase's gateway treats them (self-hosted Supabase's
 * docker/volumes/api/kong-entrypoint.sh writes the same rule for Kong): an Authorization
 * header that is not an `sb_` key passes through (a user's JWT, a legacy key); otherwise an
 * `apikey` equal to the secret key becomes `Authorization: Bearer <short-lived ES256 JWT of
 * role service_role>`, the publishable key one of role `anon`, and a legacy JWT in `apikey`
 * becomes the bearer. An unknown `sb_` key is refused with 401, as is a legacy key while
 * legacy keys are disabled. `/functions/v1` gets the headers unchanged: the function reads
 * its keys itself (@supabase/server; its functions run with `verify_jwt = false`).
 * @module
 */
import { importJWK, SignJWT } from "jose";
import { keyWorld, publishedJwks, readKeys, type StackKeys } from "./keys.ts";
import { PORTS, SUPABASE_URL } from "./ports.ts";
import { errorMessage } from "../../shared/errors.ts";

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

/**
 * Upstream connections are not kept idle for long: PostgREST (warp) closes an idle
 * keep-alive connection on its own clock, and a request the pool sends on a socket that is
 * being closed fails before it reaches PostgREST ("fetch failed": seen under load as a 502
 * to the job's writes). Dropping idle sockets after 2 s makes it rare; the retries below
 * (as Kong's) cover the rest.
 */
const upstreamClient = Deno.createHttpClient({ poolIdleTimeout: 2_000 });

/**
 * Attempts of a buffered request whose connection to PostgREST failed: hosted Kong retries
 * a failed connection to its upstream (the service's `retries`, default 5, i.e. up to 6
 * attempts) and buffers request bodies by default (route `request_buffering`, default true:
 * Kong PR #6057), so a request the socket race lost is sent again. The RPCs sent again are
 * the job's, which are written to be replayed (claims by attempt, snapshots by fetch id).
 */
export const UPSTREAM_ATTEMPTS = 6;
/** Larger (or unknown-length) bodies are streamed once, never buffered here. */
const BUFFER_LIMIT = 8 * 1_048_576;

/** One attempt: the upstream's response, or the connection failure (its message). */
async function _forward(req: Request, upstream: string): Promise<Response | string> {
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
      client: upstreamClient,
    });
    const out = new Headers(res.headers);
    for (const h of HOP_BY_HOP) out.delete(h);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? ` (${errorMessage(e.cause)})` : "";
    return `${errorMessage(e)}${cause}`;
  }
}

function _badGateway(upstream: string, message: string, attempts: number): Response {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  console.error(`gateway: upstream ${new URL(upstream).port} failed${tries}: ${message}`);
  return errorResponse(502, "bad_gateway", "Upstream service unavailable");
}

/** Proxies `req` once, streaming its body (a connection failure is a 502). */
async function proxy(req: Request, upstream: string): Promise<Response> {
  const res = await _forward(req, upstream);
  return typeof res === "string" ? _badGateway(upstream, res, 1) : res;
}

/**
 * Proxies `req` with its body buffered, sending it again on a connection failure (up to
 * {@link UPSTREAM_ATTEMPTS} attempts, at once, as Kong does); a body over 8 MB or of unknown
 * length is streamed once instead.
 */
export async function proxyBuffered(req: Request, upstream: string): Promise<Response> {
  const length = Number(req.headers.get("content-length") ?? (req.body ? NaN : 0));
  if (!(length <= BUFFER_LIMIT)) return await proxy(req, upstream);
  const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
  let failure = "";
  for (let attempt = 1; attempt <= UPSTREAM_ATTEMPTS; attempt++) {
    const res = await _forward(
      new Request(req.url, { method: req.method, headers: req.headers, body }),
      upstream,
    );
    if (typeof res !== "string") {
      if (attempt > 1) {
        console.error(
          `gateway: upstream ${new URL(upstream).port} answered attempt ${attempt} ` +
            `after: ${failure}`,
        );
      }
      return res;
    }
    failure = res;
  }
  return _badGateway(upstream, failure, UPSTREAM_ATTEMPTS);
}

const WORKERS = [PORTS.functions, PORTS.functions2];
let next = 0;

const WORLD = keyWorld();
let keysPromise: Promise<StackKeys> | null = null;
const stackKeys = () => (keysPromise ??= readKeys());

/** Minted role tokens, reused while they have more than 30 s left. */
const minted = new Map<string, { token: string; exp: number }>();
const MINT_TTL_S = 300;

async function roleToken(role: "anon" | "service_role"): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const cached = minted.get(role);
  if (cached && cached.exp - now > 30) return cached.token;
  const keys = await stackKeys();
  const token = await new SignJWT({ iss: `${SUPABASE_URL}/auth/v1`, role })
    .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.signingJwk.kid })
    .setIssuedAt(now)
    .setExpirationTime(now + MINT_TTL_S)
    .sign(await importJWK(keys.signingJwk, "ES256"));
  minted.set(role, { token, exp: now + MINT_TTL_S });
  return token;
}

function _sameKey(a: string, b: string): boolean {
  // Constant time over the longer string's length.
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

/**
 * The Authorization header PostgREST gets for `req`, or a refusal (as hosted answers an
 * unknown or disabled key).
 */
async function restAuthorization(req: Request): Promise<string | null | Response> {
  const authorization = req.headers.get("authorization");
  const apikey = req.headers.get("apikey");
  const keys = await stackKeys();
  const legacyJwt = (v: string) => v.startsWith("ey");
  if (WORLD === "new") {
    for (const v of [apikey, authorization?.replace(/^Bearer\s+/i, "") ?? null]) {
      if (v !== null && (_sameKey(v, keys.anonKey) || _sameKey(v, keys.serviceRoleKey))) {
        return errorResponse(401, "unauthorized", "Legacy API keys are disabled");
      }
    }
  }
  if (authorization !== null && !/^Bearer sb_/i.test(authorization)) return authorization;
  if (apikey === null) return authorization;
  if (apikey.startsWith("sb_")) {
    if (WORLD !== "legacy" && _sameKey(apikey, keys.secretKey)) {
      return `Bearer ${await roleToken("service_role")}`;
    }
    if (WORLD !== "legacy" && _sameKey(apikey, keys.publishableKey)) {
      return `Bearer ${await roleToken("anon")}`;
    }
    return errorResponse(401, "unauthorized", "Invalid API key");
  }
  return legacyJwt(apikey) ? `Bearer ${apikey}` : authorization;
}

/** Routes one request of the gateway. */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/auth/v1/.well-known/jwks.json") {
    const jwks = publishedJwks(await stackKeys(), WORLD);
    return Response.json(jwks, { headers: { "cache-control": "public, max-age=600" } });
  }
  if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
    const rest = path.slice("/rest/v1".length) || "/";
    const authorization = await restAuthorization(req);
    if (authorization instanceof Response) return authorization;
    const headers = new Headers(req.headers);
    if (authorization === null) headers.delete("authorization");
    else headers.set("authorization", authorization);
    const forwarded = new Request(req.url, {
      method: req.method,
      headers,
      body: req.body,
      // @ts-ignore: Deno needs duplex for a streamed request body
      duplex: "half",
    });
    return await proxyBuffered(
      forwarded,
      `http://127.0.0.1:${PORTS.postgrest}${rest}${url.search}`,
    );
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
