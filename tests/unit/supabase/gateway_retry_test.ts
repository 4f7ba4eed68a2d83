/**
 * The local gateway sends a buffered request to PostgREST again when its connection fails
 * before an answer (hosted Kong's upstream `retries`), and never more than
 * UPSTREAM_ATTEMPTS times; a streamed body of unknown length is sent once.
 */
import assert from "node:assert/strict";
import { proxyBuffered, UPSTREAM_ATTEMPTS } from "../../../supabase/local/gateway.ts";

/**
 * A raw HTTP/1.1 upstream: the first `drops` connections read the request and close without
 * an answer (the keep-alive race's symptom); later ones answer 200 with the body's length.
 */
function flakyUpstream(drops: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  let connections = 0;
  const serve = (async () => {
    for await (const conn of listener) {
      const n = ++connections;
      (async () => {
        const buf = new Uint8Array(65536);
        let text = "";
        // Read until the head and the declared body are in.
        for (;;) {
          const got = await conn.read(buf).catch(() => null);
          if (got === null) break;
          text += new TextDecoder().decode(buf.subarray(0, got));
          const head = text.indexOf("\r\n\r\n");
          if (head < 0) continue;
          const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
          if (text.length - head - 4 >= length) break;
        }
        seen.push(text.slice(text.indexOf("\r\n\r\n") + 4));
        if (n > drops) {
          const body = `got ${seen.at(-1)!.length}`;
          await conn.write(
            new TextEncoder().encode(
              `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
            ),
          ).catch(() => {});
        }
        conn.close();
      })();
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}/rpc/job_complete_items`,
    seen,
    connections: () => connections,
    async close() {
      listener.close();
      await serve.catch(() => {});
    },
  };
}

/** A request as the gateway's server hands it over (a client's fetch sends its length). */
const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1:54321/rest/v1/rpc/job_complete_items", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    // @ts-ignore: Deno needs duplex for a streamed request body
    duplex: "half",
  });

Deno.test("gateway: a request whose connection to PostgREST failed is sent again, body and all", async () => {
  const up = flakyUpstream(2);
  try {
    const res = await proxyBuffered(
      post('{"p_run_id":"r1"}', { "content-length": "17" }),
      up.url,
    );
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "got 17");
    assert.equal(up.connections(), 3);
    assert.deepEqual(up.seen, Array(3).fill('{"p_run_id":"r1"}'));
  } finally {
    await up.close();
  }
});

Deno.test("gateway: an upstream that keeps failing gets UPSTREAM_ATTEMPTS attempts, then a 502", async () => {
  const up = flakyUpstream(Infinity);
  try {
    const res = await proxyBuffered(post("{}", { "content-length": "2" }), up.url);
    assert.equal(res.status, 502);
    assert.equal((await res.json()).error.code, "bad_gateway");
    assert.equal(up.connections(), UPSTREAM_ATTEMPTS);
  } finally {
    await up.close();
  }
});

Deno.test("gateway: a streamed body of unknown length is sent once, never buffered", async () => {
  const up = flakyUpstream(1);
  try {
    const stream = new Blob(['{"big":true}']).stream();
    const res = await proxyBuffered(post(stream), up.url);
    assert.equal(res.status, 502);
    await res.body?.cancel();
    assert.equal(up.connections(), 1);
  } finally {
    await up.close();
  }
});
