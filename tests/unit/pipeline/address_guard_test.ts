import assert from "node:assert/strict";
import {
  type AddressKind,
  checkUrl,
  classifyAddress,
  ResolverUnavailable,
  urlPolicyError,
} from "../../../shared/pipeline/address_guard.ts";
import { pipelineFailure } from "./_helpers.ts";

const STRICT = { allowLoopback: false, allowPrivateNetworks: false };
const LOOPBACK = { allowLoopback: true, allowPrivateNetworks: false };
const PRIVATE = { allowLoopback: false, allowPrivateNetworks: true };

Deno.test("classifyAddress() sorts addresses into metadata, loopback, private, link-local, reserved and public", () => {
  const cases: Array<[string, AddressKind]> = [
    ["169.254.169.254", "metadata"],
    ["::ffff:169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["100.100.100.200", "metadata"],
    ["127.0.0.1", "loopback"],
    ["127.10.20.30", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["169.254.1.1", "link_local"],
    ["fe80::1", "link_local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["not an ip", "reserved"],
    ["8.8.8.8", "public"],
    ["172.32.0.1", "public"],
    ["2606:4700:4700::1111", "public"],
  ];
  for (const [address, kind] of cases) assert.equal(classifyAddress(address), kind, address);
});

Deno.test("checkUrl() refuses schemes other than http and https", async () => {
  for (const url of ["file:///etc/passwd", "ftp://example.org/", "gopher://example.org/"]) {
    await pipelineFailure(checkUrl(new URL(url), { policy: STRICT }), "blocked");
  }
});

Deno.test("checkUrl() refuses the cloud metadata address even when private networks are allowed", async () => {
  for (const policy of [STRICT, LOOPBACK, PRIVATE]) {
    const error = await pipelineFailure(
      checkUrl(new URL("http://169.254.169.254/latest/meta-data/"), { policy }),
      "blocked",
    );
    assert.match(error.message, /metadata/);
  }
  await pipelineFailure(
    checkUrl(new URL("http://metadata.google.internal/"), { policy: PRIVATE }),
    "blocked",
  );
});

Deno.test("checkUrl() refuses loopback unless loopback or private networks are allowed", async () => {
  for (
    const url of [
      "http://127.0.0.1:8080/",
      "http://localhost/",
      "http://[::1]/",
      "http://2130706433/",
      "http://0x7f.1/",
    ]
  ) {
    await pipelineFailure(checkUrl(new URL(url), { policy: STRICT }), "blocked");
    assert.deepEqual(
      (await checkUrl(new URL(url), { policy: LOOPBACK })).length > 0,
      true,
      url,
    );
  }
});

Deno.test("checkUrl() refuses private ranges with loopback allowed, and lets them through when private networks are allowed", async () => {
  const error = await pipelineFailure(
    checkUrl(new URL("http://10.0.0.7/admin"), { policy: LOOPBACK }),
    "blocked",
  );
  assert.match(error.message, /private/);
  assert.deepEqual(await checkUrl(new URL("http://10.0.0.7/admin"), { policy: PRIVATE }), [
    "10.0.0.7",
  ]);
});

Deno.test("checkUrl() refuses a public-looking name that resolves to a private address", async () => {
  const resolveHost = (host: string) =>
    Promise.resolve(
      host === "rules.example" ? ["93.184.215.14", "192.168.0.10"] : ["93.184.215.14"],
    );
  const error = await pipelineFailure(
    checkUrl(new URL("https://rules.example/"), { policy: LOOPBACK, resolveHost }),
    "blocked",
  );
  assert.match(error.message, /rules\.example \(resolves to 192\.168\.0\.10\)/);
  assert.deepEqual(
    await checkUrl(new URL("https://gov.example/"), { policy: STRICT, resolveHost }),
    [
      "93.184.215.14",
    ],
  );
});

Deno.test("checkUrl() reports a name that does not resolve as dns", async () => {
  const notFound = () =>
    Promise.reject(new Deno.errors.NotFound("no records found for rules.example"));
  const error = await pipelineFailure(
    checkUrl(new URL("https://rules.example/"), { policy: STRICT, resolveHost: notFound }),
    "dns",
  );
  assert.match(error.message, /no records found/);
  await pipelineFailure(
    checkUrl(new URL("http://rules.invalid/"), { policy: STRICT }),
    "dns",
  );
});

Deno.test("checkUrl() without a resolver checks literals only and lets names through", async () => {
  assert.deepEqual(await checkUrl(new URL("https://www.gov.uk/"), { policy: STRICT }), []);
});

Deno.test("checkUrl() lets a name through unchecked when the runtime cannot resolve at all", async () => {
  const unavailable = () =>
    Promise.reject(new ResolverUnavailable(new Deno.errors.PermissionDenied("resolveDns")));
  assert.deepEqual(
    await checkUrl(new URL("https://www.gov.uk/"), { policy: STRICT, resolveHost: unavailable }),
    [],
  );
  // Literals are still checked without a resolver.
  await pipelineFailure(
    checkUrl(new URL("http://169.254.169.254/"), { policy: STRICT, resolveHost: unavailable }),
    "blocked",
  );
});

Deno.test("urlPolicyError() checks a URL without DNS for the operators' API", () => {
  const production = { allowLoopback: false, allowPrivateNetworks: false };
  assert.equal(urlPolicyError("https://www.gov.uk/visas", production), null);
  assert.equal(urlPolicyError("https://user:pw@www.gov.uk/visas", production), null);
  assert.match(urlPolicyError("not a url", production) ?? "", /not a valid URL/);
  assert.match(urlPolicyError("ftp://example.org/a", production) ?? "", /only http and https/);
  assert.match(urlPolicyError("http://169.254.169.254/", production) ?? "", /metadata/);
  assert.match(urlPolicyError("http://[::ffff:a9fe:a9fe]/", production) ?? "", /metadata/);
  assert.match(urlPolicyError("http://metadata.google.internal/", production) ?? "", /metadata/);
  assert.match(urlPolicyError("http://10.0.0.1/", production) ?? "", /private/);
  assert.match(urlPolicyError("http://127.0.0.1:8080/", production) ?? "", /loopback/);
  assert.match(urlPolicyError("http://localhost/", production) ?? "", /loopback/);
  assert.match(urlPolicyError("http://x.invalid/", production) ?? "", /never be resolved/);
  assert.equal(
    urlPolicyError("http://127.0.0.1:8080/", { allowLoopback: true, allowPrivateNetworks: false }),
    null,
  );
});
