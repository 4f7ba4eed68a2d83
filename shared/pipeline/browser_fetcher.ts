/**
 * Browser fetcher: the page of a `render = 'browser'` source is loaded by a real browser over
 * the Chrome DevTools Protocol (puppeteer-core, connected to `BROWSER_WS_ENDPOINT`), its
 * scripts run, and the rendered DOM is handed to the same extraction as a static page.
 *
 * Bounds: connecting and opening a page within `BROWSER_CONNECT_TIMEOUT_MS` (else the
 * browser counts as down: class `browser`), navigation within
 * `BROWSER_NAVIGATION_TIMEOUT_MS` (`timeout`), then at most `BROWSER_SETTLE_MS` waiting for
 * the network to be idle; the rendered HTML passes the same `FETCH_MAX_BYTES` cap, measured
 * inside the page before it is transferred. Pages at once per invocation:
 * `BROWSER_CONCURRENCY`; a static source never waits for a browser one.
 *
 * Network policy: the top-level URL is checked by the SSRF guard before the browser is
 * touched, and every request the page makes (the document, each redirect hop, frames,
 * scripts, XHR/fetch, stylesheets) is intercepted (CDP `Fetch` domain) and checked by the
 * same guard; a refused one is aborted, and a refused top-level hop fails the fetch as
 * `blocked`. WebSocket, WebTransport and WebRTC, which interception does not see, are
 * removed from every frame before the page's scripts run; service workers are bypassed
 * (`setBypassServiceWorker`). Not covered: sockets opened from a (dedicated or shared)
 * worker's own global; the browser resolves names itself, so DNS rebinding between our check
 * and its connection is not caught (as for the static fetcher). Images, media and fonts are
 * not loaded at all (the text does not need them).
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import { errorMessage } from "../errors.ts";
import type { Browser, ConnectionTransport, HTTPRequest, Page } from "puppeteer-core";
import pLimit from "p-limit";
import type { Config } from "../config.ts";
import type { Clock, FetchFn, Logger } from "../types.ts";
import {
  type AddressPolicy,
  addressPolicy,
  checkUrl,
  type ResolveHost,
  sourceUrl,
} from "./address_guard.ts";
import { DeadlineExceeded, PipelineError } from "./errors.ts";
import { untilAborted } from "./io_deadline.ts";
import {
  displayUrl,
  type FetchedDocument,
  type FetcherConfig,
  type FetcherDeps,
  type FetchRequest,
} from "./fetcher.ts";
import type { HostLimiter } from "./host_limiter.ts";

/**
 * {@link fetchRendered} with the signature of `fetchDocument`, for the pipeline's dispatch.
 * Validators are not sent: a browser has no conditional GET of its own.
 */
export function renderedFetch(
  browser: BrowserSeam | undefined,
  config: FetcherConfig & BrowserConfig,
): (request: FetchRequest, deps: FetcherDeps) => Promise<FetchedDocument> {
  return (request, deps) =>
    fetchRendered({ url: request.url }, {
      browser,
      config,
      logger: deps.logger,
      clock: deps.clock,
      limiter: deps.limiter,
      resolveHost: deps.resolveHost,
      signal: deps.signal,
    });
}

/** The slice of {@link Config} the browser fetcher reads (besides {@link FetcherConfig}). */
export type BrowserConfig = Pick<
  Config,
  | "BROWSER_WS_ENDPOINT"
  | "BROWSER_CONNECT_TIMEOUT_MS"
  | "BROWSER_NAVIGATION_TIMEOUT_MS"
  | "BROWSER_SETTLE_MS"
  | "BROWSER_CONCURRENCY"
>;

/**
 * Opens a connection to a browser (the seam: tests and the local stack point it anywhere).
 * `signal` is the connection's lifetime: when it aborts, the connection is closed.
 */
export type ConnectBrowser = (signal: AbortSignal) => Promise<Browser>;

