/**
 * The edge-runtime profile (supabase/local/edge_runtime.ts): a request over each hosted
 * limit is ended with its worker and logged, one line per kill. A slot of its own serves
 * the test function tests/fixtures/edge_limits_function through the same supervisor and
 * worker shim as the stack's `api` slots, under deno-edge, with hosted's CPU and memory
 * limits (the wall clock is shortened, as STACK_EDGE_WALL_MS allows, so a test takes
 * seconds, not 150 s).
 */
import assert from "node:assert/strict";
import {
  type EdgeLimits,
  edgeLimitsFromEnv,
  EdgeSlot,
  workerEnv,
} from "../../../supabase/local/edge_runtime.ts";
import { freePort, REPO_ROOT } from "../../../supabase/local/ports.ts";

const FIXTURE = `${REPO_ROOT}/tests/fixtures/edge_limits_function`;
const DENO_EDGE = `${REPO_ROOT}/tools/npm/node_modules/deno-edge/deno`;

async function withSlot(
  limits: Partial<EdgeLimits>,
  fn: (call: (path: string) => Promise<Response>, log: () => Promise<string[]>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edge-limits-" });
  const limitsLog = `${dir}/limits.log`;
  const port = freePort();
  const env = workerEnv(Deno.env.toObject());
  const slot = new EdgeSlot({
    name: "edge-test",
    port,
    entrypoint: `${FIXTURE}/index.ts`,
    config: `${FIXTURE}/deno.json`,
    deno: DENO_EDGE,
    env,
    limits: { ...edgeLimitsFromEnv({}), ...limits },
    limitsLog,
  });
  await slot.start();
  try {
    await fn(
      (path) => fetch(`http://127.0.0.1:${port}${path}`),
      async () =>
        (await Deno.readTextFile(limitsLog).catch(() => "")).split("\n").filter((l) => l !== ""),
    );
  } finally {
    await slot.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function field(line: string, name: string): string {
  return line.match(new RegExp(`\\b${name}=(\\S+)`))?.[1] ?? "";
}

/** The line of the one kill in `lines`, asserting its `limit` and, given, `measured` ≥ `min`. */
function oneKill(lines: string[], limit: string, min?: number): string {
  assert.equal(lines.length, 1, lines.join("\n"));
  const line = lines[0]!;
  console.log(`limits.log: ${line}`); // the kill as an operator reads it
  assert.equal(field(line, "limit"), limit);
  if (min !== undefined) assert.ok(parseInt(field(line, "measured")) >= min, line);
  return line;
}

Deno.test("edge profile: the function runs under the hosted Deno with hosted's readings", async () => {
  await withSlot({}, async (call, log) => {
    const res = await call("/probe");
    const probe = await res.json();
    assert.equal(res.status, 200);
    assert.equal(probe.deno, "2.1.4");
    assert.deepEqual(probe.cpu_usage, { user: 0, system: 0 });
    assert.equal(probe.rss, 0);
    assert.equal(probe.process_rss, 0);
    assert.ok(probe.heap_used > 0, "heap readings stay");
    assert.equal(probe.wait_until, "function");
    assert.equal((await call("/__edge/state")).status, 404, "control paths are not public");
    assert.deepEqual(await log(), []);
  });
});

Deno.test("edge profile: a request over 2 s of CPU is ended with its worker, and so is its neighbour", async () => {
  await withSlot({}, async (call, log) => {
    const neighbour = call("/sleep?ms=30000");
    await new Promise((r) => setTimeout(r, 200));
    const res = await call("/cpu?cpu_ms=20000");
    assert.equal(res.status, 546);
    assert.equal((await res.json()).code, "WORKER_LIMIT");
    const other = await neighbour;
    assert.equal(other.status, 546, "the other request on the worker dies too");
    await other.body?.cancel();
    const line = oneKill(await log(), "cpu", 2000);
    assert.equal(field(line, "max"), "2000ms");
    assert.equal(field(line, "requests"), "2");
    assert.match(line, /path=.*GET \/cpu/);
    assert.match(line, /GET \/sleep/);
    // The next request gets a fresh worker.
    const again = await call("/probe");
    assert.equal(again.status, 200);
    await again.body?.cancel();
  });
});

Deno.test("edge profile: CPU burnt in EdgeRuntime.waitUntil after the response counts too", async () => {
  await withSlot({}, async (call, log) => {
    const res = await call("/background?cpu_ms=20000");
    assert.equal(res.status, 202);
    await res.body?.cancel();
    let lines: string[] = [];
    for (let i = 0; i < 600 && lines.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = await log();
    }
    assert.match(oneKill(lines, "cpu"), /path=\(background of GET \/background\)/);
  });
});

Deno.test("edge profile: a request over 256 MB is ended with its worker", async () => {
  await withSlot({}, async (call, log) => {
    const res = await call("/memory?mb=1024");
    assert.equal(res.status, 546);
    await res.body?.cancel();
    assert.match(oneKill(await log(), "memory", 256), /path=GET \/memory/);
  });
});

Deno.test("edge profile: the wall clock retires a worker with a beforeunload notice, then ends it", async () => {
  await withSlot({ wallMs: 3_000 }, async (call, log) => {
    const [heeded, ignored] = await Promise.all([
      call("/sleep?ms=20000&notice=1"),
      call("/sleep?ms=20000"),
    ]);
    assert.equal(heeded.status, 200);
    assert.deepEqual(await heeded.json(), { slept: false, beforeunload: "wall_clock" });
    assert.equal(ignored.status, 546, "a request still running at the wall clock dies");
    await ignored.body?.cancel();
    assert.match(oneKill(await log(), "wall_clock", 3000), /path=GET \/sleep/);
  });
});

Deno.test("edge profile: STACK_EDGE_LIMITS=off lets a request run past the limits", async () => {
  assert.equal(edgeLimitsFromEnv({ STACK_EDGE_LIMITS: "off" }).enabled, false);
  await withSlot({ enabled: false }, async (call, log) => {
    const res = await call("/cpu?cpu_ms=2300");
    assert.equal(res.status, 200);
    assert.ok((await res.json()).burnt_ms >= 2300);
    assert.deepEqual(await log(), []);
  });
});
