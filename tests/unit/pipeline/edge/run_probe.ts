/**
 * Runs a probe script of tests/unit/pipeline/edge/ under deno-edge (Deno 2.1.4, the hosted
 * runtime's) with the function's import map and the stack's worker environment, as a
 * function worker would run it.
 * @module
 */
import assert from "node:assert/strict";
import { workerEnv } from "../../../../supabase/local/edge_runtime.ts";
import { REPO_ROOT } from "../../../../supabase/local/ports.ts";

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
  const out = await new Deno.Command(DENO_EDGE, {
    args: [
      "run",
      "-A",
      ...flags,
      "--config",
      "functions/api/deno.json",
      `tests/unit/pipeline/edge/${probe}`,
      ...args,
    ],
    cwd: REPO_ROOT,
    env: workerEnv(Deno.env.toObject()), // the stack's worker environment (cache, CA file)
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `the probe died: ${stderr.slice(-2000)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}