/** The browser a pipeline may use: how to connect, and the pages-at-once limit. */
export interface BrowserSeam {
  /** Opens a connection; rejects when the browser cannot be reached. */
  connect: ConnectBrowser;
  /** Runs `fn` when a page slot is free (at most `BROWSER_CONCURRENCY` at once). */
  slot<T>(fn: () => Promise<T>): Promise<T>;
  /** The endpoint without query or credentials, for messages. */
  endpoint: string;
}

/** Dependencies of {@link fetchRendered}. */
export interface BrowserFetcherDeps {
  /** The browser; absent when `BROWSER_WS_ENDPOINT` is not set. */
  browser?: BrowserSeam;
  config: FetcherConfig & BrowserConfig;
  logger: Logger;
  clock: Clock;
  limiter?: HostLimiter;
  /** Resolver for the SSRF guard (top-level URL, redirects and subrequests). */
  resolveHost?: ResolveHost;
  /** Aborts the fetch from outside (e.g. the invocation's budget ran out). */
  signal?: AbortSignal;
}

const SKIPPED_RESOURCES = new Set(["image", "media", "font"]);
const HTML_TYPES = /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i;
const NET_ERROR = /net::(ERR_[A-Z0-9_]+)/;

/**
 * Run in every frame before the page's scripts: connections that request interception does
 * not see (WebSocket, WebTransport, WebRTC) are not offered to the page at all. Workers have
 * globals of their own that this does not reach.
 */
const NO_SOCKETS_SCRIPT = `(() => {
  for (const name of ["WebSocket", "WebTransport", "RTCPeerConnection", "webkitRTCPeerConnection"]) {
    try {
      Object.defineProperty(globalThis, name, { value: undefined, writable: false, configurable: false });
    } catch { /* not defined in this frame */ }
  }
})()`;

/** The page's UTF-8 size in bytes, computed in the page (nothing large crosses the wire). */
const SIZE_EXPRESSION =
  "(() => { const d = document.documentElement; return d ? new TextEncoder().encode(d.outerHTML).length : 0; })()";

/**
 * The default seam over `BROWSER_WS_ENDPOINT`: `ws(s)://…` is connected as given;
 * `http(s)://host:port` is asked for its `webSocketDebuggerUrl` first (`/json/version`), so
 * a local Chromium restarted with a new browser id is still found. Returns undefined when
 * the endpoint is empty.
 * @example
 * const browser = browserSeam(config, { fetch });
 */
export function browserSeam(
  config: BrowserConfig,
  options: { fetch: FetchFn },
): BrowserSeam | undefined {
  const endpoint = config.BROWSER_WS_ENDPOINT;
  if (endpoint === "") return undefined;
  const limit = pLimit(config.BROWSER_CONCURRENCY);
  const protocolTimeout = config.BROWSER_CONNECT_TIMEOUT_MS +
    config.BROWSER_NAVIGATION_TIMEOUT_MS + config.BROWSER_SETTLE_MS;
  return {
    endpoint: displayUrl(endpoint),
    slot: (fn) => limit(fn),
    connect: async (signal) => {
      let ws = endpoint;
      if (/^https?:/i.test(endpoint)) {
        const res = await options.fetch(new URL("/json/version", endpoint), { signal });
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`HTTP ${res.status} from the browser's /json/version`);
        }
        const info = await res.json() as { webSocketDebuggerUrl?: unknown };
        if (typeof info.webSocketDebuggerUrl !== "string") {
          throw new Error("the browser's /json/version names no webSocketDebuggerUrl");
        }
        ws = info.webSocketDebuggerUrl;
      }
      const { default: puppeteer } = await _loadPuppeteer();
      return await puppeteer.connect({
        transport: await _openTransport(ws, signal),
        protocolTimeout,
        defaultViewport: { width: 1280, height: 1024 },
      });
    },
  };
}

/**
 * puppeteer-core, loaded by the first browser source's connection: most sources are static,
 * and evaluating it cost every worker's boot ~35 ms of CPU (docs/benchmarks.md, "Worker boot
 * and hot path"). A failed load is not remembered, so the next connection tries again (its
 * error fails that source as `browser`, as a browser that cannot be reached does).
 */
