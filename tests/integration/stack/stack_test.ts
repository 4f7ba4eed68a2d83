import assert from "node:assert/strict";
import { PORTS, REPO_ROOT, STATE_DIR } from "../../../supabase/local/ports.ts";
import {
  anonDb,
  DEMO_URL,
  eventually,
  serviceDb,
  sqlClient,
  stackKeys,
  SUPABASE_URL,
} from "../_stack.ts";

async function runStack(
  command: string,
): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/supabase/local/stack.ts`, command],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: res.code,
    out: dec.decode(res.stdout) + dec.decode(res.stderr),
  };
}

Deno.test("stack:start on a running stack is a no-op", async () => {
  const { code, out } = await runStack("start");
  assert.equal(code, 0, out);
  assert.match(out, /postgres already running/);
  for (
    const s of [
      "postgrest",
      "net-dispatcher",
      "demo-site",
      "functions",
      "gateway",
    ]
  ) {
    assert.match(out, new RegExp(`${s} already running`), out);
  }
  assert.match(out, /up to date/i, "no migration applied again");
  assert.doesNotMatch(out, /initdb|Applying migration|starting /);
});

Deno.test("stack:env prints the five contract variables", async () => {
  const { code, out } = await runStack("env");
  assert.equal(code, 0);
  const keys = await stackKeys();
  // The contract ports (54321, 54322) at the default STACK_PORT_OFFSET of 0.
  assert.ok(
    out.includes(`\nSUPABASE_URL=http://127.0.0.1:${PORTS.gateway}\n`) ||
      out.startsWith(`SUPABASE_URL=http://127.0.0.1:${PORTS.gateway}\n`),
  );
  assert.ok(out.includes(`SUPABASE_ANON_KEY=${keys.anonKey}\n`));
  assert.ok(out.includes(`SUPABASE_SERVICE_ROLE_KEY=${keys.serviceRoleKey}\n`));
  assert.ok(
    out.includes(`SUPABASE_DB_URL=postgresql://postgres@127.0.0.1:${PORTS.postgres}/postgres\n`),
  );
  assert.match(
    out,
    /^SUPABASE_JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long$/m,
  );
});

Deno.test("supabase-js with the service key writes and reads a source", async () => {
  const db = await serviceDb();
  const url = `https://example.org/policy-${crypto.randomUUID()}`;
  const ins = await db.from("sources").insert({ name: "Service-key test", url })
    .select().single();
  assert.equal(ins.error, null, ins.error?.message);
  assert.equal(ins.data.active, true);
  assert.equal(ins.data.check_frequency, "daily");
  const read = await db.from("sources").select("id, url").eq("id", ins.data.id)
    .single();
  assert.equal(read.error, null);
  assert.equal(read.data.url, url);
  await db.from("sources").delete().eq("id", ins.data.id);
});

Deno.test("supabase-js with the anon key reads nothing and cannot write", async () => {
  const anon = await anonDb();
  for (
    const table of [
      "sources",
      "policy_changes",
      "subscriptions",
      "alerts",
      "job_runs",
      "snapshots",
    ]
  ) {
    const { data, error } = await anon.from(table).select("*");
    assert.ok(
      error !== null || (data ?? []).length === 0,
      `anon read rows of ${table}`,
    );
  }
  const ins = await anon.from("sources").insert({
    name: "anon",
    url: "https://example.org/anon",
  });
  assert.notEqual(ins.error, null, "anon insert must fail");
  const upd = await anon.from("sources").update({ active: false }).neq(
    "name",
    "",
  ).select();
  assert.ok(
    upd.error !== null || (upd.data ?? []).length === 0,
    "anon update changed rows",
  );
  const db = await serviceDb();
  const count = await db.from("sources").select("id", {
    count: "exact",
    head: true,
  }).eq(
    "name",
    "anon",
  );
  assert.equal(count.count, 0);
});

Deno.test("GET /functions/v1/api/health answers through the gateway", async () => {
  const res = await fetch(`${SUPABASE_URL}/functions/v1/api/health`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.status, "ok");
  assert.equal(body.database, "reachable");
});

Deno.test("the gateway serves the project's JWKS", async () => {
  const res = await fetch(`${SUPABASE_URL}/auth/v1/.well-known/jwks.json`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.keys[0].kty, "EC");
  assert.equal(body.keys[0].d, undefined, "private part must not be published");
});

Deno.test("the demo site serves its pages", async () => {
  for (
    const [path, type] of [
      ["/policies/visa-rules.html", "text/html"],
      ["/policies/terms.html", "text/html"],
      ["/policies/privacy.pdf", "application/pdf"],
    ]
  ) {
    const res = await fetch(`${DEMO_URL}${path}`);
    await res.body?.cancel();
    assert.equal(res.status, 200, path);
    assert.ok(res.headers.get("content-type")?.startsWith(type!), path);
  }
});

