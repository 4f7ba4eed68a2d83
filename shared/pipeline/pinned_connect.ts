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
import { Readable } from "node:stream";
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
      else stream = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
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