const _loadPuppeteer = lazyImport(() => import("puppeteer-core"));

/**
 * A CDP transport over the runtime's own WebSocket (Deno, Supabase's edge runtime), not the
 * `ws` package's Node HTTP upgrade: the browser build of puppeteer-core takes it as is.
 * Closed when `signal` aborts, so a browser that stopped answering leaves no socket open.
 */
async function _openTransport(url: string, signal: AbortSignal): Promise<ConnectionTransport> {
  const socket = new WebSocket(url);
  const close = () => {
    try {
      socket.close();
    } catch { /* already closed */ }
  };
  if (signal.aborted) close();
  else signal.addEventListener("abort", close, { once: true });
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = (event) =>
      reject(new Error((event as ErrorEvent).message || "WebSocket connection failed"));
    socket.onclose = () => reject(new Error("WebSocket closed before it opened"));
  });
  const transport: ConnectionTransport = {
    send: (message) => socket.send(_disposeOnDetach(message)),
    close,
  };
  socket.onmessage = (event) => transport.onmessage?.(String(event.data));
  socket.onerror = null;
  socket.onclose = () => {
    signal.removeEventListener("abort", close);
    transport.onclose?.();
  };
  return transport;
}

/**
 * Loads `url` in the browser and returns the rendered HTML as a fetched document (UTF-8,
 * `text/html`), for {@link extractDocument}. Rejects with a classified
 * {@link PipelineError}: `browser` (no endpoint, unreachable, not answering, crashed),
 * `blocked`/`dns` (SSRF guard), `timeout`, `dns`/`connect`/`tls` (as the browser saw the
 * site), `http_4xx`/`http_5xx`, `too_many_redirects`, `too_large`, `unsupported_content`.
 * @example
 * const doc = await fetchRendered({ url: source.url }, deps);
 */
export async function fetchRendered(
  request: { url: string },
  deps: BrowserFetcherDeps,
): Promise<FetchedDocument> {
  const url = sourceUrl(request.url);
  const policy = addressPolicy(deps.config);
  // Refused before the browser is touched: a blocked source costs no browser time.
  await checkUrl(url, { policy, resolveHost: deps.resolveHost });
  const seam = deps.browser;
  if (!seam) {
    throw new PipelineError(
      "browser",
      "render mode 'browser' needs a browser: BROWSER_WS_ENDPOINT is not set",
    );
  }
  return await seam.slot(() => _render(url, seam, policy, deps));
}

/** What happened to the top-level document while the page loaded. */
interface _MainState {
  error: PipelineError | null;
  requests: number;
  blocked: string[];
}