Deno.test("net.http_post sends after commit, never after rollback, and records the response", async () => {
  const received: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      received.push(await req.text());
      return Response.json({ ok: true }, { status: 201 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}/hook`;
  const sql = sqlClient();
  try {
    const marker = crypto.randomUUID();
    await sql.begin(async (tx) => {
      await tx`select net.http_post(${url}, jsonb_build_object('marker', ${
        "rolled-back-" + marker
      }::text))`;
      await tx`select 1/0`; // fail → rollback
    }).catch(() => {});
    const [row] = await sql<
      { id: string }[]
    >`select net.http_post(url := ${url}, body := jsonb_build_object('marker', ${marker}::text), timeout_milliseconds := 3000)::text as id`;
    const id = row!.id;
    const response = await eventually("a recorded response", async () => {
      const rows = await sql<
        {
          status_code: number;
          content: string;
          timed_out: boolean;
          error_msg: string | null;
        }[]
      >`select status_code, content, timed_out, error_msg from net._http_response where id = ${id}`;
      return rows[0];
    });
    assert.equal(response.status_code, 201);
    assert.deepEqual(JSON.parse(response.content), { ok: true });
    assert.equal(response.timed_out, false);
    assert.equal(response.error_msg, null);
    // Let the dispatcher poll at least once more: the rolled-back request must never come.
    await new Promise((r) => setTimeout(r, 1_200));
    assert.deepEqual(received.map((b) => JSON.parse(b).marker), [marker]);
  } finally {
    await sql.end();
    await server.shutdown();
  }
});

Deno.test("net.http_get records a connection error without a status", async () => {
  const sql = sqlClient();
  try {
    const [row] = await sql<{ id: string }[]>`
      select net.http_get('http://127.0.0.1:1/nothing-listens-here')::text as id`;
    const id = row!.id;
    const r = await eventually("an error response", async () => {
      const rows = await sql<
        { status_code: number | null; error_msg: string | null }[]
      >`
        select status_code, error_msg from net._http_response where id = ${id}`;
      return rows[0];
    });
    assert.equal(r.status_code, null);
    assert.ok(r.error_msg && r.error_msg.length > 0);
  } finally {
    await sql.end();
  }
});

/** The files a bundle's entry loads before it runs: its static imports of its own chunks. */
async function staticClosure(dir: string, entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = await Deno.readTextFile(`${dir}/${file}`);
    // `import … from "./chunk.js"` and `import "./chunk.js"`, not `import("./chunk.js")`.
    for (const m of code.matchAll(/(?:\bfrom|^import)\s*"\.\/([^"]+)"/gm)) todo.push(m[1]!);
  }
  return seen;
}

Deno.test("the function's workers boot the bundle a deploy builds; lazy packages stay out of its entry", async () => {
  const supervisor = Number((await Deno.readTextFile(`${STATE_DIR}/pids/functions.pid`)).trim());
  const children: number[] = [];
  for await (const t of Deno.readDir(`/proc/${supervisor}/task`)) {
    const list = await Deno.readTextFile(`/proc/${supervisor}/task/${t.name}/children`);
    children.push(...list.trim().split(/\s+/).filter((x) => x !== "").map(Number));
  }
  assert.ok(children.length > 0, "the functions slot has a worker process");
  const worker = children[0]!;
  const args = (await Deno.readTextFile(`/proc/${worker}/cmdline`)).split("\0");
  assert.ok(args.includes("--no-config") && args.includes("--no-lock"), args.join(" "));
  const environ = (await Deno.readTextFile(`/proc/${worker}/environ`)).split("\0");
  const entry = environ.find((e) => e.startsWith("EDGE_WORKER_ENTRY="))?.slice(18) ?? "";
  assert.match(entry, /\/edge-bundle\/[0-9a-f]{16}\/index\.js$/);

  const dir = entry.slice(0, entry.lastIndexOf("/"));
  const closure = await staticClosure(dir, "index.js");
  const loaded = await Promise.all([...closure].map((f) => Deno.readTextFile(`${dir}/${f}`)));
  // esbuild names each module's origin in a comment: `// …/npm/<registry>/<pkg>/<version>/…`.
  const holds = (pkg: string) => {
    const origin = new RegExp(`^// \\S*/npm/[^/\\s]+/${pkg}/\\d`, "m");
    return loaded.some((code) => origin.test(code));
  };
  for (const pkg of ["cheerio", "parse5", "undici", "unpdf", "puppeteer-core", "feed", "diff"]) {
    assert.ok(!holds(pkg), `${pkg} is in the bundle's entry`);
  }
  assert.ok(holds("hono") && holds("@supabase/supabase-js"), "the entry holds the packages");
  // …and each of them is in a chunk of its own that the entry imports on first use.
  const all = await Array.fromAsync(Deno.readDir(dir));
  assert.ok(all.some((e) => e.name.startsWith("html_extractor-")), all.map((e) => e.name).join());
});
