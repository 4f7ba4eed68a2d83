/**
 * HTTP(S) requests that connect to an address chosen by the caller (the one the SSRF guard
 * checked), never to what a second DNS lookup says: a name that answers a public address
 * to the check and 127.0.0.1 to the connection (DNS rebinding) reaches the public one.
 *
 * Deno's `fetch` resolves names itself, and `Deno.createHttpClient`'s `tcp` transport
 * (which pins the socket) sends plain HTTP even for `https:` URLs (tried on Deno 2.9.6:
 * "invalid HTTP version parsed" from a TLS server). So this uses `node:http`/`node:https`
 * with a `lookup` that answers the checked address: the URL, the Host header and the
 * TLS server name (SNI and certificate check) stay the name's. Redirects are not followed
 * (the fetcher checks and pins every hop itself); no connection is pooled.
 * @module
 */
import http from "node:http";
import https from "node:https";
import { PipelineError } from "./errors.ts";

/** What {@link pinnedConnect} sends. */
export interface PinnedRequest {
  method: string;
  headers: Headers | Record<string, string>;
  body?: string | Uint8Array | null;
  signal?: AbortSignal;
}

/** Sends a request to `url` over a connection to `address`; resolves to the response. */
export type PinnedConnect = (
  url: URL,
  request: PinnedRequest,
  address: string,
) => Promise<Response>;

const NULL_BODY = new Set([204, 205, 304]);

/**
 * The real {@link PinnedConnect}.
 * @example
 * const response = await pinnedConnect(new URL("https://www.gov.uk/x"), { method: "GET", headers: {} }, "151.101.0.144");
 */
export const pinnedConnect: PinnedConnect = (url, request, address) => {
  const family = address.includes(":") ? 6 : 4;
  const lookup = (
    _host: string,
    options: { all?: boolean },
    callback: (...args: unknown[]) => void,
  ) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const headers: Record<string, string> = {};
  new Headers(request.headers).forEach((value, key) => (headers[key] = value));
  const body = request.body ?? null;
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  if (bytes !== null) headers["content-length"] = String(bytes.byteLength);
  const mod = url.protocol === "https:" ? https : http;
  return new Promise<Response>((resolve, reject) => {
    if (request.signal?.aborted) return reject(request.signal.reason);
    const req = mod.request(url, {
      method: request.method,
      headers,
      lookup: lookup as never,
      agent: false,
      signal: request.signal,
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) {
        res.destroy();
        return reject(new PipelineError("parse", `invalid HTTP status ${status} from ${url.host}`));
      }
      const responseHeaders = new Headers();
      const raw = res.rawHeaders;
      try {
        for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
      } catch (error) {
        res.destroy();
        return reject(
          new PipelineError("parse", `invalid HTTP header from ${url.host}`, { cause: error }),
        );
      }
      let stream: ReadableStream<Uint8Array> | null = null;
      if (NULL_BODY.has(status) || request.method === "HEAD") res.resume();
      else stream = _bodyStream(res);
      resolve(
        new Response(stream, {
          status,
          statusText: res.statusMessage ?? "",
          headers: responseHeaders,
        }),
      );
    });
    req.on(
      "error",
      (error: Error) => reject(request.signal?.aborted ? request.signal.reason : error),
    );
    if (bytes !== null) req.write(bytes);
    req.end();
  });
};

/**
 * The body of a node:http response as a web stream that reads only as fast as it is read
 * (one chunk ahead) and stops the socket when cancelled. Not `Readable.toWeb`: on Deno
 * 2.1.4 (the hosted edge runtime's) a cancelled `toWeb` stream still receives `data` and
 * throws "The stream controller cannot close or enqueue" as an uncaught error, which ends
 * the worker, and node:http there inflates gzip itself, running ahead of a reader that does
 * not pause it (one gzip bomb: ~190 MB RSS). Chunks are copied so that each holds only its
 * own bytes.
 */
function _bodyStream(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  let closed = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on("data", (chunk: Uint8Array) => {
        if (closed) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) res.pause();
      });
      res.on("end", () => {
        if (closed) return;
        closed = true;
        controller.close();
      });
      res.on("error", (error: Error) => {
        if (closed) return;
        closed = true;
        controller.error(error);
      });
      res.on("aborted", () => {
        if (closed) return;
        closed = true;
        controller.error(new Error("the connection closed before the body ended"));
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      closed = true;
      res.destroy();
    },
  }, { highWaterMark: 1 });
}

/** Whether this runtime's node:http has shown it cannot pin (see {@link requestPinned}). */
let _pinningUnsupported = false;

/**
 * Sends through `connect` pinned to `address`, or through `fallback` (a plain `fetch`, which
 * resolves the name again) where the runtime cannot pin: Deno 2.1.4's node:http — the one
 * the hosted edge runtime embeds — throws "Not implemented: ClientRequest.options.lookup".
 * The first such refusal is logged once per process and every later request goes straight
 * to `fallback`; there the SSRF guard still checks every hop, but DNS rebinding between the
 * check and the connection is not closed (docs/reliability.md, "Network policy").
 * @example
 * const response = await requestPinned(pinnedConnect, () => fetch(url), url, request, address, logger);
 */
export async function requestPinned(
  connect: PinnedConnect,
  fallback: () => Promise<Response>,
  url: URL,
  request: PinnedRequest,
  address: string,
  logger?: { warn(message: string, properties?: Record<string, unknown>): void },
): Promise<Response> {
  if (_pinningUnsupported) return await fallback();
  try {
    return await connect(url, request, address);
  } catch (error) {
    if (!(error instanceof Error) || !UNSUPPORTED.test(error.message)) throw error;
    _pinningUnsupported = true;
    logger?.warn(
      "This runtime cannot pin connections ({reason}); requests resolve names again (DNS rebinding is not closed here)",
      { reason: error.message },
    );
    return await fallback();
  }
}

const UNSUPPORTED = /Not implemented: ClientRequest\.options\.lookup/;
