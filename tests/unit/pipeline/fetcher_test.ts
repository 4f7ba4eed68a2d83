import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { classifyFetchError } from "../../../shared/pipeline/errors.ts";
import { fetchDocument, type FetcherDeps } from "../../../shared/pipeline/fetcher.ts";
import { HostLimiter } from "../../../shared/pipeline/host_limiter.ts";
import type { ErrorClass } from "../../../shared/types.ts";
import { HUGE_BYTES, withPipelineSite } from "../../fixtures/pipeline_site.ts";
import { startTlsSite } from "../../fixtures/pipeline_tls.ts";
import { pipelineFailure, recordingFetch, recordingSleep, testConfig } from "./_helpers.ts";

function deps(overrides: Partial<Pick<FetcherDeps, "config" | "limiter" | "resolveHost">> = {}) {
  return {
    fetch: recordingFetch(),
    sleep: recordingSleep(),
    logger: captureLogger(),
    config: testConfig(),
    clock: () => new Date(),
    random: () => 0.5,
    ...overrides,
  };
}

/** The classified failure of fetching `url` with `d` (the test fails on any other outcome). */
function fetchFailure(url: string, d: FetcherDeps, errorClass: ErrorClass) {
  return pipelineFailure(fetchDocument({ url }, d), errorClass);
}

Deno.test("fetchDocument() sends a User-Agent naming the monitor and returns the body", async () => {
  await withPipelineSite(async (site) => {
    const out = await fetchDocument({ url: site.url("/text") }, deps());
    assert.equal(out.notModified, false);
    if (out.notModified) return;
    assert.equal(out.status, 200);
    assert.match(new TextDecoder().decode(out.body), /Rule 1/);
    assert.match(out.contentType ?? "", /text\/plain/);
    assert.match(
      site.stats.lastHeaders.get("/text")?.get("user-agent") ?? "",
      /PolicyChangeMonitor/,
    );
    assert.equal(site.stats.lastHeaders.get("/text")?.get("if-none-match"), null);
  });
});

Deno.test("fetchDocument() sends the stored validators and reports a 304 as not modified", async () => {
  await withPipelineSite(async (site) => {
    const first = await fetchDocument({ url: site.url("/etag") }, deps());
    assert.ok(first.etag);
    assert.equal(first.lastModified, "Sat, 28 Nov 2026 02:00:00 GMT");
    const second = await fetchDocument(
      { url: site.url("/etag"), etag: first.etag, lastModified: first.lastModified },
      deps(),
    );
    assert.equal(second.notModified, true);
    assert.equal(second.status, 304);
    const sent = site.stats.lastHeaders.get("/etag");
    assert.equal(sent?.get("if-none-match"), first.etag);
    assert.equal(sent?.get("if-modified-since"), first.lastModified);
  });
});

Deno.test("fetchDocument() follows up to five redirects, relative ones too, and refuses a sixth", async () => {
  await withPipelineSite(async (site) => {
    const five = await fetchDocument({ url: site.url("/redirect/5") }, deps());
    assert.equal(five.redirects, 5);
    assert.equal(five.url, site.url("/etag"));
    const relative = await fetchDocument({ url: site.url("/redirect-relative") }, deps());
    assert.equal(relative.url, site.url("/text"));
    const error = await fetchFailure(site.url("/redirect/6"), deps(), "too_many_redirects");
    assert.match(error.message, /more than 5 redirects/);
    await fetchFailure(site.url("/redirect-loop"), deps(), "too_many_redirects");
    assert.ok((site.stats.requests.get("/redirect-loop") ?? 0) <= 6);
    await fetchFailure(site.url("/redirect-no-location"), deps(), "parse");
  });
});

Deno.test("fetchDocument() blocks a redirect to the cloud metadata address without connecting there", async () => {
  await withPipelineSite(async (site) => {
    const d = deps();
    const error = await fetchFailure(site.url("/redirect-metadata"), d, "blocked");
    assert.match(error.message, /169\.254\.169\.254/);
    assert.deepEqual(d.fetch.urls, [site.url("/redirect-metadata")]);
    const privateHop = deps();
    await fetchFailure(site.url("/redirect-private"), privateHop, "blocked");
    assert.equal(privateHop.fetch.urls.length, 1);
  });
});

Deno.test("fetchDocument() blocks loopback when configuration does not allow it, before any request", async () => {
  await withPipelineSite(async (site) => {
    const d = deps({ config: testConfig({ FETCH_ALLOW_LOOPBACK: false }) });
    await fetchFailure(site.url("/text"), d, "blocked");
    assert.equal(d.fetch.urls.length, 0);
    assert.equal(site.stats.requests.get("/text"), undefined);
  });
});

