/**
 * Render mode 'browser' end to end on the local stack: gateway → edge function → pipeline →
 * the stack's headless Chromium (BROWSER_WS_ENDPOINT) → the same extraction → database.
 *
 * A fixture page whose policy text is written by a script (fetched from the server as JSON
 * after load) is seen by a 'browser' source and NOT by a 'static' one on the same page; a
 * change made by the script is recorded as a policy change of the browser source only.
 * The SSRF guard sees what the browser loads: a redirect of the top-level page to the cloud
 * metadata address fails the source as `blocked`, and a script of the page on one of this
 * machine's non-loopback (private or reserved) addresses is never requested.
 */
import assert from "node:assert/strict";
import { classifyAddress } from "../../../shared/pipeline/address_guard.ts";
import { serviceDb, sqlClient } from "../_stack.ts";
import { startRunAsync, waitRun } from "../reliability/_api.ts";

/** A non-loopback address of this machine that the guard refuses (none: null). */
function refusedLocalAddress(): string | null {
  for (const i of Deno.networkInterfaces()) {
    if (i.address.startsWith("fe80")) continue; // needs a scope id in a URL
    const kind = classifyAddress(i.address);
    if (kind !== "public" && kind !== "loopback") {
      return i.family === "IPv6" ? `[${i.address}]` : i.address;
    }
  }
  return null;
}

interface Fixture extends AsyncDisposable {
  url(path: string): string;
  setItems(items: string[]): void;
  hits(path: string): number;
  privateHost: string | null;
}

function startFixture(): Fixture {
  let items = ["Stay up to 90 days", "Passport valid for 3 months"];
  const hits = new Map<string, number>();
  const privateHost = refusedLocalAddress();
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "::",
    port: 0,
    onListen() {},
  }, (req): Response => {
    const path = new URL(req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const port = server.addr.port;
    switch (path) {
      case "/policy.json":
        return Response.json({ items });
      case "/secret.js":
        return new Response("document.getElementById('leak').textContent = 'LEAKED';", {
          headers: { "content-type": "text/javascript" },
        });
      case "/to-metadata":
        return new Response(null, {
          status: 302,
          headers: { location: "http://169.254.169.254/latest/meta-data/" },
        });
      case "/policy": {
        const secret = privateHost
          ? `<script src="http://${privateHost}:${port}/secret.js"></script>`
          : "";
        return new Response(
          `<!doctype html><html><head><title>Visa rules</title></head><body>
<nav><a href="/">Home</a></nav>
<main><h1>Visa rules</h1><ul id="policy"><li>Loading the rules…</li></ul><p id="leak"></p></main>
<script>
fetch('/policy.json').then((r) => r.json()).then((j) => {
  document.getElementById('policy').innerHTML = j.items.map((t) => '<li>' + t + '</li>').join('');
});
</script>
${secret}
</body></html>`,
          { headers: { "content-type": "text/html; charset=utf-8" } },
        );
      }
      default:
        return new Response("not found", { status: 404 });
    }
  });
  return {
    url: (p) => `http://127.0.0.1:${server.addr.port}${p}`,
    setItems: (next) => {
      items = next;
    },
    hits: (p) => hits.get(p) ?? 0,
    privateHost,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

interface Row {
  id: string;
  status: string;
  error_class: string | null;
  error_message: string | null;
  content: string | null;
  policy_change_id: string | null;
  diff: string | null;
}

Deno.test("render 'browser' sees script-written text that 'static' does not, and its change", async () => {
  await using site = startFixture();
  const tag = crypto.randomUUID().slice(0, 8);
  const db = await serviceDb();
  const sql = sqlClient();
  const { data, error } = await db.from("sources").insert([
    { name: `browser ${tag}`, url: site.url(`/policy?as=browser&t=${tag}`), render: "browser" },
    { name: `static ${tag}`, url: site.url(`/policy?as=static&t=${tag}`), render: "static" },
    { name: `metadata ${tag}`, url: site.url(`/to-metadata?t=${tag}`), render: "browser" },
  ]).select("id, render");
  assert.equal(error, null, error?.message);
  const [browser, plain, metadata] = data!.map((r) => r.id as string) as [string, string, string];
  assert.deepEqual(data!.map((r) => r.render), ["browser", "static", "browser"]);
  const ids = [browser, plain, metadata];
  const outcomes = async (runId: string) =>
    new Map(
      (await sql<Row[]>`
        select i.source_id as id, i.status, i.error_class, i.error_message, sn.content,
               i.policy_change_id, pc.diff
        from public.job_run_sources i
        join public.sources s on s.id = i.source_id
        left join public.snapshots sn on sn.id = s.last_snapshot_id
        left join public.policy_changes pc on pc.id = i.policy_change_id
        where i.run_id = ${runId}`).map((r) => [r.id, r]),
    );
  try {
    const first = await waitRun(
      await startRunAsync(sql, { source_ids: ids, force: true }),
      120_000,
    );
    assert.equal(first.status, "partial", JSON.stringify(first.errors));
    let rows = await outcomes(first.run_id);
    const b1 = rows.get(browser)!;
    const s1 = rows.get(plain)!;
    assert.equal(b1.status, "succeeded", b1.error_message ?? "");
    assert.match(b1.content!, /Stay up to 90 days/);
    assert.match(b1.content!, /Passport valid for 3 months/);
    assert.doesNotMatch(b1.content!, /Loading the rules/);
    assert.equal(s1.status, "succeeded", s1.error_message ?? "");
    assert.doesNotMatch(s1.content!, /90 days/);
    assert.match(s1.content!, /Loading the rules/);
    const m1 = rows.get(metadata)!;
    assert.equal(m1.status, "failed");
    assert.equal(m1.error_class, "blocked");
    assert.match(
      m1.error_message!,
      /^Cannot fetch source [0-9a-f-]+: refused 169\.254\.169\.254: metadata address not allowed$/,
    );
    if (site.privateHost) {
      assert.equal(site.hits("/secret.js"), 0, "the browser fetched a script on a private address");
      assert.doesNotMatch(b1.content!, /LEAKED/);
    }

    site.setItems(["Stay up to 60 days", "Passport valid for 3 months"]);
    const second = await waitRun(
      await startRunAsync(sql, { source_ids: [browser, plain], force: true }),
      120_000,
    );
    assert.equal(second.status, "succeeded", JSON.stringify(second.errors));
    assert.equal(second.changes_detected, 1);
    rows = await outcomes(second.run_id);
    const b2 = rows.get(browser)!;
    assert.notEqual(b2.policy_change_id, null, "the script's change was not detected");
    assert.match(b2.diff!, /^-.*90 days/m);
    assert.match(b2.diff!, /^\+.*60 days/m);
    assert.equal(rows.get(plain)!.policy_change_id, null);
    assert.ok(site.hits("/policy.json") >= 2, "the script's JSON was not fetched by the browser");
  } finally {
    await db.from("sources").delete().in("id", ids);
    await sql.end();
  }
});
