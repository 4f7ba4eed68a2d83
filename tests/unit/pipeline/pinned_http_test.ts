/**
 * The HTTP/1.1 reading of pinnedConnect() (shared/pipeline/pinned_connect.ts) against raw
 * TCP servers that answer exactly the bytes given: chunked, close-delimited and
 * Content-Length bodies, a POST body, a body cut short, a malformed answer, an endless
 * header block, and a cancelled body.
 */
import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { pinnedConnect } from "../../../shared/pipeline/pinned_connect.ts";

const encoder = new TextEncoder();

/** A TCP server that records each request head and answers with `answer(conn)`. */
function rawServer(answer: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        const n = await conn.read(buffer);
        requests.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)));
        try {
          await answer(conn);
        } catch {
          // the client went away: that is what some cases test
        } finally {
          try {
            conn.close();
          } catch {
            // already closed
          }
        }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    requests,
    url: (path = "/") => new URL(`http://policy-monitor-raw.test:${port}${path}`),
    close: async () => {
      listener.close();
      await done.catch(() => {});
    },
  };
}

type _RawServer = ReturnType<typeof rawServer>;

/** Runs `fn` with a {@link rawServer} answering `answer(conn)`, closing it after. */
async function withRawServer(
  answer: (conn: Deno.Conn) => Promise<void>,
  fn: (server: _RawServer) => Promise<void>,
): Promise<void> {
  const server = rawServer(answer);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** A plain GET of `path` on the server, over a connection pinned to 127.0.0.1. */
const get = (server: _RawServer, path = "/") =>
  pinnedConnect(server.url(path), { method: "GET", headers: {} }, "127.0.0.1");

const write = (conn: Deno.Conn, text: string) => conn.write(encoder.encode(text));

Deno.test("pinnedConnect() reads a chunked body and sends the name as Host with Connection: close", async () => {
  const server = rawServer(async (conn) => {
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    await write(conn, "5\r\nhello\r\n");
    await write(conn, "6\r\n world\r\n0\r\n\r\n");
  });
  try {
    const response = await pinnedConnect(
      server.url("/a?b=1"),
      { method: "GET", headers: { "user-agent": "t" } },
      "127.0.0.1",
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain");
    assert.equal(await response.text(), "hello world");
    const head = server.requests[0]!;
    assert.match(head, /^GET \/a\?b=1 HTTP\/1\.1\r\n/);
    assert.match(head, /\r\nhost: policy-monitor-raw\.test:\d+\r\n/);
    assert.match(head, /\r\nconnection: close\r\n/);
    assert.match(head, /\r\nuser-agent: t\r\n/);
  } finally {
    await server.close();
  }
});

Deno.test("pinnedConnect() reads a body that ends when the server closes", async () => {
  await withRawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\n<p>until close</p>");
  }, async (server) => {
    assert.equal(await (await get(server)).text(), "<p>until close</p>");
  });
});

Deno.test("pinnedConnect() sends a POST body with its length and reads a 204", async () => {
  await withRawServer(async (conn) => {
    await write(conn, "HTTP/1.1 204 No Content\r\n\r\n");
  }, async (server) => {
    const response = await pinnedConnect(
      server.url("/hook"),
      { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' },
      "127.0.0.1",
    );
    assert.equal(response.status, 204);
    assert.equal(response.body, null);
    assert.match(server.requests[0]!, /\r\ncontent-length: 7\r\n\r\n\{"a":1\}$/);
  });
});

Deno.test("pinnedConnect() fails a body cut short of its Content-Length as connect", async () => {
  await withRawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part");
  }, async (server) => {
    const response = await get(server);
    await assert.rejects(
      response.text(),
      (e) => e instanceof PipelineError && e.errorClass === "connect",
    );
  });
});

Deno.test("pinnedConnect() refuses a malformed answer and an endless header block as parse", async () => {
  const garbage = rawServer(async (conn) => {
    await write(conn, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  });
  const endless = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\n");
    const line = `x-filler: ${"a".repeat(1000)}\r\n`;
    for (let i = 0; i < 200; i++) await write(conn, line);
  });
  try {
    for (const server of [garbage, endless]) {
      await assert.rejects(
        get(server),
        (e) => e instanceof PipelineError && e.errorClass === "parse",
      );
    }
  } finally {
    await garbage.close();
    await endless.close();
  }
});

Deno.test("pinnedConnect() reads no further than asked and closes the socket on cancel", async () => {
  let written = 0;
  let refused = Promise.withResolvers<void>();
  const server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n");
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) written += await conn.write(chunk);
    } finally {
      refused.resolve();
    }
  });
  try {
    const response = await get(server);
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.byteLength > 0);
    await reader.cancel();
    await refused.promise; // the server's writes fail once the socket is closed
    assert.ok(written < 1_000_000_000);
  } finally {
    refused = Promise.withResolvers<void>();
    refused.resolve();
    await server.close();
  }
});
