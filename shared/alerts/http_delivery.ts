/**
 * Sends one channel request with a timeout and classifies the answer: 2xx is success;
 * 4xx other than 408/429 (and the channel's own exceptions) is permanent; anything else
 * (5xx, 3xx, timeouts, connection errors) is worth retrying.
 * @module
 */
import {
  type AddressPolicy,
  checkUrl,
  classifyAddress,
  type ResolveHost,
} from "../pipeline/address_guard.ts";
import { PipelineError } from "../pipeline/errors.ts";
import type { PinnedConnect } from "../pipeline/pinned_connect.ts";
import type { FetchFn } from "../types.ts";
import { parseRetryAfter } from "../backoff.ts";
import type { HttpDelivery } from "./channels/channel.ts";
import { truncateText } from "./truncate.ts";
import { errorMessage } from "../errors.ts";

/** Result of {@link sendDelivery}. */
export interface DeliveryResult {
  ok: boolean;
  /** True when retrying cannot help. */
  permanent: boolean;
  status?: number;
  /** Receiver's `Retry-After`, in ms. */
  retryAfterMs: number | null;
  /** Readable reason of a failure, without the target's path or query (they may be secret). */
  error?: string;
}

/** Options of {@link sendDelivery}. */
export interface SendOptions {
  fetch: FetchFn;
  timeoutMs: number;
  now: Date;
  /** The SSRF guard's policy (the fetcher's: FETCH_ALLOW_LOOPBACK, FETCH_ALLOW_PRIVATE_NETWORKS). */
  policy: AddressPolicy;
  /** Resolver of the guard; without one only IP literals and well-known names are checked. */
  resolveHost?: ResolveHost;
  /** Connects to the checked address (no second lookup); without it, `fetch` is used. */
  connect?: PinnedConnect;
}

const ALWAYS_RETRYABLE = [408, 429];
const ERROR_BODY_CHARS = 200;

/**
 * POSTs the delivery and classifies the outcome. Never throws. The timeout covers the
 * whole exchange, including reading the start of an error body.
 *
 * The target passes the fetcher's SSRF guard first (a refused address is a permanent
 * failure, nothing is sent) and the request goes to the checked address. The start of an
 * error body is kept in the message only when every checked address is public: a reply
 * from an internal address is never stored (`alerts.error`), only its status.
 */
export async function sendDelivery(
  delivery: HttpDelivery,
  options: SendOptions,
): Promise<DeliveryResult> {
  const where = describeTarget(delivery.url);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const url = new URL(delivery.url);
    let checked: string[];
    try {
      checked = await checkUrl(url, { policy: options.policy, resolveHost: options.resolveHost });
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      return {
        ok: false,
        permanent: error.errorClass === "blocked",
        retryAfterMs: null,
        error: `${where}: ${error.message}`,
      };
    }
    const literal = /^\[|^[\d.]+$/.test(url.hostname);
    const pinTo = options.connect && checked.length > 0 && !literal ? checked[0]! : null;
    const publicTarget = checked.length > 0 &&
      checked.every((a) => classifyAddress(a) === "public");
    const init = { method: "POST", headers: delivery.headers, body: delivery.body };
    const response = pinTo
      ? await options.connect!(url, { ...init, signal: controller.signal }, pinTo)
      : await options.fetch(delivery.url, {
        ...init,
        redirect: "manual",
        signal: controller.signal,
      });
    const status = response.status;
    if (status >= 200 && status < 300) {
      await response.body?.cancel();
      return { ok: true, permanent: false, status, retryAfterMs: null };
    }
    const excerpt = publicTarget ? await _readExcerpt(response) : await _discard(response);
    const retryable = [...ALWAYS_RETRYABLE, ...(delivery.retryableStatuses ?? [])];
    const permanent = status >= 400 && status < 500 && !retryable.includes(status);
    return {
      ok: false,
      permanent,
      status,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), options.now),
      error: `HTTP ${status} from ${where}${excerpt ? `: ${excerpt}` : ""}`,
    };
  } catch (error) {
    const message = controller.signal.aborted
      ? `timed out after ${options.timeoutMs} ms`
      : scrubUrls(_describe(error));
    return { ok: false, permanent: false, retryAfterMs: null, error: `${where}: ${message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The origin of a URL, the only part safe to log (Slack webhook paths are secrets). */
export function describeTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "an invalid URL";
  }
}

/** Replaces every URL in a message by its origin (runtime errors quote the full URL). */
export function scrubUrls(message: string): string {
  return message.replace(/\b(https?:\/\/[^\s/?#)'"]+)[^\s)'"]*/gi, "$1/…");
}

async function _discard(response: Response): Promise<string> {
  await response.body?.cancel().catch(() => undefined);
  return "";
}

async function _readExcerpt(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < ERROR_BODY_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    // The excerpt is only for the error message; a body that cannot be cancelled (already
    // errored) has nothing more to release.
    await reader.cancel().catch(() => undefined);
  }
  const oneLine = scrubUrls(text.replace(/\s+/g, " ").trim());
  return truncateText(oneLine, ERROR_BODY_CHARS, { marker: "…" }).text;
}

/** An error's message with its causes ("fetch failed" alone says nothing). */
function _describe(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = errorMessage(e);
    if (message && !parts.includes(message)) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
