/**
 * The fetcher's two I/O paths under the Deno the hosted edge runtime embeds (2.1.4, tools/npm
 * `deno-edge`), which differs from the project's Deno where memory is at stake: its `fetch`
 * and its node:http both inflate gzip themselves, `fetch` hands out 4 KB views of 64 KB
 * buffers (two bombs held 320 MB before the fetcher compacted them), and a cancelled
 * `Readable.toWeb` body throws an uncaught error that ends the worker, and its node:http has
 * no `lookup`. The pinned case fetches a name no resolver knows, so only a connection to the
 * checked address can reach it. Each case runs
 * edge/gzip_bombs_probe.ts in a deno-edge process with the function's import map.
 */
import assert from "node:assert/strict";
import { workerEnv } from "../../../supabase/local/edge_runtime.ts";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";
import { DENO_EDGE, runEdgeProbe } from "./edge/run_probe.ts";

/** What one worker may grow by (issue 11: "no worker grows by more than 128 MB"). */
const GROWTH_LIMIT = 128 * 1024 * 1024;

for (const path of ["fetch", "pinned"]) {
  Deno.test(`Deno 2.1.4 (${path} path): four gzip bombs at once are too_large, the worker lives and grows < 128 MB`, async () => {
    const result = await runEdgeProbe("gzip_bombs_probe.ts", [path, "4"]);
    assert.equal(result.version, "2.1.4");
    const classes = (result.classes as string[]).map((c) => c.split(":")[0]);
    assert.deepEqual(classes, ["too_large", "too_large", "too_large", "too_large"], result.classes);
    assert.ok(
      result.peak - result.before < GROWTH_LIMIT,
      `heap + external grew by ${Math.round((result.peak - result.before) / 1e6)} MB`,
    );
  });
}

Deno.test("Deno 2.1.4: the pinned connection's tests pass (address pinning, TLS name, HTTP/1.1 reading)", async () => {
  const out = await new Deno.Command(DENO_EDGE, {
    args: [
      "test",
      "-A",
      "--no-lock",
      "--config",
      "functions/api/deno.json",
      "tests/unit/pipeline/pinned_connect_test.ts",
      "tests/unit/pipeline/pinned_http_test.ts",
    ],
    cwd: REPO_ROOT,
    env: { ...workerEnv(Deno.env.toObject()), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text.slice(-3000));
  assert.match(text, /ok \| \d+ passed \| 0 failed/);
});
