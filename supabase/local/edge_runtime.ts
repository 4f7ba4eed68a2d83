/**
 * The local stack's edge-runtime profile: a supervisor that serves one function port, runs
 * the function in a worker process under the Deno the hosted edge runtime embeds
 * (`deno-edge` in tools/npm: supabase-edge-runtime 1.74.3, pinned by CLI 2.117.0, is
 * "compatible with Deno v2.1.4"), and enforces hosted's limits on that worker from
 * OUTSIDE the function: CPU from `/proc/<pid>` of the worker process, memory as the
 * runtime counts it (edge-runtime's crates/base_mem_check reads V8's heap statistics, heap
 * and external memory; the worker shim reports them, the function cannot change them):
 *
 * | limit                 | hosted (docs: guides/functions/limits)   | here                                        |
 * | --------------------- | ---------------------------------------- | ------------------------------------------- |
 * | CPU time              | 2 s                                      | `STACK_EDGE_CPU_MS` (2000), main thread     |
 * | memory                | 256 MB                                   | `STACK_EDGE_MEMORY_MB` (256), V8 heap+ext.  |
 * | wall clock of worker  | 150 s free, 400 s paid                   | `STACK_EDGE_WALL_MS` (150000)               |
 * | request idle timeout  | 150 s without a response → 504           | `STACK_EDGE_IDLE_MS` (150000)               |
 *
 * Semantics follow supabase/edge-runtime's per-worker supervisor
 * (crates/base/src/worker/supervisor/strategy_per_worker.rs): CPU time is accumulated over
 * the worker's life, across every request and background task it runs (so concurrent
 * requests share one budget: the stack charges each of them the worker's whole CPU, the
 * conservative reading); reaching half of the wall clock, the CPU soft limit (half the hard
 * one by default: 1 s, as the Supabase CLI's own emulation of hosted creates its user workers,
 * `cpuTimeSoftLimitMs: 1000, cpuTimeHardLimitMs: 2000` in supabase/cli
 * internal/functions/serve/templates/main.ts) or half of the
 * memory limit retires the worker (new requests go to a fresh worker; a retired worker is
 * dropped once its requests and `EdgeRuntime.waitUntil` tasks are done, after a
 * `beforeunload` event); reaching a hard limit terminates the worker with every request it
 * still serves, which then get 546 `WORKER_LIMIT`, and writes one line to `limits.log`.
 * Boot (module loading) is not charged, as the runtime reports it apart. `STACK_EDGE_LIMITS=off`
 * turns every limit off (workers still run under deno-edge with the hosted shims).
 * @module
 */

import { errorMessage } from "../../shared/errors.ts";
import { freePort, portOpen } from "./ports.ts";

/** The limits one slot enforces. */
export interface EdgeLimits {
  enabled: boolean;
  /** Hard CPU limit of a worker (ms of CPU time of its main thread, where the isolate runs). */
  cpuMs: number;
  /** Soft CPU limit: the worker is retired (no new requests). */
  cpuSoftMs: number;
  memoryMb: number;
  wallMs: number;
  idleMs: number;
}

/** Reads the limits from `STACK_EDGE_*` variables (hosted's free-plan values by default). */
export function edgeLimitsFromEnv(env: Record<string, string | undefined>): EdgeLimits {
  const num = (name: string, def: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return def;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) {
      throw new Error(`Cannot use ${name}=${raw}: not a number of at least ${min}`);
    }
    return v;
  };
  const cpuMs = num("STACK_EDGE_CPU_MS", 2_000, 10);
  return {
    enabled: (env.STACK_EDGE_LIMITS ?? "on").toLowerCase() !== "off",
    cpuMs,
    cpuSoftMs: num("STACK_EDGE_CPU_SOFT_MS", cpuMs / 2, 1),
    memoryMb: num("STACK_EDGE_MEMORY_MB", 256, 16),
    wallMs: num("STACK_EDGE_WALL_MS", 150_000, 100),
    idleMs: num("STACK_EDGE_IDLE_MS", 150_000, 100),
  };
}

/**
 * The environment of a worker process from the supervisor's: deno-edge keeps a cache of its
 * own (`EDGE_DENO_DIR`, default ~/.cache/deno-edge: its npm cache layout is not the project
 * Deno's) and reads the machine's CA bundle through DENO_CERT.
 */
