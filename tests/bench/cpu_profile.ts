/**
 * A V8 CPU profile of a piece of code in this process, through `node:inspector` (works under
 * Deno 2.9.6 and under the Deno 2.1.4 the function workers run, which has no `--cpu-prof`),
 * and a summary of its self time by function and by module (an npm package or a local file).
 * Used by tests/bench/edge_boot.ts and tests/bench/hot_path.ts.
 * @module
 */
import { Session } from "node:inspector";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** A V8 CPU profile (Profiler.stop's answer). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function _post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    // deno-lint-ignore no-explicit-any
    (s.post as any)(method, params ?? {}, (e: Error | null, r: T) => (e ? reject(e) : resolve(r)))
  );
}

/** Runs `fn` under the sampling profiler (`intervalUs` between samples). */
export async function profile<T>(
  fn: () => Promise<T> | T,
  intervalUs = 200,
): Promise<{ result: T; profile: CpuProfile }> {
  const s = new Session();
  s.connect();
  await _post(s, "Profiler.enable");
  await _post(s, "Profiler.setSamplingInterval", { interval: intervalUs });
  await _post(s, "Profiler.start");
  let result: T;
  try {
    result = await fn();
  } finally {
    // stop even when fn throws, so the session ends
  }
  const { profile } = await _post<{ profile: CpuProfile }>(s, "Profiler.stop");
  s.disconnect();
  return { result, profile };
}

/** The module a frame belongs to: `npm:name` for a package, else the file path's tail. */
export function moduleOf(url: string): string {
  if (url === "") return "(native/builtin)";
  const npm = url.match(/\/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/) ??
    url.match(/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)/);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) return "(runtime)";
  const m = url.match(/\/(functions|shared|supabase|tests|tools)\/(.*)$/);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** Self time (ms) by key, largest first. */
export function selfTimes(
  p: CpuProfile,
  key: (frame: ProfileNode["callFrame"]) => string,
): Array<[string, number]> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    if (!node) continue;
    const k = key(node.callFrame);
    ms.set(k, (ms.get(k) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  return [...ms].sort((a, b) => b[1] - a[1]);
}

/** A printable table of the largest self times by module and by function. */
export function summarise(p: CpuProfile, top = 25): string {
  const total = (p.endTime - p.startTime) / 1000;
  const fmt = (rows: Array<[string, number]>) =>
    rows.slice(0, top).map(([k, v]) => `${v.toFixed(1).padStart(8)} ms  ${k}`).join("\n");
  const byFunction = selfTimes(
    p,
    (f) => `${f.functionName || "(anonymous)"} ${moduleOf(f.url)}:${f.lineNumber + 1}`,
  );
  return `profile ${total.toFixed(1)} ms\n-- self time by module\n${
    fmt(selfTimes(p, (f) => f.functionName === "(garbage collector)" ? "(gc)" : moduleOf(f.url)))
  }\n-- self time by function\n${fmt(byFunction)}`;
}

/** Self times of several profiles added up (e.g. every worker of a bench run). */
export function mergedSelfTimes(
  profiles: CpuProfile[],
  key: (frame: ProfileNode["callFrame"]) => string,
): Array<[string, number]> {
  const ms = new Map<string, number>();
  for (const p of profiles) for (const [k, v] of selfTimes(p, key)) ms.set(k, (ms.get(k) ?? 0) + v);
  return [...ms].sort((a, b) => b[1] - a[1]);
}

if (import.meta.main) {
  // deno run -A tests/bench/cpu_profile.ts FILE.cpuprofile... : their self times added up.
  const profiles = Deno.args.map((f) => JSON.parse(Deno.readTextFileSync(f)) as CpuProfile);
  const top = Number(Deno.env.get("TOP") ?? 40);
  const fmt = (rows: Array<[string, number]>) =>
    rows.slice(0, top).map(([k, v]) => `${v.toFixed(1).padStart(9)} ms  ${k}`).join("\n");
  const total = profiles.reduce((t, p) => t + (p.endTime - p.startTime) / 1000, 0);
  console.log(`${profiles.length} profiles, ${total.toFixed(0)} ms`);
  console.log(
    "-- self time by module\n" +
      fmt(
        mergedSelfTimes(
          profiles,
          (f) =>
            f.functionName === "(garbage collector)" || f.functionName === "(idle)" ||
              f.functionName === "(program)"
              ? f.functionName
              : moduleOf(f.url),
        ),
      ),
  );
  console.log(
    "-- self time by function\n" +
      fmt(
        mergedSelfTimes(
          profiles,
          (f) => `${f.functionName || "(anonymous)"} ${moduleOf(f.url)}:${f.lineNumber + 1}`,
        ),
      ),
  );
}