Deno.test("fetchDocument() classifies 404 as http_4xx without retrying", async () => {
  await withPipelineSite(async (site) => {
    const d = deps();
    const error = await fetchFailure(site.url("/status/404"), d, "http_4xx");
    assert.match(error.message, /^HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/status\/404$/);
    assert.equal(site.stats.requests.get("/status/404"), 1);
  });
});

Deno.test("fetchDocument() retries 5xx with exponential backoff, then classifies it as http_5xx", async () => {
  await withPipelineSite(async (site) => {
    const d = deps({ config: testConfig({ FETCH_RETRIES: 2, FETCH_RETRY_BASE_MS: 400 }) });
    await fetchFailure(site.url("/status/500"), d, "http_5xx");
    assert.equal(site.stats.requests.get("/status/500"), 3);
    assert.deepEqual(d.sleep.waits, [300, 600]); // 400·2^n, half fixed + half · 0.5
    assert.equal(d.logger.records.filter((r) => r.level === "warn").length, 2);
  });
});

Deno.test("fetchDocument() recovers when a flaky server answers on a retry", async () => {
  await withPipelineSite(async (site) => {
    site.state.flakyFailures = 2;
    const out = await fetchDocument({ url: site.url("/flaky") }, deps());
    assert.equal(out.status, 200);
    assert.equal(out.requests, 3);
  });
});

Deno.test("fetchDocument() honours Retry-After on 429 and gives up when it asks too much", async () => {
  await withPipelineSite(async (site) => {
    site.state.retryAfter = "2";
    const d = deps({ config: testConfig({ FETCH_RETRIES: 1 }) });
    await fetchFailure(site.url("/busy"), d, "http_4xx");
    assert.deepEqual(d.sleep.waits, [2_000]);
    assert.equal(site.stats.requests.get("/busy"), 2);

    site.state.retryAfter = "3600";
    const patient = deps({ config: testConfig({ FETCH_RETRIES: 1 }) });
    const error = await fetchFailure(site.url("/busy"), patient, "http_4xx");
    assert.match(error.message, /asked to retry after 3600000 ms/);
    assert.deepEqual(patient.sleep.waits, []);
  });
});

Deno.test("fetchDocument() times out a server that never answers", async () => {
  await withPipelineSite(async (site) => {
    const error = await pipelineFailure(
      fetchDocument(
        { url: site.url("/hang") },
        deps({ config: testConfig({ FETCH_TIMEOUT_MS: 300 }) }),
      ),
      "timeout",
    );
    assert.equal(error.message, "timed out after 300 ms");
  });
});

Deno.test("fetchDocument() times out a body that drips slowly, even though bytes keep coming", async () => {
  await withPipelineSite(async (site) => {
    await pipelineFailure(
      fetchDocument(
        { url: site.url("/drip") },
        deps({ config: testConfig({ FETCH_TIMEOUT_MS: 400 }) }),
      ),
      "timeout",
    );
    const sent = site.stats.bytesSent.get("/drip") ?? 0;
    assert.ok(sent > 0 && sent < 1_000_000, `sent ${sent} bytes`);
  });
});

Deno.test("fetchDocument() ends when the caller's signal aborts, with its reason, and leaves no listener", async () => {
  await withPipelineSite(async (site) => {
    const outer = new AbortController();
    let listeners = 0;
    const add = outer.signal.addEventListener.bind(outer.signal);
    const remove = outer.signal.removeEventListener.bind(outer.signal);
    outer.signal.addEventListener = ((...a: Parameters<typeof add>) => {
      listeners++;
      add(...a);
    }) as typeof add;
    outer.signal.removeEventListener = ((...a: Parameters<typeof remove>) => {
      listeners--;
      remove(...a);
    }) as typeof remove;
    const d = { ...deps(), signal: outer.signal };
    const ok = await fetchDocument({ url: site.url("/text") }, d);
    assert.equal(ok.status, 200);
    assert.equal(listeners, 0); // a finished fetch does not keep the caller's signal busy
    const pending = fetchDocument({ url: site.url("/drip") }, d);
    setTimeout(() => outer.abort(new DOMException("invocation budget spent", "TimeoutError")), 200);
    const error = await pipelineFailure(pending, "timeout");
    assert.match(error.message, /invocation budget spent/);
    // Already aborted: nothing is fetched.
    assert.equal(site.stats.requests.get("/text"), 1);
    await pipelineFailure(fetchDocument({ url: site.url("/text") }, d), "timeout");
    assert.equal(site.stats.requests.get("/text"), 1);
  });
});

