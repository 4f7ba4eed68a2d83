// `deno task monitor` as a user runs it: a subprocess talking to the local stack's API
// (SUPABASE_URL + the service-role key from the environment), against a page server and a
// webhook sink of the test's own.
import assert from "node:assert/strict";
import { startAlertSink } from "../../fixtures/alert_sinks.ts";
import { sqlClient, stackKeys, SUPABASE_URL, waitForNoRunningRun } from "../_stack.ts";

const MONITOR = new URL("../../../tools/monitor.ts", import.meta.url).pathname;

async function monitor(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MONITOR, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task monitor manages sources and subscriptions and reads changes", async (t) => {
  const { serviceRoleKey } = await stackKeys();
  const env = { SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey, NO_COLOR: "1" };
  let wording = "Refunds are possible within 14 days.";
  const pages = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    new Response(
      `<!doctype html><html><body><main><h1>Refunds</h1><p>${wording}</p>` +
        `<p>Build 0ab3f9 served in 12 ms</p></main></body></html>`,
      { headers: { "content-type": "text/html" } },
    ));
  const url = `http://127.0.0.1:${pages.addr.port}/refunds.html`;
  const sink = startAlertSink(200);
  const sql = sqlClient();
  let sourceId = "";
  let subId = "";
  /** Runs `deno task monitor <args>`, asserts it exits 0, and resolves to its stdout. */
  const succeeds = async (...args: string[]) => {
    const r = await monitor(args, env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return r.stdout;
  };
  try {
    await t.step("a usage error exits 2 with the usage", async () => {
      const r = await monitor(["sources", "frobnicate"], env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /usage: deno task monitor/);
    });

    await t.step("a refused source exits 1 and lists the fields", async () => {
      const r = await monitor(
        ["sources", "add", "--name", "Bad", "--url", "http://-/", "--ignore", "("],
        env,
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /url: URL has no valid host name/);
      assert.match(r.stderr, /ignore_patterns\.0: /);
    });

    await t.step("sources add, then list shows it", async () => {
      const added = await succeeds(
        ...["sources", "add", "--name", "CLI refunds page", "--url", url],
        ...["--ignore", "Build \\w+ served in \\d+ ms", "--frequency", "weekly"],
      );
      sourceId = /added source ([0-9a-f-]{36})/.exec(added)?.[1] ?? "";
      assert.ok(sourceId, added);
      const list = await monitor(["sources", "list"], env);
      assert.match(list.stdout, /^ID +NAME +FREQ/m);
      assert.match(list.stdout, new RegExp(`${sourceId} +CLI refunds page +weekly +yes`));
    });

    await t.step("preview of the saved source shows the text and the removal", async () => {
      const preview = await succeeds("sources", "preview", sourceId);
      assert.match(preview, /status: ok +http: 200 +type: text\/html/);
      assert.match(preview, /removed 1 \("Build 0ab3f9 served in 12 ms"\)/);
      assert.match(preview, /\| Refunds are possible within 14 days\./);
    });

    await t.step("subs add a signed webhook and send it a test alert", async () => {
      const added = await succeeds(
        ...["subs", "add", "--channel", "webhook", "--target", `${sink.url}/cli`],
        ...["--secret", "cli-secret-0123456789abcdef", "--source", sourceId],
      );
      subId = /added subscription ([0-9a-f-]{36})/.exec(added)?.[1] ?? "";
      assert.ok(subId);
      assert.doesNotMatch(added, /cli-secret/);
      const test = await succeeds("subs", "test", subId);
      assert.match(test, /test alert delivered through webhook \(HTTP 200\)/);
      assert.equal(JSON.parse(sink.requests.at(-1)!.body).event, "test");
    });

    await t.step("run shows progress; a change is read with its diff", async () => {
      await waitForNoRunningRun();
      const first = await succeeds("run", "--force", "--source", sourceId);
      assert.match(first, /progress: 1\/1 sources/);
      assert.match(first, /CLI refunds page: baseline stored/);
      wording = "Refunds are possible within 30 days.";
      await waitForNoRunningRun();
      const second = await succeeds("sources", "check", sourceId);
      assert.match(second, /changed \(change [0-9a-f-]{36}\)/);
      const changes = await monitor(["changes", "--source", sourceId, "--diff"], env);
      assert.match(changes.stdout, /-Refunds are possible within 14 days\./);
      assert.match(changes.stdout, /\+Refunds are possible within 30 days\./);
      const table = await monitor(["changes", "--source", sourceId], env);
      assert.match(table.stdout, /CLI refunds page +\+1 -1/);
      const runs = await monitor(["runs", "--limit", "3"], env);
      assert.match(runs.stdout, /^RUN +STATUS +TRIGGER/m);
    });

    await t.step("sources rm deletes it", async () => {
      await succeeds("sources", "rm", sourceId);
      const [n] = await sql`select count(*)::int as n from public.sources where id = ${sourceId}`;
      assert.equal(n?.n, 0);
      sourceId = "";
    });
  } finally {
    if (sourceId) await sql`delete from public.sources where id = ${sourceId}`;
    if (subId) await sql`delete from public.subscriptions where id = ${subId}`;
    await sql.end();
    await sink.close();
    await pages.shutdown();
  }
});
