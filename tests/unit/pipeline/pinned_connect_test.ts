/**
 * DNS rebinding: the fetcher connects to the address the SSRF guard checked. DNS is a seam
 * here (a local resolver that answers a public address first and 127.0.0.1 next); the
 * connections are real.
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { fetchDocument } from "../../../shared/pipeline/fetcher.ts";
import { type PinnedConnect, pinnedConnect } from "../../../shared/pipeline/pinned_connect.ts";
import { selfSignedCertificate } from "../../fixtures/pipeline_tls.ts";
import { recordingSleep, testConfig } from "./_helpers.ts";

/** A loopback HTTP server that counts what reaches it. */
function loopbackSite() {
  const seen: string[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => {
      seen.push(req.headers.get("host") ?? "");
      return new Response("<html><body><p>internal secret page</p></body></html>", {
        headers: { "content-type": "text/html" },
      });
    },
  );
  return { seen, port: server.addr.port, close: () => server.shutdown() };
}

/** Answers `first` to the first lookup of a name, `next` to every later one. */
function rebindingResolver(first: string, next: string) {
  const calls: string[] = [];
  const resolve = (host: string) => {
    calls.push(host);
    return Promise.resolve([calls.length === 1 ? first : next]);
  };
  return { resolve, calls };
}

Deno.test("pinnedConnect() connects to the given address, keeping the name in the URL and Host", async () => {
  const site = loopbackSite();
  try {
    // .test names never resolve: only the pinned address can have been used.
    const url = new URL(`http://policy-monitor-pinned.test:${site.port}/rules?x=1`);
    const response = await pinnedConnect(url, { method: "GET", headers: {} }, "127.0.0.1");
    assert.equal(response.status, 200);
    assert.match(await response.text(), /internal secret page/);
    assert.deepEqual(site.seen, [`policy-monitor-pinned.test:${site.port}`]);
  } finally {
    await site.close();
  }
});

Deno.test("pinnedConnect() checks the TLS certificate against the name, not the address", async () => {
  const { cert, key } = await selfSignedCertificate();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", cert, key, onListen() {} },
    () => new Response("x"),
  );
  try {
    const url = new URL(`https://policy-monitor-pinned.test:${server.addr.port}/`);
    await assert.rejects(
      pinnedConnect(url, { method: "GET", headers: {} }, "127.0.0.1"),
      (e) => e instanceof Error && /certificate|altnames/i.test(e.message),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetchDocument() connects to the checked public address when DNS answers 127.0.0.1 next (rebinding)", async () => {
  const site = loopbackSite();
  const dns = rebindingResolver("93.184.216.34", "127.0.0.1");
  const connected: string[] = [];
  const connect: PinnedConnect = (url, request, address) => {
    connected.push(address);
    return pinnedConnect(url, request, address);
  };
  try {
    const outcome = await fetchDocument(
      { url: `http://policy-monitor-rebind.test:${site.port}/` },
      {
        fetch: () => Promise.reject(new Error("the pinned connection must be used")),
        connect,
        resolveHost: dns.resolve,
        // The production policy: loopback refused.
        config: testConfig({
          FETCH_ALLOW_LOOPBACK: false,
          FETCH_TIMEOUT_MS: 1_500,
          FETCH_RETRIES: 0,
        }),
        logger: captureLogger(),
        clock: () => new Date(),
        sleep: recordingSleep(),
      },
    ).then(() => "fetched", (e) => e);
    // No outside network here: the public address fails (connect or timeout); what matters
    // is that nothing reached the loopback page and DNS was asked once.
    assert.ok(outcome instanceof PipelineError, `expected a failure, got ${outcome}`);
    assert.ok(["connect", "timeout"].includes(outcome.errorClass), outcome.message);
    assert.deepEqual(connected, ["93.184.216.34"]);
    assert.deepEqual(dns.calls, ["policy-monitor-rebind.test"]);
    assert.deepEqual(site.seen, []);
  } finally {
    await site.close();
  }
});

Deno.test("fetchDocument() refuses a name whose first answer is internal, before connecting", async () => {
  const site = loopbackSite();
  const dns = rebindingResolver("127.0.0.1", "93.184.216.34");
  try {
    await assert.rejects(
      fetchDocument({ url: `http://policy-monitor-rebind.test:${site.port}/` }, {
        fetch: () => Promise.reject(new Error("must not connect")),
        connect: () => Promise.reject(new Error("must not connect")),
        resolveHost: dns.resolve,
        config: testConfig({ FETCH_ALLOW_LOOPBACK: false, FETCH_RETRIES: 0 }),
        logger: captureLogger(),
        clock: () => new Date(),
      }),
      (e) => e instanceof PipelineError && e.errorClass === "blocked",
    );
    assert.deepEqual(site.seen, []);
  } finally {
    await site.close();
  }
});

Deno.test("fetchDocument() pins every redirect hop to its own checked address", async () => {
  const site = loopbackSite();
  const redirector = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () =>
      new Response(null, {
        status: 302,
        headers: { location: `http://policy-monitor-hop.test:${site.port}/` },
      }),
  );
  const answers: Record<string, string> = {
    "policy-monitor-start.test": "127.0.0.1",
    "policy-monitor-hop.test": "127.0.0.1",
  };
  const connected: string[] = [];
  try {
    const outcome = await fetchDocument(
      { url: `http://policy-monitor-start.test:${redirector.addr.port}/` },
      {
        fetch: () => Promise.reject(new Error("the pinned connection must be used")),
        connect: (url, request, address) => {
          connected.push(`${url.hostname}=${address}`);
          return pinnedConnect(url, request, address);
        },
        resolveHost: (host) => Promise.resolve([answers[host] ?? "192.0.2.1"]),
        config: testConfig(),
        logger: captureLogger(),
        clock: () => new Date(),
      },
    );
    assert.equal(outcome.notModified, false);
    assert.deepEqual(connected, [
      "policy-monitor-start.test=127.0.0.1",
      "policy-monitor-hop.test=127.0.0.1",
    ]);
    assert.deepEqual(site.seen, [`policy-monitor-hop.test:${site.port}`]);
  } finally {
    await site.close();
    await redirector.shutdown();
  }
});