export function workerEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...env, DENO_NO_UPDATE_CHECK: "1" };
  out.DENO_DIR = env.EDGE_DENO_DIR ?? `${env.HOME ?? "/root"}/.cache/deno-edge`;
  const cert = env.DENO_CERT ?? env.SSL_CERT_FILE;
  if (cert) out.DENO_CERT = cert;
  return out;
}

/** How one slot runs its function. */
export interface EdgeSlotOptions {
  /** Name in logs (e.g. `functions`). */
  name: string;
  /** Port the slot listens on (the gateway's upstream). */
  port: number;
  /** Function entry point, absolute path. */
  entrypoint: string;
  /** The function's deno.json, absolute path. */
  config: string;
  /** The deno binary of the hosted runtime's version. */
  deno: string;
  /** Environment of the worker process (what hosted gives a function). */
  env: Record<string, string>;
  limits: EdgeLimits;
  /** Where kills are written, one line each. */
  limitsLog: string;
  /**
   * Where each request's window is written, one JSON line each: from its arrival until its
   * answer and the background tasks it started (`EdgeRuntime.waitUntil`) are done, the
   * worker's CPU and peak isolate memory over it (requests overlapping on one worker are each
   * charged all of it: an upper bound).
   */
  requestsLog?: string;
  /** Milliseconds between two readings of /proc (default 25). */
  sampleMs?: number;
  /**
   * A lock file of the function's graph (Deno 2.1.4's lock format) that workers boot with,
   * frozen. Without one a worker runs `--no-lock` and resolves every npm package from its
   * registry metadata at each boot: ~1.4 s of CPU and seconds of wall time on this
   * machine, which the hosted runtime never spends (it boots the bundle the CLI built at
   * deploy: supabase.com/docs/guides/functions/limits, "After bundling using CLI").
   */
  lockFile?: string;
  /**
   * The entry point is a bundle of the function (supabase/local/stack.ts bundleFunction: what
   * a deploy builds and hosted boots), self-contained: workers run it with `--no-config
   * --no-lock` and resolve no npm package at boot.
   */
  bundled?: boolean;
}

interface InFlight {
  path: string;
  abort: AbortController;
}

interface Window {
  id: string;
  path: string;
  startedAt: number;
  cpuTicks: number;
  isolatePeakMb: number;
  status: number | null;
  answered: boolean;
  overlapped: boolean;
}

interface Worker {
  seq: number;
  child: Deno.ChildProcess;
  pid: number;
  port: number;
  readyAt: number;
  cpuTicks0: number;
  retired: boolean;
  dead: boolean;
  killedBy: string | null;
  inflight: Set<InFlight>;
  lastPaths: string[];
  lastState: number;
  cpuMs: number;
  rssMb: number;
  /** Heap + external memory of the isolate, as the runtime counts it (MB). */
  isolateMb: number;
  lastMemory: number;
  windows: Map<string, Window>;
}

const EDGE_WORKER = new URL("./edge_worker.ts", import.meta.url).pathname;
const TICK_MS = 10; // USER_HZ = 100 on Linux (getconf CLK_TCK)
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

