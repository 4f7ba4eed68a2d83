import assert from "node:assert/strict";
import { scrubUrls, sendDelivery } from "../../../shared/alerts/http_delivery.ts";
import { type PinnedConnect, pinnedConnect } from "../../../shared/pipeline/pinned_connect.ts";
import { startAlertSink } from "../../fixtures/alert_sinks.ts";

const NOW = new Date("2026-11-28T02:00:00Z");

function delivery(url: string, retryableStatuses?: number[]) {
  return {
    url,
    headers: { "content-type": "application/json", "x-alert-id": "a1" },
    body: '{"event":"policy_change"}',
    retryableStatuses,
  };
}

const LOOPBACK_ALLOWED = { allowLoopback: true, allowPrivateNetworks: false };
const PRODUCTION = { allowLoopback: false, allowPrivateNetworks: false };
const OPTIONS = { fetch, timeoutMs: 5_000, now: NOW, policy: LOOPBACK_ALLOWED };

/**
 * A public receiver, played by a loopback sink: DNS (a seam) answers a public address for
 * `name`, and the pinned connection to that address is sent to the sink instead.
 */
function publicReceiver(sinkUrl: string, name: string) {
  const port = new URL(sinkUrl).port;
  const connect: PinnedConnect = (url, request, address) => {
    assert.equal(address, "93.184.216.34");
    return pinnedConnect(
      new URL(url.href.replace(`${name}:${port}`, `127.0.0.1:${port}`)),
      request,
      "127.0.0.1",
    );
  };
  return {
    url: `http://${name}:${port}`,
    options: {
      ...OPTIONS,
      policy: PRODUCTION,
      resolveHost: () => Promise.resolve(["93.184.216.34"]),
      connect,
    },
  };
}

Deno.test("sendDelivery() posts the body and headers and treats 2xx as success", async () => {
  await using sink = startAlertSink(204);
  const result = await sendDelivery(delivery(`${sink.url}/hook`), OPTIONS);
  assert.deepEqual(result, { ok: true, permanent: false, status: 204, retryAfterMs: null });
  const [req] = sink.requests;
  assert.equal(req?.method, "POST");
  assert.equal(req?.path, "/hook");
  assert.equal(req?.body, '{"event":"policy_change"}');
  assert.equal(req?.headers.get("x-alert-id"), "a1");
});

Deno.test("sendDelivery() classifies statuses: 5xx, 408, 429 and 3xx retry; other 4xx are permanent", async () => {
  await using sink = startAlertSink();
  const cases: [number, boolean][] = [
    [500, false],
    [503, false],
    [408, false],
    [429, false],
    [302, false],
    [400, true],
    [404, true],
    [410, true],
    [422, true],
  ];
  for (const [status, permanent] of cases) {
    sink.respondWith(() =>
      new Response("nope", { status, headers: status === 302 ? { location: "/elsewhere" } : {} })
    );
    const result = await sendDelivery(delivery(`${sink.url}/hook`), OPTIONS);
    assert.equal(result.ok, false, `status ${status}`);
    assert.equal(result.permanent, permanent, `status ${status}`);
    assert.equal(result.status, status);
  }
  assert.equal(sink.requests.length, cases.length, "the redirect was not followed");
});

Deno.test("sendDelivery() retries a channel's own retryable 4xx", async () => {
  await using sink = startAlertSink(401);
  const result = await sendDelivery(delivery(`${sink.url}/emails`, [401, 403]), OPTIONS);
  assert.equal(result.permanent, false);
});

Deno.test("sendDelivery() reads Retry-After and quotes the start of the error body", async () => {
  await using sink = startAlertSink(() =>
    new Response(`slow down ${"x".repeat(5000)}`, {
      status: 429,
      headers: { "retry-after": "120" },
    })
  );
  const receiver = publicReceiver(sink.url, "hooks.receiver.test");
  const result = await sendDelivery(delivery(`${receiver.url}/hook`), receiver.options);
  assert.equal(result.retryAfterMs, 120_000);
  assert.match(
    result.error ?? "",
    /^HTTP 429 from http:\/\/hooks\.receiver\.test:\d+: slow down x+…$/,
  );
  assert.ok((result.error ?? "").length < 300);
});

Deno.test("sendDelivery() never keeps the body of a reply from an internal address", async () => {
  await using sink = startAlertSink(() =>
    new Response("internal admin page: db password hunter2", { status: 500 })
  );
  const result = await sendDelivery(delivery(`${sink.url}/hook`), OPTIONS);
  assert.equal(result.status, 500);
  assert.match(result.error ?? "", /^HTTP 500 from http:\/\/127\.0\.0\.1:\d+$/);
});

Deno.test("sendDelivery() refuses an internal or metadata target before sending (permanent)", async () => {
  await using sink = startAlertSink(204);
  const refused = await sendDelivery(delivery(`${sink.url}/hook`), {
    ...OPTIONS,
    policy: PRODUCTION,
  });
  assert.equal(refused.ok, false);
  assert.equal(refused.permanent, true);
  assert.match(refused.error ?? "", /refused 127\.0\.0\.1: loopback address not allowed/);
  const metadata = await sendDelivery(delivery("http://169.254.169.254/latest"), OPTIONS);
  assert.equal(metadata.permanent, true);
  assert.match(metadata.error ?? "", /metadata address not allowed/);
  // A name that resolves to an internal address is refused the same way.
  const named = await sendDelivery(delivery("https://hooks.evil.test/x"), {
    ...OPTIONS,
    policy: PRODUCTION,
    resolveHost: () => Promise.resolve(["10.0.0.7"]),
  });
  assert.equal(named.permanent, true);
  assert.match(named.error ?? "", /resolves to 10\.0\.0\.7/);
  assert.equal(sink.requests.length, 0);
});

Deno.test("sendDelivery() gives up on a receiver that does not answer within the timeout", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await using sink = startAlertSink(async () => {
    await held;
    return new Response("late");
  });
  const result = await sendDelivery(delivery(`${sink.url}/hook`), { ...OPTIONS, timeoutMs: 200 });
  release();
  assert.equal(result.ok, false);
  assert.equal(result.permanent, false);
  assert.match(result.error ?? "", /timed out after 200 ms$/);
});

Deno.test("sendDelivery() reports a refused connection without the target's secret path", async () => {
  const sink = startAlertSink();
  const url = `${sink.url}/services/T000/B000/SECRETSECRET`;
  await sink.close();
  const result = await sendDelivery(delivery(url), OPTIONS);
  assert.equal(result.ok, false);
  assert.equal(result.permanent, false);
  assert.ok(!(result.error ?? "").includes("SECRETSECRET"), result.error);
  assert.match(result.error ?? "", /^http:\/\/127\.0\.0\.1:\d+: /);
});

Deno.test("scrubUrls() keeps only the origin of every URL in a message", () => {
  assert.equal(
    scrubUrls("error sending request for url (https://hooks.slack.com/services/T/B/X?y=1): boom"),
    "error sending request for url (https://hooks.slack.com/…): boom",
  );
});
