/**
 * The browser fetcher against the local stack's real headless Chromium (PORTS.browser):
 * each way a rendered page can go wrong ends in its class, within its bound. The fixture
 * site runs in this test process on 127.0.0.1; loopback is allowed as on the stack.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { defaultResolveHost } from "../../../shared/pipeline/address_guard.ts";
import {
  type BrowserConfig,
  browserSeam,
  fetchRendered,
} from "../../../shared/pipeline/browser_fetcher.ts";
import type { FetcherConfig } from "../../../shared/pipeline/fetcher.ts";
import { BROWSER_ENDPOINT } from "../../../supabase/local/ports.ts";
import type { ErrorClass } from "../../../shared/types.ts";
import { eventually } from "../_stack.ts";
import { pipelineFailure } from "../../unit/pipeline/_helpers.ts";

const logs: string[] = [];
const logger = {
  debug() {},
  info: (m: string, p?: Record<string, unknown>) => logs.push(`${m} ${JSON.stringify(p)}`),
  warn: (m: string, p?: Record<string, unknown>) => logs.push(`${m} ${JSON.stringify(p)}`),
  error() {},
};

function config(overrides: Partial<FetcherConfig & BrowserConfig> = {}) {
  return {
    ...DEFAULT_CONFIG,
    FETCH_ALLOW_LOOPBACK: true,
    BROWSER_WS_ENDPOINT: BROWSER_ENDPOINT,
    ...overrides,
  };
}

const html = (body: string) =>
  new Response(`<!doctype html><html><head><title>t</title></head><body>${body}</body></html>`, {
    headers: { "content-type": "text/html; charset=utf-8" },
  });

function startSite() {
  const held: Array<() => void> = [];
  let hops = 0;
  let upgrades = 0;
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (req): Response | Promise<Response> => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/ok":
        return html(
          "<main><p id=p>static</p></main><script>p.textContent='Rendered text'</script>",
        );
      case "/huge":
        // 3 MB written by the script: over a 1 MB cap only once rendered.
        return html(
          "<main id=m></main><script>m.textContent='policy '.repeat(3*1024*1024/7)</script>",
        );
      case "/never-loads":
        // The load event waits for this script, which never comes.
        return html('<main>Waiting</main><script src="/hang.js"></script>');
      case "/hang.js":
        return new Promise<Response>((resolve) =>
          held.push(() => resolve(new Response("", { status: 503 })))
        );
      case "/polls":
        return html(
          "<main><p id=p>Polling page</p></main><script>setInterval(()=>fetch('/tick'),100)</script>",
        );
      case "/tick":
        return new Response("ok");
      case "/gone":
        return new Response("gone", { status: 410, statusText: "Gone" });
      case "/pdf":
        return new Response("%PDF-1.4\n%%EOF", { headers: { "content-type": "application/pdf" } });
      case "/loop":
        hops++;
        return new Response(null, { status: 302, headers: { location: `/loop?n=${hops}` } });
      case "/ws":
        upgrades++;
        return Deno.upgradeWebSocket(req).response;
      case "/socket-page":
        // Tries a WebSocket from the page and from a fresh frame (a way around a patched global).
        return html(`<main><p id=p>no socket</p></main><script>
          let W = window.WebSocket;
          if (!W) { const f = document.createElement('iframe'); document.body.appendChild(f); W = f.contentWindow.WebSocket; }
          if (W) { const s = new W('ws://' + location.host + '/ws'); s.onopen = () => p.textContent = 'SOCKET OPEN'; }
        </script>`);
      case "/metadata-frame":
        return html(
          '<main><p>Framed</p><iframe src="http://169.254.169.254/latest/meta-data/"></iframe></main>',
        );
      default:
        return new Response("not found", { status: 404 });
    }
  });
  return {
    url: (p: string) => `http://127.0.0.1:${server.addr.port}${p}`,
    upgrades: () => upgrades,
    async close() {
      for (const release of held) release();
      await server.shutdown();
    },
  };
}

async function render(path: string, site: ReturnType<typeof startSite>, c = config()) {
  return await fetchRendered({ url: site.url(path) }, {
    browser: browserSeam(c, { fetch }),
    config: c,
    logger,
    clock: () => new Date(),
    resolveHost: defaultResolveHost(),
  });
}

Deno.test("browser fetcher on the stack's Chromium", async (t) => {
  const site = startSite();
  try {
    await t.step("renders script-written text as UTF-8 HTML", async () => {
      const doc = await render("/ok", site);
      assert.equal(doc.status, 200);
      assert.equal(doc.contentType, "text/html; charset=utf-8");
      assert.match(new TextDecoder().decode(doc.body), /<p id="p">Rendered text<\/p>/);
    });
    // Failures, each with its class and message: [step, path, config, class, message].
    const failures: Array<
      [string, string, Partial<FetcherConfig & BrowserConfig>, ErrorClass, RegExp]
    > = [
      [
        "rendered HTML over FETCH_MAX_BYTES is too_large",
        "/huge",
        { FETCH_MAX_BYTES: 1024 * 1024 },
        "too_large",
        /^rendered page of \d+ bytes exceeds the cap of 1048576 bytes$/,
      ],
      [
        "a page that never finishes loading is a timeout",
        "/never-loads",
        { BROWSER_NAVIGATION_TIMEOUT_MS: 1_500 },
        "timeout",
        /^timed out after 1500 ms loading http:\/\/127\.0\.0\.1:\d+\/never-loads in the browser$/,
      ],
      [
        "HTTP 410 is http_4xx",
        "/gone",
        {},
        "http_4xx",
        /^HTTP 410 Gone from http:\/\/127\.0\.0\.1:\d+\/gone$/,
      ],
      [
        "a PDF is unsupported_content in browser mode",
        "/pdf",
        {},
        "unsupported_content",
        /use render 'static'/,
      ],
      [
        "a redirect loop is too_many_redirects",
        "/loop",
        { FETCH_MAX_REDIRECTS: 3 },
        "too_many_redirects",
        /^more than 3 redirects \(last to http:\/\/127\.0\.0\.1:\d+\/loop\)$/,
      ],
    ];
    for (const [name, path, overrides, errorClass, message] of failures) {
      await t.step(name, async () => {
        const error = await pipelineFailure(render(path, site, config(overrides)), errorClass);
        assert.match(error.message, message);
      });
    }
    await t.step("a page that never goes quiet is read after the settle time", async () => {
      const doc = await render("/polls", site, config({ BROWSER_SETTLE_MS: 800 }));
      assert.match(new TextDecoder().decode(doc.body), /Polling page/);
    });
    await t.step("page scripts get no WebSocket (interception cannot see sockets)", async () => {
      const doc = await render("/socket-page", site, config({ BROWSER_SETTLE_MS: 800 }));
      assert.match(new TextDecoder().decode(doc.body), /<p id="p">no socket<\/p>/);
      assert.equal(site.upgrades(), 0);
    });
    await t.step("a connection that goes without closing its context leaves no page", async () => {
      const pages = async () =>
        (await (await fetch(`${BROWSER_ENDPOINT}/json/list`)).json() as Array<{ url: string }>)
          .filter((target) => target.url === site.url("/ok")).length;
      const lifetime = new AbortController();
      const browser = await browserSeam(config(), { fetch })!.connect(lifetime.signal);
      const page = await (await browser.createBrowserContext()).newPage();
      await page.goto(site.url("/ok"));
      assert.equal(await pages(), 1);
      lifetime.abort(); // the socket closes; context.close() is never called
      await eventually(
        "the browser disposing of the context",
        async () => (await pages()) === 0 ? true : undefined,
      );
    });
    await t.step("a frame on the metadata address is refused, the page is still read", async () => {
      logs.length = 0;
      const doc = await render("/metadata-frame", site);
      assert.match(new TextDecoder().decode(doc.body), /Framed/);
      assert.ok(
        logs.some((l) => /refused 169\.254\.169\.254: metadata address not allowed/.test(l)),
        logs.join("\n"),
      );
    });
  } finally {
    await site.close();
  }
});
