/**
 * What the hosted edge runtime puts around a function, for the local stack's edge profile
 * (run by {@link ./edge_runtime.ts} under the Deno the hosted runtime embeds): it loads the
 * function's entry point (`EDGE_WORKER_ENTRY`) and
 *
 * - makes `process.cpuUsage()` read `{user: 0, system: 0}` and `rss` of
 *   `Deno.memoryUsage()` / `process.memoryUsage()` read 0, as on hosted, so no code relies
 *   on them unnoticed (the supervisor measures CPU and memory from outside);
 * - binds the function's `Deno.serve()` to the port the supervisor chose (the runtime, not
 *   the function, decides where it listens);
 * - provides `EdgeRuntime.waitUntil(promise)` and counts the background tasks still running,
 *   so the supervisor can drop a retired worker once it is idle, as the runtime does;
 * - dispatches the runtime's shutdown notice, a `beforeunload` event with
 *   `detail.reason`, when the supervisor asks for it;
 * - exits when the supervisor is gone (its stdin pipe closes), as a worker dies with its
 *   runtime.
 *
 * One local kindness: a request body the function answered without reading is read away
 * (see below). A third-party measurement on supabase-edge-runtime 1.74.3 reports that such
 * an answer may never reach the client on hosted; functions/api refuses big bodies unread.
 *
 * Paths under `/__edge/` are the supervisor's control channel; the supervisor never
 * forwards them from outside.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import process from "node:process";

const port = Number(Deno.env.get("EDGE_WORKER_PORT"));
const entry = Deno.env.get("EDGE_WORKER_ENTRY");
if (!Number.isInteger(port) || port <= 0 || !entry) {
  throw new Error(
    "Cannot start the edge worker: EDGE_WORKER_PORT and EDGE_WORKER_ENTRY are required",
  );
}

// Hosted reads: no CPU clock and no resident set size inside the isolate.
process.cpuUsage = (() => ({ user: 0, system: 0 })) as typeof process.cpuUsage;
const realMemoryUsage = Deno.memoryUsage;
Deno.memoryUsage = () => ({ ...realMemoryUsage(), rss: 0 });
const realProcessMemory = process.memoryUsage;
process.memoryUsage = Object.assign(() => ({ ...realProcessMemory(), rss: 0 }), {
  rss: () => 0,
}) as typeof process.memoryUsage;

let pending = 0;
// Background tasks by the request that started them (the supervisor's x-edge-request-id), so
// the supervisor can close a request's CPU window when its background work is done too.
const requestOf = new AsyncLocalStorage<string>();
const pendingByRequest = new Map<string, number>();
(globalThis as { EdgeRuntime?: unknown }).EdgeRuntime = {
  waitUntil(promise: Promise<unknown>): void {
    pending++;
    const id = requestOf.getStore();
    if (id !== undefined) pendingByRequest.set(id, (pendingByRequest.get(id) ?? 0) + 1);
    Promise.resolve(promise).finally(() => {
      pending--;
      if (id === undefined) return;
      const left = (pendingByRequest.get(id) ?? 1) - 1;
      if (left > 0) pendingByRequest.set(id, left);
      else pendingByRequest.delete(id);
    }).catch(() => {});
  },
};

type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

async function control(req: Request, path: string): Promise<Response> {
  if (path === "/__edge/state") {
    // The isolate's memory as the hosted runtime counts it (edge-runtime's base_mem_check
    // reads V8's heap statistics: heap and external memory), not the process's RSS.
    const m = realMemoryUsage();
    return Response.json({
      pending,
      requests: Object.fromEntries(pendingByRequest),
      isolate_bytes: m.heapTotal + m.external,
    });
  }
  if (path === "/__edge/beforeunload" && req.method === "POST") {
    const { reason } = await req.json() as { reason?: string };
    globalThis.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason } }));
    return Response.json({ dispatched: true });
  }
  return new Response(null, { status: 404 });
}

const realServe = Deno.serve;
let served = false;
// The function calls Deno.serve(handler) (or with options); the runtime owns the socket.
Deno.serve = ((...args: unknown[]) => {
  if (served) throw new Error("Cannot serve twice from one edge function");
  served = true;
  const handler = args.find((a) => typeof a === "function") as Handler | undefined ??
    (args.find((a) => typeof a === "object" && a !== null && "handler" in a) as
      | { handler: Handler }
      | undefined)?.handler;
  if (!handler) throw new Error("Cannot serve: Deno.serve() was given no handler");
  return realServe({
    hostname: "127.0.0.1",
    port,
    onListen: () => console.error(`[edge-worker] ${Deno.version.deno} listening on ${port}`),
  }, async (req, info) => {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/__edge/")) return await control(req, path);
    const id = req.headers.get("x-edge-request-id") ?? "";
    return await requestOf.run(id, () => serveOne(handler, req, info));
  });
}) as typeof Deno.serve;

async function serveOne(
  handler: Handler,
  req: Request,
  info: Deno.ServeHandlerInfo,
): Promise<Response> {
  if (req.body === null) return await handler(req, info);
  // The function reads one branch of the body; the other is read away, so a request
  // answered before its body was read (a 413 that refuses it unread) is still read to
  // its end: this Deno's server would otherwise close the connection while the client
  // is still sending, and the client would never see the answer.
  const [forFunction, forDrain] = req.body.tee();
  const drained = forDrain.pipeTo(new WritableStream()).catch(() => {});
  const res = await handler(new Request(req, { body: forFunction }), info);
  // Answer once the body is in (or after a second, for a client that stalls mid-body).
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, 1_000)))]);
  clearTimeout(timer);
  return res;
}

// The supervisor holds our stdin open; end of file means it died (SIGKILL included).
(async () => {
  for await (const _ of Deno.stdin.readable) { /* nothing is ever sent */ }
  Deno.exit(0);
})();

// `STACK_EDGE_CPU_PROFILE=<dir>` (a bench's diagnosis, off by default): the worker's whole life,
// boot included, under V8's sampling profiler; written to <dir>/worker-<pid>.cpuprofile when
// the supervisor ends the worker (SIGTERM after its retirement). Nothing is loaded without it.
const profileDir = Deno.env.get("STACK_EDGE_CPU_PROFILE");
if (profileDir) {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (e, r) => (e ? reject(e) : resolve(r)))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 500 });
  await post("Profiler.start");
  let stopping = false;
  Deno.addSignalListener("SIGTERM", async () => {
    if (stopping) return; // a second notice while the profile is written
    stopping = true;
    const { profile } = await post("Profiler.stop") as { profile: unknown };
    await Deno.mkdir(profileDir, { recursive: true });
    await Deno.writeTextFile(
      `${profileDir}/worker-${Deno.pid}.cpuprofile`,
      JSON.stringify(profile),
    );
    Deno.exit(0);
  });
}

// A bundle (EDGE_BUNDLED=1: what the stack builds, as a deploy does) needs the Node globals
// Deno 2.1.4 gives npm modules only (edge_node_globals.ts).
if (Deno.env.get("EDGE_BUNDLED") === "1") {
  const { installNodeGlobals } = await import("./edge_node_globals.ts");
  installNodeGlobals();
}

await import(new URL(entry, `file://${Deno.cwd()}/`).href);
