/**
 * Faults the local stack cannot show through the API, played against the pipeline itself
 * with real sockets: the production address policy (loopback allowed for the demo, private
 * networks refused) facing a redirect to a private address, the stack's policy (private
 * networks allowed) facing cloud metadata addresses, and DNS that fails or never answers.
 * No database is needed.
 */
import assert from "node:assert/strict";
import { checkUrl, defaultResolveHost } from "../../../shared/pipeline/address_guard.ts";
import { DEFAULT_CONFIG } from "../../../shared/config.ts";
import { fetchDocument, type FetcherConfig } from "../../../shared/pipeline/fetcher.ts";
import { captureLogger } from "../../../shared/log.ts";
import type { FetchFn } from "../../../shared/types.ts";
import { METADATA_URL, PRIVATE_URL, startFaultServer } from "../../fixtures/fault_server.ts";
import { pipelineFailure } from "../../unit/pipeline/_helpers.ts";

/** A production deployment: loopback for a local demo at most, private networks refused. */
const PRODUCTION: FetcherConfig = {
  ...DEFAULT_CONFIG,
  FETCH_ALLOW_LOOPBACK: true,
  FETCH_ALLOW_PRIVATE_NETWORKS: false,
};

/** The real fetch, recording every URL it is asked for. */
function recordingFetch(): { fetch: FetchFn; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    },
  };
}

Deno.test("fetchDocument() refuses a redirect to a private address without connecting to it", async () => {
  await using faults = await startFaultServer();
  const { fetch, urls } = recordingFetch();
  const error = await pipelineFailure(
    fetchDocument({ url: faults.url("redirect_to_private") }, {
      fetch,
      config: PRODUCTION,
      logger: captureLogger(),
      clock: () => new Date(),
      resolveHost: defaultResolveHost(),
    }),
    "blocked",
  );
  assert.equal(error.message, "refused 10.0.0.1: private address not allowed");
  assert.deepEqual(urls, [faults.url("redirect_to_private")], "only the loopback hop was fetched");
});

Deno.test("FETCH_ALLOW_PRIVATE_NETWORKS allows private networks but never cloud metadata", async () => {
  const stack = { allowLoopback: false, allowPrivateNetworks: true };
  // What FETCH_ALLOW_PRIVATE_NETWORKS=true lets through: a redirect to 10.0.0.1 would be
  // followed. (The local stack sets only FETCH_ALLOW_LOOPBACK, which refuses it.)
  assert.deepEqual(await checkUrl(new URL(PRIVATE_URL), { policy: stack }), ["10.0.0.1"]);
  for (
    const url of [
      METADATA_URL,
      "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
      "http://2852039166/latest/meta-data/",
      "http://169.254.170.2/v2/credentials",
      "http://[fd00:ec2::254]/latest/meta-data/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://0.0.0.0/",
    ]
  ) {
    await pipelineFailure(checkUrl(new URL(url), { policy: stack }), "blocked");
  }
});

Deno.test("fetchDocument() classifies a DNS server that never answers as timeout", async () => {
  // A real resolver asking a local port where no DNS server listens: like a machine whose
  // DNS server is unreachable, it only gives up after its own timeout (2 to 15 s). The
  // lookup is not bounded by the fetch deadline (see docs/reliability.md), but the fetch
  // still reports the deadline that passed.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  silent.close();
  const lookups = new AbortController();
  try {
    const error = await pipelineFailure(
      fetchDocument({ url: "http://policies.example.test/rules" }, {
        fetch: (input, init) => fetch(input, init),
        config: { ...PRODUCTION, FETCH_TIMEOUT_MS: 500 },
        logger: captureLogger(),
        clock: () => new Date(),
        resolveHost: (host) =>
          Deno.resolveDns(host, "A", {
            nameServer: { ipAddr: "127.0.0.1", port },
            signal: lookups.signal,
          }),
      }),
      "timeout",
    );
    assert.equal(error.message, "timed out after 500 ms");
  } finally {
    lookups.abort();
  }
});

Deno.test("fetchDocument() reports a name this machine's resolver cannot find as dns", async () => {
  const error = await pipelineFailure(
    fetchDocument({ url: "http://policy-monitor-fault.test/rules" }, {
      fetch: (input, init) => fetch(input, init),
      config: PRODUCTION,
      logger: captureLogger(),
      clock: () => new Date(),
      resolveHost: defaultResolveHost(),
    }),
    "dns",
  );
  assert.match(error.message, /^DNS lookup failed for policy-monitor-fault\.test: /);
});
