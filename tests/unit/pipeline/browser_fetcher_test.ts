/**
 * Browser fetcher failures that need no browser: no endpoint, an endpoint nobody listens
 * on, an endpoint that accepts the WebSocket and never answers, a discovery URL that never
 * answers; each is class `browser`, bounded by BROWSER_CONNECT_TIMEOUT_MS, never leaks the
 * endpoint's token, and never holds up a static fetch. (Real-Chromium cases:
 * tests/integration/pipeline/browser_fetcher_test.ts.)
 */
import assert from "node:assert/strict";
import {
  browserSeam,
  fetchRendered,
  renderedFetch,
} from "../../../shared/pipeline/browser_fetcher.ts";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { fetchDocument } from "../../../shared/pipeline/fetcher.ts";
import { pipelineFailure, testConfig } from "./_helpers.ts";

const logger = { debug() {}, info() {}, warn() {}, error() {} };
const clock = () => new Date();

/** A page server plus a CDP impostor: WebSocket upgrades accepted, messages ignored. */
function startServers() {
  const sockets: WebSocket[] = [];
  const held: Array<(r: Response) => void> = [];
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (req): Response | Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/devtools/")) {
      const { socket, response } = Deno.upgradeWebSocket(req);
      sockets.push(socket); // accepted, never answered
      return response;
    }
    if (path === "/json/version") {
      return new Promise<Response>((resolve) => held.push(resolve)); // answers only at close
    }
    return new Response("<html><body><main><p>Static policy text</p></main></body></html>", {
      headers: { "content-type": "text/html" },
    });
  });
  const port = server.addr.port;
  return {
    port,
    /** The CDP endpoint that accepts and never answers. */
    hung: `ws://127.0.0.1:${port}/devtools/browser/hung`,
    /** A static policy page. */
    policy: `http://127.0.0.1:${port}/policy`,
    async close() {
      for (const s of sockets) s.close();
      for (const answer of held) answer(new Response("closing", { status: 503 }));
      await server.shutdown();
    },
  };
}

/** Runs `fn` with {@link startServers}' servers, closing them after. */
async function withServers(
  fn: (servers: ReturnType<typeof startServers>) => Promise<void>,
): Promise<void> {
  const servers = startServers();
  try {
    await fn(servers);
  } finally {
    await servers.close();
  }
}

/** A port with nobody listening. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("browser source without BROWSER_WS_ENDPOINT fails as browser", async () => {
  const config = testConfig();
  assert.equal(browserSeam(config, { fetch }), undefined);
  const error = await pipelineFailure(
    fetchRendered({ url: "http://127.0.0.1:9/policy" }, { config, logger, clock }),
    "browser",
  );
  assert.equal(
    error.message,
    "render mode 'browser' needs a browser: BROWSER_WS_ENDPOINT is not set",
  );
});

Deno.test("browser source to a refused address is blocked before any browser is used", async () => {
  const config = testConfig({
    BROWSER_WS_ENDPOINT: `ws://127.0.0.1:${closedPort()}/devtools/browser/x`,
  });
  let connects = 0;
  const seam = browserSeam(config, { fetch })!;
  const counting = { ...seam, connect: (s: AbortSignal) => (connects++, seam.connect(s)) };
  const error = await pipelineFailure(
    fetchRendered({ url: "http://169.254.169.254/latest/meta-data/" }, {
      browser: counting,
      config,
      logger,
      clock,
    }),
    "blocked",
  );
  assert.equal(error.message, "refused 169.254.169.254: metadata address not allowed");
  assert.equal(connects, 0);
});

Deno.test("browser that is down fails as browser and never shows the endpoint's token", async () => {
  const port = closedPort();
  const config = testConfig({
    BROWSER_WS_ENDPOINT: `ws://127.0.0.1:${port}/devtools/browser/abc?token=s3cr3t-token`,
  });
  const error = await pipelineFailure(
    fetchRendered({ url: "http://127.0.0.1:9/policy" }, {
      browser: browserSeam(config, { fetch }),
      config,
      logger,
      clock,
    }),
    "browser",
  );
  assert.match(
    error.message,
    new RegExp(`^cannot use the browser at ws://127\\.0\\.0\\.1:${port}/devtools/browser/abc: `),
  );
  assert.doesNotMatch(error.message, /s3cr3t/);
});

Deno.test("browser that accepts and never answers fails as browser within the connect timeout", async () => {
  await withServers(async (servers) => {
    for (
      const endpoint of [
        servers.hung,
        `http://127.0.0.1:${servers.port}`, // discovery (/json/version) never answers
      ]
    ) {
      const config = testConfig({ BROWSER_WS_ENDPOINT: endpoint, BROWSER_CONNECT_TIMEOUT_MS: 300 });
      const error = await pipelineFailure(
        fetchRendered({ url: servers.policy }, {
          browser: browserSeam(config, { fetch }),
          config,
          logger,
          clock,
        }),
      );
      assert.equal(error.errorClass, "browser", endpoint);
      assert.equal(
        error.message,
        `cannot use the browser at ${endpoint.replace(/\/$/, "")}${
          endpoint.startsWith("http") ? "/" : ""
        }: no answer within 300 ms`,
      );
    }
  });
});

Deno.test("a hung browser holds up neither static fetches nor the invocation's other work", async () => {
  await withServers(async (servers) => {
    const config = testConfig({
      BROWSER_WS_ENDPOINT: servers.hung,
      BROWSER_CONNECT_TIMEOUT_MS: 2_000,
      BROWSER_CONCURRENCY: 1,
    });
    const browser = browserSeam(config, { fetch });
    const finished: string[] = [];
    const rendered = renderedFetch(browser, config);
    const deps = { fetch, config, logger, clock };
    const url = servers.policy;
    const results = await Promise.allSettled([
      rendered({ url }, deps).finally(() => finished.push("browser 1")),
      rendered({ url }, deps).finally(() => finished.push("browser 2")),
      fetchDocument({ url }, deps).finally(() => finished.push("static")),
    ]);
    assert.equal(finished[0], "static");
    assert.equal(results[2].status, "fulfilled");
    for (const r of results.slice(0, 2)) {
      assert.equal(r.status, "rejected");
      const reason = (r as PromiseRejectedResult).reason;
      assert.ok(reason instanceof PipelineError);
      assert.equal(reason.errorClass, "browser");
      assert.match(reason.message, /: no answer within 2000 ms$/);
    }
  });
});

Deno.test("the outer abort (invocation budget) ends a browser fetch as timeout", async () => {
  await withServers(async (servers) => {
    const config = testConfig({
      BROWSER_WS_ENDPOINT: servers.hung,
      BROWSER_CONNECT_TIMEOUT_MS: 60_000,
    });
    const outer = new AbortController();
    const pending = fetchRendered({ url: servers.policy }, {
      browser: browserSeam(config, { fetch }),
      config,
      logger,
      clock,
      signal: outer.signal,
    });
    setTimeout(() => outer.abort(new Error("invocation budget used up")), 100);
    const error = await pipelineFailure(pending, "timeout");
    assert.equal(error.message, "aborted: invocation budget used up");
  });
});