/** CPU ticks (utime + stime) of a `/proc/…/stat` file, or null when its process is gone. */
function statTicks(path: string): number | null {
  try {
    const stat = Deno.readTextFileSync(path);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** CPU ticks of a process's main thread, or null when it is gone. */
const mainThreadTicks = (pid: number) => statTicks(`/proc/${pid}/task/${pid}/stat`);
/** CPU ticks of a whole process, every thread, or null when it is gone. */
const processTicks = (pid: number) => statTicks(`/proc/${pid}/stat`);

/**
 * Anonymous resident memory of a process in MB (`RssAnon`: heap, malloc arenas, JIT code),
 * or null when it is gone. File-backed pages (the 140 MB deno binary's code) are left out:
 * hosted charges the isolate's memory, not the runtime binary's.
 */
function anonRssMb(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = status.match(/^RssAnon:\s+(\d+) kB/m)?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

function errorJson(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status });
}

/** One function port of the local edge runtime: its current worker and the retired ones. */
export class EdgeSlot {
  readonly options: EdgeSlotOptions;
  #server: Deno.HttpServer | null = null;
  #current: Worker | null = null;
  #booting: Promise<Worker> | null = null;
  #workers = new Set<Worker>();
  #seq = 0;
  #requests = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: EdgeSlotOptions) {
    this.options = options;
  }

  /** Listens on the slot's port and boots the first worker. */
  async start(): Promise<void> {
    await this.#worker();
    this.#timer = setInterval(() => this.#sample(), this.options.sampleMs ?? 25);
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: this.options.port,
      onListen: () => {},
    }, (req) => this.handle(req));
  }

  /** Stops serving and ends every worker. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#server?.shutdown();
    for (const w of this.#workers) this.#end(w);
    await Promise.all([...this.#workers].map((w) => w.child.status.catch(() => {})));
  }

  /** Pids of the live workers (tests). */
  get workerPids(): number[] {
    return [...this.#workers].filter((w) => !w.dead).map((w) => w.pid);
  }

  async #boot(): Promise<Worker> {
    const port = freePort();
    const child = new Deno.Command(this.options.deno, {
      args: [
        "run",
        "-A",
        "--no-prompt",
        ...(this.options.bundled ? ["--no-lock", "--no-config"] : [
          ...(this.options.lockFile
            ? ["--lock", this.options.lockFile, "--frozen"]
            : ["--no-lock"]),
          "--config",
          this.options.config,
        ]),
        EDGE_WORKER,
      ],
      env: {
        ...this.options.env,
        EDGE_WORKER_PORT: String(port),
        EDGE_WORKER_ENTRY: this.options.entrypoint,
      },
      clearEnv: true,
      // Never written: when this supervisor dies, the worker reads end of file and exits.
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    let exited = false;
    child.status.then(() => (exited = true));
    const spawnedAt = Date.now();
    const until = spawnedAt + 120_000;
    while (!(await portOpen(port))) {
      if (exited) throw new Error(`Cannot boot a worker of ${this.options.name}: it exited`);
      if (Date.now() > until) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        throw new Error(`Cannot boot a worker of ${this.options.name}: not listening after 120 s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const worker: Worker = {
      seq: ++this.#seq,
      child,
      pid: child.pid,
      port,
      readyAt: Date.now(),
      cpuTicks0: mainThreadTicks(child.pid) ?? 0,
      retired: false,
      dead: false,
      killedBy: null,
      inflight: new Set(),
      lastPaths: [],
      lastState: 0,
      cpuMs: 0,
      rssMb: 0,
      isolateMb: 0,
      lastMemory: 0,
      windows: new Map(),
    };
    // What a boot costs (benches count boots from these lines): wall time until the worker
    // listens, CPU of its main thread and of all its threads by then.
    console.error(
      `[edge-runtime] ${this.options.name}: worker ${worker.seq} booted from ${
        this.options.bundled ? "the bundle" : "the sources"
      } in ${Date.now() - spawnedAt} ms: cpu ${worker.cpuTicks0 * TICK_MS} ms main thread, ${
        (processTicks(child.pid) ?? 0) * TICK_MS
      } ms all threads`,
    );
    child.status.then(() => {
      worker.dead = true;
      this.#workers.delete(worker);
      if (this.#current === worker) this.#current = null;
      for (const f of worker.inflight) f.abort.abort();
      const ticks = worker.cpuTicks0 + worker.cpuMs / TICK_MS;
      for (const win of worker.windows.values()) {
        this.#close(worker, win, ticks, worker.killedBy ?? "worker exit");
      }
    });
    this.#workers.add(worker);
    return worker;
  }

  /** The worker new requests go to: the current one, or a fresh one. */
  #worker(): Promise<Worker> {
    const w = this.#current;
    if (w && !w.dead && !w.retired) return Promise.resolve(w);
    this.#booting ??= this.#boot().then((fresh) => {
      this.#current = fresh;
      return fresh;
    }).finally(() => (this.#booting = null));
    return this.#booting;
  }

  /** Proxies one request to the current worker, within the request idle timeout. */
  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/__edge/")) {
      return errorJson(404, "NOT_FOUND", "Requested function was not found");
    }
    let worker: Worker;
    try {
      worker = await this.#worker();
    } catch (e) {
      console.error(`[edge-runtime] ${errorMessage(e)}`);
      return errorJson(503, "BOOT_ERROR", "Worker failed to boot (please check logs)");
    }
    const entry: InFlight = { path: `${req.method} ${url.pathname}`, abort: new AbortController() };
    worker.inflight.add(entry);
    worker.lastPaths = [entry.path, ...worker.lastPaths].slice(0, 3);
    const window = this.#open(worker, entry.path);
    const done = (): void => {
      worker.inflight.delete(entry);
      window.answered = true;
    };
    const headers = new Headers(req.headers);
    for (const h of HOP_BY_HOP) headers.delete(h);
    headers.set("x-edge-request-id", window.id);
    // fetch() would decompress a compressed answer and keep its content-encoding header.
    headers.set("accept-encoding", "identity");
    let idle = false;
    const idleTimer = this.options.limits.enabled
      ? setTimeout(() => {
        idle = true;
        entry.abort.abort();
      }, this.options.limits.idleMs)
      : null;
    try {
      const res = await fetch(`http://127.0.0.1:${worker.port}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
        signal: entry.abort.signal,
      });
      if (idleTimer !== null) clearTimeout(idleTimer);
      window.status = res.status;
      const out = new Headers(res.headers);
      for (const h of HOP_BY_HOP) out.delete(h);
      const body = res.body?.pipeThrough(
        new TransformStream({
          flush: done,
          cancel: done,
        }),
      );
      if (!body) done();
      return new Response(body ?? null, { status: res.status, headers: out });
    } catch (e) {
      if (idleTimer !== null) clearTimeout(idleTimer);
      done();
      if (idle) {
        this.#log("request_idle_timeout", `${this.options.limits.idleMs}ms`, worker, [entry.path]);
        return errorJson(504, "IDLE_TIMEOUT", "Function did not respond before the idle timeout");
      }
      if (worker.killedBy !== null) {
        return errorJson(
          546,
          "WORKER_LIMIT",
          `Function failed due to not having enough compute resources (${worker.killedBy})`,
        );
      }
      console.error(
        `[edge-runtime] ${this.options.name}: worker ${worker.seq} failed: ${
          e instanceof Error ? `${e.message} (${String(e.cause ?? "")})` : String(e)
        }`,
      );
      return errorJson(502, "WORKER_ERROR", "Function exited before sending a response");
    }
  }

  #sample(): void {
    const l = this.options.limits;
    for (const w of this.#workers) {
      if (w.dead || w.killedBy !== null) continue;
      const ticks = mainThreadTicks(w.pid);
      const rss = anonRssMb(w.pid);
      if (ticks === null || rss === null) continue;
      w.cpuMs = (ticks - w.cpuTicks0) * TICK_MS;
      w.rssMb = rss;
      if (Date.now() - w.lastMemory >= 100) {
        w.lastMemory = Infinity; // one reading in flight at a time
        this.#isolateBytes(w).then((bytes) => {
          if (bytes !== null) w.isolateMb = bytes / 1_048_576;
          w.lastMemory = Date.now();
        });
      }
      const mem = w.isolateMb;
      for (const win of w.windows.values()) win.isolatePeakMb = Math.max(win.isolatePeakMb, mem);
      this.#closeAnswered(w, ticks);
      const age = Date.now() - w.readyAt;
      if (!l.enabled) continue;
      const busy = w.inflight.size > 0;
      if (w.cpuMs >= l.cpuMs) this.#kill(w, "cpu", `${w.cpuMs}ms`, `${l.cpuMs}ms`);
      else if (mem >= l.memoryMb) {
        this.#kill(w, "memory", `${mem.toFixed(0)}MB`, `${l.memoryMb}MB`);
      } else if (age >= l.wallMs) {
        if (Date.now() - w.lastState < 200) continue;
        w.lastState = Date.now();
        // An idle worker at the end of its life is recycled, not killed.
        this.#stateOf(w).then((pending) => {
          if (w.dead || w.killedBy !== null) return;
          // Unknown (-1: the worker did not say within 2 s) counts as busy: a worker ended
          // with its background work running is a kill, and gets its limits.log line.
          if (busy || pending !== 0) this.#kill(w, "wall_clock", `${age}ms`, `${l.wallMs}ms`);
          else this.#end(w);
        });
      } else if (
        !w.retired && (w.cpuMs >= l.cpuSoftMs || mem >= l.memoryMb / 2 || age >= l.wallMs / 2)
      ) {
        const reason = w.cpuMs >= l.cpuSoftMs
          ? "cpu"
          : mem >= l.memoryMb / 2
          ? "memory"
          : "wall_clock";
        this.#retire(w, reason);
      } else if (w.retired && !busy && Date.now() - w.lastState > 200) {
        w.lastState = Date.now();
        this.#stateOf(w).then((pending) => {
          if (pending === 0 && w.inflight.size === 0) this.#end(w);
        });
      }
    }
  }

  /** Background tasks (`EdgeRuntime.waitUntil`) still running in a worker; -1 if unknown. */
  async #stateOf(w: Worker): Promise<number> {
    try {
      const res = await fetch(`http://127.0.0.1:${w.port}/__edge/state`, {
        signal: AbortSignal.timeout(2_000),
      });
      return ((await res.json()) as { pending: number }).pending;
    } catch {
      return -1;
    }
  }

  #retire(w: Worker, reason: string): void {
    w.retired = true;
    if (this.#current === w) this.#current = null;
    // Why workers are replaced (each replacement is a boot): a line in the slot's log.
    console.error(
      `[edge-runtime] ${this.options.name}: worker ${w.seq} retired (${reason}): cpu ${w.cpuMs} ms, ` +
        `isolate ${w.isolateMb.toFixed(0)} MB, age ${
          Date.now() - w.readyAt
        } ms, ${w.inflight.size} requests`,
    );
    // The runtime's shutdown notice: the function can hand its work over.
    fetch(`http://127.0.0.1:${w.port}/__edge/beforeunload`, {
      method: "POST",
      body: JSON.stringify({ reason }),
      signal: AbortSignal.timeout(2_000),
    }).then((r) => r.body?.cancel()).catch(() => {});
  }

  /** Ends a worker that has nothing left to do (no log line: nothing was cut short). */
  #end(w: Worker): void {
    w.retired = true;
    if (this.#current === w) this.#current = null;
    try {
      w.child.kill("SIGTERM");
    } catch { /* gone */ }
  }

  /** Terminates a worker over a hard limit, with every request it serves; logs it. */
  #kill(w: Worker, limit: string, measured: string, max: string): void {
    w.killedBy = `${limit} limit`;
    w.retired = true;
    if (this.#current === w) this.#current = null;
    try {
      w.child.kill("SIGKILL");
    } catch { /* gone */ }
    const paths = w.inflight.size > 0
      ? [...w.inflight].map((f) => f.path)
      : [`(background of ${w.lastPaths[0] ?? "no request"})`];
    this.#log(limit, measured, w, paths, max);
    const ticks = w.cpuTicks0 + w.cpuMs / TICK_MS;
    for (const win of w.windows.values()) this.#close(w, win, ticks, `${limit} limit`);
  }

  #open(w: Worker, path: string): Window {
    const win: Window = {
      id: `${w.seq}.${++this.#requests}`,
      path,
      startedAt: Date.now(),
      cpuTicks: mainThreadTicks(w.pid) ?? w.cpuTicks0 + w.cpuMs / TICK_MS,
      // The isolate's last reading (0 before its first: readings come every 100 ms), never
      // the process's anonymous RSS, which counts the runtime's own allocations too (up to
      // ~100 MB more in a baseline run's windows): the peak is of what the limit applies to.
      isolatePeakMb: w.isolateMb,
      status: null,
      answered: false,
      overlapped: w.windows.size > 0,
    };
    for (const other of w.windows.values()) other.overlapped = true;
    w.windows.set(win.id, win);
    return win;
  }

  /** Closes the windows of answered requests whose background tasks are done. */
  #closeAnswered(w: Worker, ticks: number): void {
    const answered = [...w.windows.values()].filter((win) => win.answered);
    if (answered.length === 0 || Date.now() - w.lastState < 200) return;
    w.lastState = Date.now();
    this.#requestsPending(w).then((pending) => {
      if (pending === null) return;
      for (const win of answered) {
        if (!(win.id in pending)) this.#close(w, win, mainThreadTicks(w.pid) ?? ticks, null);
      }
    });
  }

  #close(w: Worker, win: Window, ticks: number, endedBy: string | null): void {
    if (!w.windows.delete(win.id) || !this.options.requestsLog) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      slot: this.options.name,
      worker: w.seq,
      path: win.path,
      status: win.status,
      wall_ms: Date.now() - win.startedAt,
      cpu_ms: Math.max(0, ticks - win.cpuTicks) * TICK_MS,
      // The worker's own CPU since its boot (what the CPU limit counts) at the window's
      // arrival and end: per worker, last end − first arrival is what a run cost it.
      worker_cpu_ms_open: Math.max(0, win.cpuTicks - w.cpuTicks0) * TICK_MS,
      worker_cpu_ms: Math.max(0, ticks - w.cpuTicks0) * TICK_MS,
      isolate_mb_peak: Math.round(win.isolatePeakMb),
      overlapped: win.overlapped,
      ended_by: endedBy,
    });
    Deno.writeTextFileSync(this.options.requestsLog, line + "\n", { append: true });
  }

  /** Heap + external bytes of a worker's isolate, or null when it did not say. */
  async #isolateBytes(w: Worker): Promise<number | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${w.port}/__edge/state`, {
        signal: AbortSignal.timeout(2_000),
      });
      return ((await res.json()) as { isolate_bytes: number }).isolate_bytes;
    } catch {
      return null;
    }
  }

  /** Background tasks still running per request id, or null when the worker did not say. */
  async #requestsPending(w: Worker): Promise<Record<string, number> | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${w.port}/__edge/state`, {
        signal: AbortSignal.timeout(2_000),
      });
      return ((await res.json()) as { requests: Record<string, number> }).requests;
    } catch {
      return null;
    }
  }

  #log(limit: string, measured: string, w: Worker, paths: string[], max?: string): void {
    const l = this.options.limits;
    const line = [
      new Date().toISOString(),
      `limit=${limit}`,
      `measured=${measured}`,
      `max=${max ?? (limit === "request_idle_timeout" ? `${l.idleMs}ms` : "")}`,
      `slot=${this.options.name}`,
      `worker=${w.seq}`,
      `pid=${w.pid}`,
      `cpu_ms=${w.cpuMs}`,
      `isolate_mb=${w.isolateMb.toFixed(0)}`,
      `rss_anon_mb=${w.rssMb.toFixed(0)}`,
      `age_ms=${Date.now() - w.readyAt}`,
      `requests=${paths.length}`,
      `path=${paths.join(", ")}`,
    ].join(" ");
    Deno.writeTextFileSync(this.options.limitsLog, line + "\n", { append: true });
    console.error(`[edge-runtime] ${line}`);
  }
}

