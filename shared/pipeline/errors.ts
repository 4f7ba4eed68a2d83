/**
 * Classified pipeline failures: every failure of a fetch ends as one {@link ErrorClass}
 * (stored in `sources.last_error_class`) and a readable detail.
 * @module
 */
import type { ErrorClass } from "../types.ts";

/** A failure of one stage of the pipeline, with its class. */
export class PipelineError extends Error {
  /** Class of the failure, e.g. `timeout`. */
  readonly errorClass: ErrorClass;
  /** Delay the server asked for (Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates a classified failure.
   * @example
   * throw new PipelineError("timeout", "timed out after 30000 ms");
   */
  constructor(
    errorClass: ErrorClass,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "PipelineError";
    this.errorClass = errorClass;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Reason given to an AbortController when the per-source deadline passes. */
export class DeadlineExceeded extends Error {
  /** The deadline that passed, in ms. */
  readonly timeoutMs: number;

  /**
   * Creates the abort reason.
   * @param timeoutMs the deadline that passed
   */
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = "DeadlineExceeded";
    this.timeoutMs = timeoutMs;
  }
}

/** Error classes worth another attempt: the server or the network may do better soon. */
export function isRetryable(error: PipelineError, status?: number): boolean {
  if (error.errorClass === "http_5xx" || error.errorClass === "connect") return true;
  return error.errorClass === "http_4xx" && status === 429;
}

const TLS =
  /certificate|\btls\b|ssl|handshake|UnknownIssuer|CaUsedAsEndEntity|altnames|ERR_TLS|CERT_/i;
const DNS = /dns error|failed to lookup address|name or service not known|no records found/i;
const CONNECT =
  /connect(ion)? (error|refused|reset|closed|aborted)|tcp connect|os error (104|110|111|113|101)|requests to port \d+ are blocked|network is unreachable|broken pipe|connection closed|unexpected eof|error sending request|error reading a body from connection|hyper|socket|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|premature close/i;
// The server sent a Content-Encoding body that does not decompress (a corrupt gzip stream):
// the response is unreadable, which is the site's fault, not ours.
const DECODE =
  /decompression error|error decoding response body|invalid gzip header|corrupt deflate stream/i;

/** Messages of an error and its causes, outermost first. */
function _messages(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current != null && depth < 6; depth++) {
    if (current instanceof Error) {
      out.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      out.push(String(current));
      break;
    }
  }
  return out;
}

/**
 * Turns whatever a `fetch` threw into a {@link PipelineError}: DNS failures, TLS
 * failures, refused or reset connections, the per-source deadline, or `internal` for
 * anything unrecognised (a bug, not the site's fault).
 */
export function classifyFetchError(error: unknown): PipelineError {
  if (error instanceof PipelineError) return error;
  if (error instanceof DeadlineExceeded) {
    return new PipelineError("timeout", error.message, { cause: error });
  }
  const messages = _messages(error);
  const text = messages.join(" | ");
  // The innermost message carries the useful detail ("tcp connect error: Connection refused").
  const detail = (messages[messages.length - 1] ?? "unknown error").replace(/^(Type)?Error: /, "");
  if (error instanceof Error && (error.name === "TimeoutError")) {
    return new PipelineError("timeout", `timed out: ${detail}`, { cause: error });
  }
  if (DNS.test(text)) {
    return new PipelineError("dns", `DNS lookup failed: ${detail}`, { cause: error });
  }
  if (TLS.test(text)) return new PipelineError("tls", `TLS failed: ${detail}`, { cause: error });
  if (DECODE.test(text)) {
    return new PipelineError("parse", `cannot decode the response body: ${detail}`, {
      cause: error,
    });
  }
  if (CONNECT.test(text) || (error instanceof TypeError && /fetch failed/i.test(text))) {
    return new PipelineError("connect", `connection failed: ${detail}`, { cause: error });
  }
  return new PipelineError("internal", `unexpected error: ${detail}`, { cause: error });
}
