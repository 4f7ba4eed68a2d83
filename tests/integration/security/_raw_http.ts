/**
 * A bare HTTP/1.1 client over a TCP socket, for the requests `fetch` will not make: paths
 * sent as written (`/runs/../../etc`, not normalised by the client) and bodies that stop
 * short of their declared length, to prove the server answers without reading everything.
 * @module
 */
import { concatBytes } from "../../fixtures/bytes.ts";

/** What came back. */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The body, de-chunked, as text. */
  text: string;
}

/** One raw request. */
export interface RawRequest {
  port: number;
  method: string;
  /** Sent exactly as given (no normalisation, no encoding). */
  target: string;
  headers?: Record<string, string>;
  /**
   * Bytes of body written after the head; the client then stops writing and waits for the
   * answer, whatever `Content-Length` or chunking the headers announced.
   */
  bodyPrefix?: number;
  /** Send `bodyPrefix` as HTTP chunks (set `Transfer-Encoding: chunked` in `headers`). */
  chunked?: boolean;
  /**
   * Give up waiting after this long (the server is waiting for the rest of the body);
   * default 15 s. Not a timing assertion: it turns a hang into a readable failure.
   */
  giveUpMs?: number;
}

const CRLF = "\r\n";

/**
 * Sends `request` and reads one answer. Throws `Cannot read raw answer: …` when the server
 * closes without a complete answer or does not answer within `giveUpMs`.
 * @example
 * const a = await rawRequest({ port: 54321, method: "GET", target: "/functions/v1/api/../../etc" });
 */
export async function rawRequest(request: RawRequest): Promise<RawAnswer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: request.port });
  const encoder = new TextEncoder();
  const headers = { Host: `127.0.0.1:${request.port}`, Connection: "close", ...request.headers };
  const head = `${request.method} ${request.target} HTTP/1.1${CRLF}` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}${CRLF}`).join("") + CRLF;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let gaveUp = false;
  try {
    timer = setTimeout(() => {
      gaveUp = true;
      conn.close();
    }, request.giveUpMs ?? 15_000);
    try {
      await _writeAll(conn, encoder.encode(head));
      await _writeBody(conn, request.bodyPrefix ?? 0, request.chunked ?? false);
    } catch {
      // The server may answer and close before taking everything: read what it said.
    }
    const answer = await _readAnswer(conn);
    if (answer === null) {
      throw new Error(
        gaveUp
          ? `Cannot read raw answer: none within ${request.giveUpMs ?? 15_000} ms`
          : "Cannot read raw answer: connection closed before a complete answer",
      );
    }
    return answer;
  } finally {
    clearTimeout(timer);
    if (!gaveUp) {
      try {
        conn.close();
      } catch { /* closed by the give-up timer or the peer */ }
    }
  }
}

async function _writeBody(conn: Deno.Conn, bytes: number, chunked: boolean): Promise<void> {
  const encoder = new TextEncoder();
  const block = new Uint8Array(64 * 1024).fill(0x20);
  for (let sent = 0; sent < bytes; sent += block.length) {
    const part = block.subarray(0, Math.min(block.length, bytes - sent));
    if (chunked) await _writeAll(conn, encoder.encode(`${part.length.toString(16)}${CRLF}`));
    await _writeAll(conn, part);
    if (chunked) await _writeAll(conn, encoder.encode(CRLF));
  }
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Reads until one complete answer is parsed; null on EOF or a closed socket before that. */
async function _readAnswer(conn: Deno.Conn): Promise<RawAnswer | null> {
  let data = new Uint8Array(0);
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const parsed = _parse(data);
    if (parsed !== undefined) return parsed;
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      n = null; // reset or closed by the give-up timer
    }
    if (n === null) return _parse(data, true) ?? null;
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
  }
}

/** A complete answer from `data`, or undefined while more bytes are needed. */
function _parse(data: Uint8Array, eof = false): RawAnswer | undefined {
  const text = new TextDecoder("latin1").decode(data);
  const end = text.indexOf(CRLF + CRLF);
  if (end < 0) return undefined;
  const [statusLine = "", ...lines] = text.slice(0, end).split(CRLF);
  const status = Number(statusLine.split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  const rest = data.subarray(end + 4);
  let body: Uint8Array | undefined;
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
    body = _dechunk(rest);
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (rest.length >= length) body = rest.subarray(0, length);
  } else if (eof) {
    body = rest;
  }
  if (body === undefined) return undefined;
  return { status, headers, text: new TextDecoder().decode(body) };
}

/** The de-chunked body, or undefined when the last chunk has not arrived yet. */
function _dechunk(data: Uint8Array): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (;;) {
    const lineEnd = _indexOfCrlf(data, off);
    if (lineEnd < 0) return undefined;
    const size = parseInt(new TextDecoder().decode(data.subarray(off, lineEnd)), 16);
    if (Number.isNaN(size)) return undefined;
    off = lineEnd + 2;
    if (size === 0) break;
    if (data.length < off + size + 2) return undefined;
    parts.push(data.subarray(off, off + size));
    off += size + 2;
  }
  return concatBytes(parts);
}

function _indexOfCrlf(data: Uint8Array, from: number): number {
  for (let i = from; i + 1 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10) return i;
  }
  return -1;
}