Deno.test("fetchDocument() cuts a 50 MB body at the 10 MB cap without downloading the rest", async () => {
  await withPipelineSite(async (site) => {
    const config = testConfig();
    assert.equal(config.FETCH_MAX_BYTES, 10 * 1024 * 1024);
    const error = await fetchFailure(site.url("/huge"), deps({ config }), "too_large");
    assert.match(error.message, /exceeds the cap of 10485760 bytes/);
    // Give the server a moment to notice the cancel, then prove it stopped sending.
    await new Promise((r) => setTimeout(r, 50));
    const sent = site.stats.bytesSent.get("/huge") ?? 0;
    assert.ok(sent > config.FETCH_MAX_BYTES && sent < HUGE_BYTES / 2, `server sent ${sent} bytes`);
  });
});

Deno.test("fetchDocument() refuses a declared Content-Length above the cap without reading the body", async () => {
  await withPipelineSite(async (site) => {
    const error = await fetchFailure(site.url("/huge-declared"), deps(), "too_large");
    assert.match(error.message, /body of 52428800 bytes exceeds the cap/);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok((site.stats.bytesSent.get("/huge-declared") ?? 0) < HUGE_BYTES / 2);
  });
});

Deno.test("fetchDocument() classifies a refused connection as connect", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const d = deps({ config: testConfig({ FETCH_RETRIES: 1 }) });
  const error = await pipelineFailure(
    fetchDocument({ url: `http://127.0.0.1:${port}/` }, d),
    "connect",
  );
  assert.match(error.message, /connection failed: .*refused/i);
  assert.equal(d.fetch.urls.length, 2); // connect failures are retried
});

Deno.test("fetchDocument() classifies an untrusted certificate as tls", async () => {
  const site = await startTlsSite();
  try {
    const error = await fetchFailure(site.url("/"), deps(), "tls");
    assert.match(error.message, /certificate/i);
  } finally {
    await site.close();
  }
});

Deno.test("fetchDocument() classifies a name that cannot resolve as dns, without a request", async () => {
  const invalid = deps();
  await fetchFailure("http://rules.invalid/fees", invalid, "dns");
  assert.equal(invalid.fetch.urls.length, 0);
  const nxdomain = deps({
    resolveHost: () =>
      Promise.reject(
        new Deno.errors.NotFound("no records found for Query { name: rules.example. }"),
      ),
  });
  const error = await fetchFailure("https://rules.example/fees", nxdomain, "dns");
  assert.match(error.message, /rules\.example/);
  assert.equal(nxdomain.fetch.urls.length, 0);
});

Deno.test("fetchDocument() takes a slot of the host limiter per request and gives it back", async () => {
  await withPipelineSite(async (site) => {
    const limiter = new HostLimiter({ perHost: 1, politenessDelayMs: 0 });
    const results = await Promise.all([
      fetchDocument({ url: site.url("/text") }, deps({ limiter })),
      fetchDocument({ url: site.url("/json") }, deps({ limiter })),
      fetchDocument({ url: site.url("/redirect/2") }, deps({ limiter })),
    ]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
    assert.equal(limiter.active(`127.0.0.1:${site.port}`), 0);
  });
});

Deno.test("classifyFetchError() reads Deno's error chains", () => {
  const deno = (detail: string) => new TypeError("fetch failed", { cause: new Error(detail) });
  const cases: Array<[unknown, ErrorClass]> = [
    [
      deno(
        "error sending request for url (http://x.example/): client error (Connect): dns error: failed to lookup address information: Name or service not known",
      ),
      "dns",
    ],
    [
      deno(
        "error sending request for url (https://x/): client error (Connect): invalid peer certificate: UnknownIssuer",
      ),
      "tls",
    ],
    [
      deno(
        "error sending request for url (http://x/): client error (Connect): tcp connect error: Connection refused (os error 111)",
      ),
      "connect",
    ],
    [new TypeError("Fetch failed: Requests to port 1 are blocked"), "connect"],
    [new DOMException("signal timed out", "TimeoutError"), "timeout"],
    [new RangeError("something odd"), "internal"],
  ];
  for (const [error, errorClass] of cases) {
    assert.equal(classifyFetchError(error).errorClass, errorClass, String(error));
  }
});
