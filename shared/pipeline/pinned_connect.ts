/**
 * HTTP(S) requests that connect to an address chosen by the caller (the one the SSRF guard
 * checked), never to what a second DNS lookup says: a name that answers a public address
 * to the check and 127.0.0.1 to the connection (DNS rebinding) reaches the public one.
 *
 * Deno's `fetch` resolves names itself; `Deno.createHttpClient`'s `tcp` transport sends
 * plain HTTP even for `https:` URLs (Deno 2.9.6: "invalid HTTP version parsed" from a TLS
 * server); and node:http's `lookup` is "Not implemented" in Deno 2.1.4, the Deno the hosted
 * edge runtime embeds. So this opens the socket itself — `Deno.connect` to the address, then
 * `Deno.startTls` with the URL's name (SNI and the certificate check stay the name's), the
 * APIs Postgres clients use in edge functions — writes one HTTP/1.1 request
 * (`Connection: close`) and reads the answer with `http-parser-js` (the HTTP parser
 * Node-compat layers and websocket-driver use: chunked and close-delimited bodies, a
 * header size limit). The body is read from the socket only as fast as it is read
 * (no decoding here: Content-Encoding is the fetcher's). Redirects are not followed (the
 * fetcher checks and pins every hop itself); no connection is pooled.
 * @module
 */
import { Buffer } from "node:buffer";
import { HTTPParser } from "http-parser-js";
import { PipelineError } from "./errors.ts";
import { untilAborted } from "./io_deadline.ts";

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
const READ_BYTES = 16 * 1024;
const encoder = new TextEncoder();

interface _Head {
  statusCode: number;
  statusMessage: string;
  headers: string[];
}

/**
 * The real {@link PinnedConnect}.
 * @example
 * const response = await pinnedConnect(new URL("https://www.gov.uk/x"), { method: "GET", headers: {} }, "151.101.0.144");
 */
export const pinnedConnect: PinnedConnect = async (url, request, address) => {
  const signal = request.signal;
  signal?.throwIfAborted();
  const https = url.protocol === "https:";
  const port = Number(url.port || (https ? 443 : 80));
  let conn: Deno.Conn | null = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn?.close();
    } catch {
      // already closed by the peer: nothing left to release
    }
  };
  const onAbort = () => close();
  signal?.addEventListener("abort", onAbort, { once: true });
  /** Closes the connection and stops listening for the abort: the request is over. */
  const done = () => {
    close();
    signal?.removeEventListener("abort", onAbort);
  };
  const parser = new HTTPParser(HTTPParser.RESPONSE);
  let head: _Head | null = null;
  let complete = false;
  let pending: Uint8Array[] = [];
  parser[HTTPParser.kOnHeadersComplete] = (info: _Head) => {
    head = info;
  };
  parser[HTTPParser.kOnBody] = (chunk: Uint8Array, offset: number, length: number) => {
    pending.push(chunk.slice(offset, offset + length));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    complete = true;
  };
  const buffer = new Uint8Array(READ_BYTES);
  /** Reads once from the socket into the parser; false at the end of the stream. */
  const feed = async (): Promise<boolean> => {
    const n = await conn!.read(buffer);
    if (n === null) {
      // End of stream: a close-delimited body is complete now; anything cut short is
      // reported by the caller as a closed connection (finish()'s error says the same).
      parser.finish();
      return false;
    }
    const result = parser.execute(Buffer.from(buffer.buffer, 0, n));
    if (result instanceof Error) throw _parseError(url, result);
    return true;
  };
  try {
    conn = await untilAborted(Deno.connect({ hostname: address, port }), signal, (c) => c.close());
    if (signal?.aborted) close();
    if (https) conn = await Deno.startTls(conn as Deno.TcpConn, { hostname: url.hostname });
    await _writeAll(conn, _requestBytes(url, request));
    while (head === null) {
      if (!(await feed())) {
        throw new PipelineError(
          "connect",
          `connection closed before the response from ${url.host}`,
        );
      }
    }
  } catch (error) {
    done();
    throw signal?.aborted ? signal.reason : error;
  }
  const { statusCode: status, statusMessage, headers: raw } = head as _Head;
  if (status < 200 || status > 599) {
    done();
    throw new PipelineError("parse", `invalid HTTP status ${status} from ${url.host}`);
  }
  const headers = new Headers();
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  } catch (error) {
    done();
    throw new PipelineError("parse", `invalid HTTP header from ${url.host}`, { cause: error });
  }
  if (NULL_BODY.has(status) || request.method === "HEAD") {
    done();
    return new Response(null, { status, statusText: statusMessage ?? "", headers });
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (pending.length === 0 && !complete) {
          if (!(await feed())) break;
        }
      } catch (error) {
        done();
        controller.error(signal?.aborted ? signal.reason : error);
        return;
      }
      const chunks = pending;
      pending = [];
      for (const chunk of chunks) controller.enqueue(chunk);
      if (complete && pending.length === 0) {
        done();
        controller.close();
      } else if (chunks.length === 0) {
        done();
        controller.error(
          new PipelineError("connect", `connection closed before the body from ${url.host} ended`),
        );
      }
    },
    cancel() {
      done();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status, statusText: statusMessage ?? "", headers });
};

/** The request head (and body) as bytes; one request per connection. */
function _requestBytes(url: URL, request: PinnedRequest): Uint8Array {
  const body = request.body ?? null;
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const lines = [`${request.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  const headers = new Headers(request.headers); // refuses CR/LF in names and values
  headers.delete("host");
  headers.delete("connection");
  headers.delete("content-length");
  headers.forEach((value, key) => lines.push(`${key}: ${value}`));
  lines.push("connection: close");
  if (bytes !== null) lines.push(`content-length: ${bytes.byteLength}`);
  const headBytes = encoder.encode(`${lines.join("\r\n")}\r\n\r\n`);
  if (bytes === null) return headBytes;
  const out = new Uint8Array(headBytes.byteLength + bytes.byteLength);
  out.set(headBytes);
  out.set(bytes, headBytes.byteLength);
  return out;
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

function _parseError(url: URL, error: Error): PipelineError {
  return new PipelineError("parse", `invalid HTTP response from ${url.host}: ${error.message}`, {
    cause: error,
  });
}