async function _render(
  url: URL,
  seam: BrowserSeam,
  policy: AddressPolicy,
  deps: BrowserFetcherDeps,
): Promise<FetchedDocument> {
  const { config } = deps;
  const totalMs = config.BROWSER_CONNECT_TIMEOUT_MS + config.BROWSER_NAVIGATION_TIMEOUT_MS +
    config.BROWSER_SETTLE_MS;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DeadlineExceeded(totalMs)), totalMs);
  const signal = deps.signal ? AbortSignal.any([deadline.signal, deps.signal]) : deadline.signal;
  let stage: "connect" | "navigate" | "read" = "connect";
  let browser: Browser | undefined;
  let page: Page | undefined;
  let context: Awaited<ReturnType<Browser["createBrowserContext"]>> | undefined;
  const main: _MainState = { error: null, requests: 0, blocked: [] };
  // The connection's lifetime: ended in `finally`, whatever state the browser is in.
  const session = new AbortController();
  try {
    // Connecting and opening a page: the browser's own health, under its own timeout.
    const connectTimeout = AbortSignal.timeout(config.BROWSER_CONNECT_TIMEOUT_MS);
    const connectSignal = AbortSignal.any([signal, connectTimeout]);
    try {
      browser = await untilAborted(
        seam.connect(AbortSignal.any([session.signal, signal])),
        connectSignal,
      );
      context = await untilAborted(browser.createBrowserContext(), connectSignal);
      page = await untilAborted(context.newPage(), connectSignal);
      await untilAborted(
        Promise.all([
          page.setUserAgent({ userAgent: config.FETCH_USER_AGENT }),
          page.setBypassServiceWorker(true),
          page.setRequestInterception(true),
          page.evaluateOnNewDocument(NO_SOCKETS_SCRIPT),
        ]),
        connectSignal,
      );
    } catch (error) {
      if (deps.signal?.aborted) throw _aborted(deps.signal.reason);
      const detail = connectTimeout.aborted
        ? `no answer within ${config.BROWSER_CONNECT_TIMEOUT_MS} ms`
        : _detail(error);
      throw new PipelineError("browser", `cannot use the browser at ${seam.endpoint}: ${detail}`, {
        cause: error,
      });
    }
    const hosts = new Map<string, Promise<PipelineError | null>>();
    page.on("request", (req) => {
      void _intercept(req, page!, url, policy, deps, hosts, main);
    });

    stage = "navigate";
    const release = deps.limiter ? await deps.limiter.acquire(url.host, signal) : undefined;
    let response;
    try {
      response = await untilAborted(
        page.goto(url.href, {
          waitUntil: "load",
          timeout: config.BROWSER_NAVIGATION_TIMEOUT_MS,
          signal,
        }),
        signal,
      );
    } catch (error) {
      throw main.error ?? _navigationError(error, url, config, signal, deps.signal);
    } finally {
      release?.();
    }
    if (main.error) throw main.error;
    if (!response) {
      throw new PipelineError("browser", `the browser gave no response for ${displayUrl(url)}`);
    }
    const finalUrl = response.url();
    const status = response.status();
    if (status >= 400) {
      const text = response.statusText() ? ` ${response.statusText()}` : "";
      throw new PipelineError(
        status >= 500 ? "http_5xx" : "http_4xx",
        `HTTP ${status}${text} from ${displayUrl(finalUrl)}`,
      );
    }
    const contentType = response.headers()["content-type"] ?? null;
    if (contentType !== null && !HTML_TYPES.test(contentType)) {
      throw new PipelineError(
        "unsupported_content",
        `render mode 'browser' reads HTML pages; ${displayUrl(finalUrl)} is ${
          contentType.split(";")[0]
        } (use render 'static')`,
      );
    }

    // Let scripts finish writing: wait for a quiet network, but never past the settle time
    // (a page that polls forever is read as it is then).
    if (config.BROWSER_SETTLE_MS > 0) {
      await page.waitForNetworkIdle({
        idleTime: Math.min(500, config.BROWSER_SETTLE_MS),
        timeout: config.BROWSER_SETTLE_MS,
        signal,
      }).catch((error) => {
        if (signal.aborted) throw error;
        deps.logger.debug("Page {url} still busy after {settleMs} ms; reading it as it is", {
          url: displayUrl(finalUrl),
          settleMs: config.BROWSER_SETTLE_MS,
        });
      });
    }
    if (main.error) throw main.error;

    stage = "read";
    const size = await untilAborted(page.evaluate(SIZE_EXPRESSION), signal);
    if (typeof size === "number" && size > config.FETCH_MAX_BYTES) {
      throw new PipelineError(
        "too_large",
        `rendered page of ${size} bytes exceeds the cap of ${config.FETCH_MAX_BYTES} bytes`,
      );
    }
    const html = await untilAborted(page.content(), signal);
    const body = new TextEncoder().encode(html);
    if (body.byteLength > config.FETCH_MAX_BYTES) {
      throw new PipelineError(
        "too_large",
        `rendered page of ${body.byteLength} bytes exceeds the cap of ${config.FETCH_MAX_BYTES} bytes`,
      );
    }
    if (main.blocked.length > 0) {
      deps.logger.info("Browser refused {count} subrequests of {url}: {blocked}", {
        url: displayUrl(finalUrl),
        count: main.blocked.length,
        blocked: main.blocked.slice(0, 5).join("; "),
      });
    }
    return {
      url: finalUrl,
      status,
      etag: null,
      lastModified: null,
      requests: main.requests,
      redirects: response.request().redirectChain().length,
      notModified: false,
      contentType: "text/html; charset=utf-8",
      body,
    };
  } catch (thrown) {
    if (thrown instanceof PipelineError) throw thrown;
    if (deps.signal?.aborted) throw _aborted(deps.signal.reason);
    if (thrown instanceof DeadlineExceeded || signal.aborted) {
      // Past the page's total time: a slow site while navigating, a stuck browser otherwise.
      const reason = thrown instanceof DeadlineExceeded ? thrown : signal.reason;
      const message = errorMessage(reason);
      throw stage === "navigate"
        ? new PipelineError("timeout", `${message} loading ${displayUrl(url)} in the browser`)
        : new PipelineError(
          "browser",
          `the browser at ${seam.endpoint} stopped answering: ${message}`,
        );
    }
    throw new PipelineError("browser", `the browser failed (${stage}): ${_detail(thrown)}`, {
      cause: thrown,
    });
  } finally {
    clearTimeout(timer);
    // Never wait long on a browser that stopped answering: close what we can, then go.
    const cleanup = (async () => {
      await context?.close().catch(() => {});
      await browser?.disconnect().catch(() => {});
    })();
    let wait: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([cleanup, new Promise((r) => wait = setTimeout(r, 2_000))]);
    clearTimeout(wait);
    session.abort();
  }
}