if (import.meta.main) {
  const [name, port, entrypoint, config, deno, limitsLog, requestsLog] = Deno.args;
  if (!name || !port || !entrypoint || !config || !deno || !limitsLog) {
    console.error(
      "usage: edge_runtime.ts NAME PORT ENTRYPOINT DENO_JSON DENO_BIN LIMITS_LOG [REQUESTS_LOG]",
    );
    Deno.exit(2);
  }
  const env = workerEnv(Deno.env.toObject());
  const limits = edgeLimitsFromEnv(env);
  const slot = new EdgeSlot({
    name,
    port: Number(port),
    entrypoint,
    config,
    deno,
    env,
    limits,
    limitsLog,
    ...(requestsLog ? { requestsLog } : {}),
    ...(env.EDGE_LOCK_FILE ? { lockFile: env.EDGE_LOCK_FILE } : {}),
    bundled: env.EDGE_BUNDLED === "1",
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => slot.stop().finally(() => Deno.exit(0)));
  }
  await slot.start();
  console.error(
    `[edge-runtime] ${name} on ${port} (${slot.options.bundled ? "bundle" : "sources"}): limits ${
      limits.enabled
        ? `cpu ${limits.cpuMs} ms (soft ${limits.cpuSoftMs}), memory ${limits.memoryMb} MB, ` +
          `wall ${limits.wallMs} ms, idle ${limits.idleMs} ms`
        : "off"
    }`,
  );
}
