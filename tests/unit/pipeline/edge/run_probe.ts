/**
 * Runs a probe script of tests/unit/pipeline/edge/ under deno-edge (Deno 2.1.4, the hosted
 * runtime's) with the function's import map and the stack's worker environment, as a
 * function worker would run it.
 * @module
 */
import assert from "node:assert/strict";
import { workerEnv } from "../../../../supabase/local/edge_runtime.ts";
import { REPO_ROOT } from "../../../../supabase/local/ports.ts";
import { bundleModule } from "../../../../supabase/local/stack.ts";

/** The stack's worker binary. */
export const DENO_EDGE = `${REPO_ROOT}/tools/npm/node_modules/deno-edge/deno`;

/**
 * Runs `tests/unit/pipeline/edge/<probe>` with `args` (`flags` before the script) and
 * returns the JSON of its last line of output; fails the test when the probe died.
 */
export async function runEdgeProbe(
  probe: string,
  args: string[],
  flags: string[] = [],
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  return await runUnderDenoEdge([
    ...flags,
    "--config",
    "functions/api/deno.json",
    `tests/unit/pipeline/edge/${probe}`,
    ...args,
  ], {});
}

/**
 * Bundles `tests/unit/pipeline/edge/<probe>` as the stack bundles the function
 * (supabase/local/stack.ts bundleModule) and runs the bundle as a worker boots one: no config,
 * no lock, the Node globals of edge_node_globals.ts (bundled_entry.ts).
 */
// deno-lint-ignore no-explicit-any
export async function runBundledEdgeProbe(probe: string, args: string[]): Promise<any> {
  const dir = await Deno.makeTempDir({ prefix: "edge-probe-bundle-" });
  try {
    const entry = await bundleModule(
      `${REPO_ROOT}/tests/unit/pipeline/edge/${probe}`,
      `${REPO_ROOT}/functions/api/deno.json`,
      `${dir}/out`,
    );
    return await runUnderDenoEdge(
      ["--no-config", "--no-lock", "tests/unit/pipeline/edge/bundled_entry.ts", ...args],
      { EDGE_PROBE_BUNDLE: entry },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// deno-lint-ignore no-explicit-any
async function runUnderDenoEdge(argv: string[], env: Record<string, string>): Promise<any> {
  const out = await new Deno.Command(DENO_EDGE, {
    args: ["run", "-A", ...argv],
    cwd: REPO_ROOT,
    // the stack's worker environment (cache, CA file)
    env: { ...workerEnv(Deno.env.toObject()), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `the probe died: ${stderr.slice(-2000)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}