/** Checks one request of the page with the SSRF guard; continues or aborts it. */
async function _intercept(
  req: HTTPRequest,
  page: Page,
  topUrl: URL,
  policy: AddressPolicy,
  deps: BrowserFetcherDeps,
  hosts: Map<string, Promise<PipelineError | null>>,
  main: _MainState,
): Promise<void> {
  if (req.isInterceptResolutionHandled()) return;
  const isMain = req.isNavigationRequest() && req.frame() === page.mainFrame();
  try {
    const raw = req.url();
    let target: URL;
    try {
      target = new URL(raw);
    } catch {
      await req.abort("blockedbyclient");
      return;
    }
    if (target.protocol === "data:" || target.protocol === "blob:" || raw === "about:blank") {
      await req.continue();
      return;
    }
    if (!isMain && SKIPPED_RESOURCES.has(req.resourceType())) {
      await req.abort("blockedbyclient");
      return;
    }
    if (isMain) {
      main.requests++;
      const hops = req.redirectChain().length;
      if (hops > deps.config.FETCH_MAX_REDIRECTS) {
        main.error ??= new PipelineError(
          "too_many_redirects",
          `more than ${deps.config.FETCH_MAX_REDIRECTS} redirects (last to ${displayUrl(target)})`,
        );
        await req.abort("blockedbyclient");
        return;
      }
    }
    const key = `${target.protocol}//${target.host}`;
    let verdict = hosts.get(key);
    if (!verdict) {
      verdict = checkUrl(target, { policy, resolveHost: deps.resolveHost }).then(
        () => null,
        (error) =>
          error instanceof PipelineError
            ? error
            : new PipelineError("blocked", `cannot check ${displayUrl(target)}: ${_detail(error)}`),
      );
      hosts.set(key, verdict);
    }
    const refused = await verdict;
    if (refused === null) {
      await req.continue();
      return;
    }
    if (isMain) {
      main.error ??= refused;
      if (target.href !== topUrl.href) {
        deps.logger.warn("Browser redirect of {url} refused: {error}", {
          url: displayUrl(topUrl),
          error: refused.message,
        });
      }
    } else if (main.blocked.length < 50) {
      main.blocked.push(`${displayUrl(target)} (${refused.message})`);
    }
    await req.abort("blockedbyclient");
  } catch (error) {
    // The page went away (closed, navigated) before the request was resolved: nothing to do.
    deps.logger.debug("Browser request interception ended early: {error}", {
      error: _detail(error),
    });
  }
}

