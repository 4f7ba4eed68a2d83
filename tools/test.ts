/**
 * `deno task test`: brings the local stack up (idempotent), runs every Deno test (unit and
 * integration), the schema check (supabase/schema.sql is the dump of the migrations,
 * tools/schema.ts) and the pgTAP suites, and closes with one line `tests: N passed, N failed`
 * counting both. Exit status 0 only when everything passed.
 *
 *   deno task test                 # everything
 *   deno task test tests/unit      # only these Deno test paths (plus no pgTAP)
 *   deno task test --only-db       # only the schema check and pgTAP
 * @module
 */
import { start } from "../supabase/local/stack.ts";
import { DB_URL, REPO_ROOT } from "../supabase/local/ports.ts";
import { checkSchema } from "./schema.ts";
import { errorMessage } from "../shared/errors.ts";

async function runTee(
  cmd: string,
  args: string[],
): Promise<{ code: number; text: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    text += dec.decode(chunk, { stream: true });
    if (text.length > 200_000) text = text.slice(-100_000);
  }
  const status = await child.status;
  return { code: status.code, text };
}

// deno test's closing line, colours stripped: "ok | 12 passed (3 steps) | 0 failed (2s)".
function denoCounts(text: string): { passed: number; failed: number } | null {
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  const m = [
    ...plain.matchAll(/^(?:ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed/gm),
  ].at(-1);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
}

function proveCounts(text: string): { passed: number; failed: number } | null {
  const total = text.match(/Files=\d+, Tests=(\d+)/);
  if (!total) return null;
  // One line per file of the "Test Summary Report": its failed tests, and a file that
  // exited non-zero or broke its plan (died midway: Failed 0) counts as one failure.
  let failed = 0;
  for (
    const m of text.matchAll(
      /\(Wstat: (\d+)[^)]*\)? Tests: \d+ Failed: (\d+)\)([^\n]*\n(?:\s+[^\n]*\n)*)/g,
    )
  ) {
    const tests = Number(m[2]);
    const broke = Number(m[1]) !== 0 || /Parse errors/.test(m[3] ?? "");
    failed += tests > 0 ? tests : broke ? 1 : 0;
  }
  return { passed: Math.max(0, Number(total[1]) - failed), failed };
}

async function pgTapFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${REPO_ROOT}/supabase/tests`)) {
    if (e.isFile && e.name.endsWith(".sql")) {
      files.push(`supabase/tests/${e.name}`);
    }
  }
  return files.sort();
}

if (import.meta.main) {
  const onlyDb = Deno.args.includes("--only-db");
  const paths = Deno.args.filter((a) => !a.startsWith("--"));
  let passed = 0;
  let failed = 0;
  let ok = true;

  await start();

  if (!onlyDb) {
    const r = await runTee(Deno.execPath(), [
      "test",
      "-A",
      ...(paths.length ? paths : ["tests/"]),
    ]);
    const c = denoCounts(r.text);
    if (c) {
      passed += c.passed;
      failed += c.failed;
    }
    if (!c) {
      console.error(
        "deno test closed without a summary (type check or load failure): counted as 1 failed",
      );
      failed += 1;
    }
    if (r.code !== 0 || !c) ok = false;
  }
  if (paths.length === 0) {
    // supabase/schema.sql must be the dump of the migrations (counts as one test).
    try {
      const diff = await checkSchema();
      if (diff) {
        console.log(diff);
        console.error(
          "schema check FAILED: supabase/schema.sql is stale: run `deno task schema:dump` and commit it",
        );
        failed += 1;
        ok = false;
      } else {
        console.log("schema check ok: supabase/schema.sql matches the migrations");
        passed += 1;
      }
    } catch (error) {
      console.error(`schema check FAILED: ${errorMessage(error)}`);
      failed += 1;
      ok = false;
    }
    const u = new URL(DB_URL);
    const r = await runTee("pg_prove", [
      "-h",
      u.hostname,
      "-p",
      u.port,
      "-U",
      u.username,
      "-d",
      u.pathname.slice(1),
      ...(await pgTapFiles()),
    ]);
    const c = proveCounts(r.text);
    if (c) {
      passed += c.passed;
      failed += c.failed;
    }
    if (!c) {
      console.error("pg_prove closed without a summary: counted as 1 failed");
      failed += 1;
    }
    if (r.code !== 0 || !c) ok = false;
  }
  console.log(`tests: ${passed} passed, ${failed} failed`);
  Deno.exit(ok && failed === 0 ? 0 : 1);
}
