/**
 * Helpers of the reliability tests: drive the daily-fetch job through the gateway as a
 * user would (service key, `Prefer: respond-async`, the run endpoint), wait for the job to
 * be idle, read a stack process's memory from /proc, and restart the stack.
 * @module
 */
import type postgres from "postgres";
import { REPO_ROOT, STATE_DIR } from "../../../supabase/local/ports.ts";
import type { RunDetails } from "../../../shared/jobs/types.ts";
import { eventually, stackKeys, SUPABASE_URL, waitForNoRunningRun } from "../_stack.ts";

/** How long the reliability tests wait for another test's run to end. */
export const IDLE_MS = 180_000;

/** The job's endpoint behind the gateway. */
export const ENDPOINT = `${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`;
/** The runs endpoint behind the gateway. */
export const RUNS = `${SUPABASE_URL}/functions/v1/api/jobs/runs`;

/**
 * `fetch` through the gateway, tried again for a few seconds when the connection fails:
 * other tests restart the stack's processes (`stack:start` after a code change).
 */
async function _gatewayFetch(url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0;; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (attempt >= 20 || !(error instanceof TypeError)) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** What the API answered. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** POSTs to the daily-fetch endpoint with the service key. */
export async function postRun(
  body: Record<string, unknown>,
  options: { async?: boolean } = {},
): Promise<ApiAnswer> {
  const { serviceRoleKey } = await stackKeys();
  const res = await _gatewayFetch(ENDPOINT, {
    method: "POST",
    headers: {
      authorization: `Bearer ${serviceRoleKey}`,
      "content-type": "application/json",
      ...(options.async ? { prefer: "respond-async" } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: keep the text for the assertion message */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** GET /api/jobs/runs/{id} with the service key; null on 404. */
export async function getRun(runId: string): Promise<RunDetails | null> {
  const { serviceRoleKey } = await stackKeys();
  const res = await _gatewayFetch(`${RUNS}/${runId}`, {
    headers: { authorization: `Bearer ${serviceRoleKey}` },
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200) {
    throw new Error(`Cannot read run ${runId}: HTTP ${res.status}: ${await res.text()}`);
  }
  return await res.json() as RunDetails;
}

/**
 * Starts a run in the background (202) once the job is idle, retrying on 409 while
 * another test's run finishes. Resolves to the run id.
 */
export async function startRunAsync(
  sql: postgres.Sql,
  body: Record<string, unknown>,
): Promise<string> {
  for (let tries = 0;; tries++) {
    await waitForNoRunningRun(IDLE_MS, sql);
    const res = await postRun(body, { async: true });
    if (res.status === 202) return res.body.run_id as string;
    if (res.status !== 409 || tries >= 5) {
      throw new Error(`Cannot start a run: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
    }
  }
}

/** Polls the run endpoint until the run is no longer running. */
export async function waitRun(runId: string, ms = 90_000): Promise<RunDetails> {
  return await eventually(`run ${runId} to finish`, async () => {
    const run = await getRun(runId);
    return run && run.status !== "running" ? run : undefined;
  }, ms);
}

/** Pid of a stack service, from .stack/pids/<service>.pid. */
export async function servicePid(service: string): Promise<number> {
  const pid = Number((await Deno.readTextFile(`${STATE_DIR}/pids/${service}.pid`)).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`Cannot read the pid of ${service}`);
  return pid;
}

/** Pids of the function workers (`functions`, `functions-2`, ...), by service name. */
export async function functionWorkerPids(): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  for await (const entry of Deno.readDir(`${STATE_DIR}/pids`)) {
    const service = entry.name.replace(/\.pid$/, "");
    if (/^functions(-\d+)?$/.test(service)) pids.set(service, await servicePid(service));
  }
  if (pids.size === 0) throw new Error("Cannot find a function worker's pid file");
  return new Map([...pids].sort(([a], [b]) => a.localeCompare(b)));
}

/** Resident memory of a process, from /proc/<pid>/status (kB). */
export interface ProcessMemory {
  pid: number;
  /** Current resident set. */
  rssKb: number;
  /** Peak resident set since the process started. */
  hwmKb: number;
}

/** Reads VmRSS and VmHWM of a process. */
export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (field: string) => {
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!m?.[1]) throw new Error(`Cannot read ${field} of process ${pid}`);
    return Number(m[1]);
  };
  return { pid, rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/**
 * Resets a process's peak RSS (VmHWM) to its current RSS, so the next reading is the peak
 * since now (Linux `clear_refs` 5; needs the process's owner or root). Resolves to the
 * memory after the reset; where the reset is refused the peak stays the lifetime peak.
 */
export async function resetPeakMemory(pid: number): Promise<ProcessMemory> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
  return await processMemory(pid);
}

/** True while a process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Runs `stack:start` (restarts dead services); resolves to its exit code and output. Runs
 * `supabase/local/stack.ts start` as `deno task stack:start` does, but with this process's
 * environment: `deno task` puts its own directories on PATH, which stack.ts folds into its
 * restart hash, so mixing the two in one test process would restart every worker.
 */
export function stackStart(): Promise<{ code: number; output: string }> {
  return _denoInRepo(["run", "-A", `${REPO_ROOT}/supabase/local/stack.ts`, "start"]);
}

/** `deno task <name>` in the repository; resolves to its exit code and output. */
export function denoTask(name: string): Promise<{ code: number; output: string }> {
  return _denoInRepo(["task", name]);
}

/** `deno <args>` in the repository, no input; its exit code and output (stdout + stderr). */
async function _denoInRepo(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: decode(out.stdout) + decode(out.stderr) };
}

/** Kills a process (with SIGKILL, every process under it too) and waits until they are gone. */
export async function killAndWait(pid: number, signal: Deno.Signal = "SIGKILL"): Promise<void> {
  // A function slot's supervisor runs its workers as child processes, which notice its death
  // only when their stdin closes: a worker could still take an answer meanwhile (seen: it
  // recorded the sink's 503 of the alert it was sending, after the test had killed its
  // supervisor). The edge runtime's SIGKILL of a worker is instant: kill the tree at once.
  const tree = signal === "SIGKILL" ? [pid, ..._descendants(pid)] : [pid];
  for (const p of tree) {
    try {
      Deno.kill(p, signal);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  await eventually(
    `process ${pid} to exit`,
    () => Promise.resolve(tree.some(processAlive) ? undefined : true),
    10_000,
  );
}

/** Every process under `pid` (its children, theirs…), from /proc. */
function _descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
    } catch {
      continue; // gone meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}