/** Classifies a failed `page.goto` by Chromium's net error code or puppeteer's error. */
function _navigationError(
  error: unknown,
  url: URL,
  config: FetcherConfig & BrowserConfig,
  signal: AbortSignal,
  outer: AbortSignal | undefined,
): PipelineError | unknown {
  if (outer?.aborted) return _aborted(outer.reason);
  if (signal.aborted) return signal.reason;
  const message = _detail(error);
  const where = displayUrl(url);
  const code = message.match(NET_ERROR)?.[1];
  if (code) {
    if (code === "ERR_NAME_NOT_RESOLVED" || code === "ERR_NAME_RESOLUTION_FAILED") {
      return new PipelineError("dns", `DNS lookup failed in the browser: ${code} for ${where}`);
    }
    if (/^ERR_(CERT_|SSL_|BAD_SSL)/.test(code)) {
      return new PipelineError("tls", `TLS failed in the browser: ${code} for ${where}`);
    }
    if (code === "ERR_TOO_MANY_REDIRECTS") {
      return new PipelineError("too_many_redirects", `too many redirects from ${where}`);
    }
    if (code === "ERR_TIMED_OUT" || code === "ERR_CONNECTION_TIMED_OUT") {
      return new PipelineError("timeout", `timed out in the browser: ${code} for ${where}`);
    }
    if (code === "ERR_BLOCKED_BY_CLIENT") {
      return new PipelineError("blocked", `refused ${where}`);
    }
    if (code === "ERR_ABORTED") {
      // A download (PDF, attachment) instead of a page, or the page navigated away.
      return new PipelineError(
        "unsupported_content",
        `the browser did not render ${where} as a page (${code}): use render 'static' for documents`,
      );
    }
    if (/^ERR_(CONNECTION|ADDRESS|NETWORK|INTERNET|EMPTY_RESPONSE|SOCKET)/.test(code)) {
      return new PipelineError("connect", `connection failed in the browser: ${code} for ${where}`);
    }
    return new PipelineError("connect", `the browser could not load ${where}: ${code}`);
  }
  if (error instanceof Error && error.name === "TimeoutError" && /navigation/i.test(message)) {
    return new PipelineError(
      "timeout",
      `timed out after ${config.BROWSER_NAVIGATION_TIMEOUT_MS} ms loading ${where} in the browser`,
    );
  }
  return error; // the browser itself (protocol error, target closed): classified by the caller
}

/** The invocation's own abort (budget): not the site's or the browser's fault. */
function _aborted(reason: unknown): PipelineError {
  if (reason instanceof PipelineError) return reason;
  if (reason instanceof DeadlineExceeded) {
    return new PipelineError("timeout", reason.message, { cause: reason });
  }
  return new PipelineError("timeout", `aborted: ${_detail(reason)}`, { cause: reason });
}

/**
 * Browser contexts we create are disposed by the browser when our connection goes, so a
 * fetch whose cleanup could not finish (a browser slow to answer) leaves no page behind.
 * (puppeteer-core does not pass CDP's `disposeOnDetach`; we add it on the way out.)
 */
function _disposeOnDetach(message: string): string {
  if (!message.includes('"Target.createBrowserContext"')) return message;
  const parsed = JSON.parse(message) as { method?: string; params?: Record<string, unknown> };
  if (parsed.method !== "Target.createBrowserContext") return message;
  parsed.params = { ...parsed.params, disposeOnDetach: true };
  return JSON.stringify(parsed);
}

function _detail(error: unknown): string {
  const text = errorMessage(error);
  // Never echo an endpoint's token (wss://…?token=…) or any URL query into a message.
  return text.replace(/(wss?|https?):\/\/[^\s'")]+/gi, (u) => displayUrl(u)).trim().replace(
    /\.+$/,
    "",
  );
}
