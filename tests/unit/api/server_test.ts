import assert from "node:assert/strict";
import { errorBody, makeTestApp, tokens } from "./_helpers.ts";

/** Serves the test app on a loopback port for the duration of `fn`. */
async function withServer(
  app: ReturnType<typeof makeTestApp>["app"],
  fn: (base: string) => Promise<void>,
) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("over real HTTP a 10 MB body is refused with 413 and the job never starts", async (t) => {
  const tk = await tokens();
  const { app, jobs } = makeTestApp();
  await withServer(app, async (base) => {
    await t.step("with Content-Length", async () => {
      const res = await fetch(`${base}/api/jobs/daily-fetch`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tk.admin}`, "Content-Type": "application/json" },
        body: new Uint8Array(10 * 1024 * 1024).fill(0x20),
      });
      assert.equal(res.status, 413);
      assert.equal((await errorBody(res)).code, "payload_too_large");
    });
    await t.step("chunked, without a length", async () => {
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 160) return controller.close(); // 10 MB in all
          sent++;
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${base}/api/jobs/daily-fetch`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tk.admin}`, "Content-Type": "application/json" },
        body,
      });
      assert.equal(res.status, 413);
      assert.equal((await errorBody(res)).code, "payload_too_large");
    });
  });
  assert.equal(jobs.calls.startRun.length, 0);
});

Deno.test("over real HTTP an async run answers 202 with Location", async () => {
  const tk = await tokens();
  const { app, background } = makeTestApp();
  await withServer(app, async (base) => {
    const res = await fetch(`${base}/api/jobs/daily-fetch`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${tk.service}`,
        "Content-Type": "application/json",
        Prefer: "respond-async",
      },
      body: JSON.stringify({ trigger: "cron", force: true }),
    });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(res.headers.get("location"), `/functions/v1/api/jobs/runs/${body.run_id}`);
    await Promise.all(background);
  });
});
