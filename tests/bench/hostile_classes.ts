/**
 * Time and peak memory of each hostile input class through extract + normalise (what the
 * pipeline runs on a fetched body), each class in its own Deno process so its peak RSS
 * (VmHWM) is its own. Prints a Markdown table (the one in docs/reliability.md).
 *
 *   deno run -A tests/bench/hostile_classes.ts [--timeout-ms 60000] [--only name]
 *
 * `deno bench -A tests/bench/hostile_bench.ts` times the same classes in process.
 * @module
 */
import { extractDocument } from "../../shared/pipeline/extract.ts";
import { PipelineError } from "../../shared/pipeline/errors.ts";
import { compileIgnorePatterns, normaliseText } from "../../shared/pipeline/normalise.ts";
import { HOSTILE_CASES, type HostileInput } from "../fixtures/hostile_inputs.ts";

/** Runs one case's input in this process; resolves to its outcome (`ok` or an error class). */
export async function runCase(input: HostileInput): Promise<{ outcome: string; chars: number }> {
  try {
    const patterns = compileIgnorePatterns(input.patterns ?? []);
    const { text } = await extractDocument({
      body: input.body,
      contentType: input.contentType,
      selector: input.selector,
    });
    const out = normaliseText(text, { ignorePatterns: patterns });
    return { outcome: "ok", chars: out.length };
  } catch (error) {
    if (error instanceof PipelineError) return { outcome: error.errorClass, chars: 0 };
    return {
      outcome: `crash: ${error instanceof Error ? error.name : String(error)}`,
      chars: 0,
    };
  }
}

function _peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

if (import.meta.main) {
  const args = Deno.args;
  const child = args.indexOf("--child");
  if (child >= 0) {
    const c = HOSTILE_CASES.find((x) => x.name === args[child + 1]);
    if (!c) throw new Error(`Cannot run case: unknown ${args[child + 1]}`);
    const input = await c.make();
    const baseline = _peakRssMb();
    const started = performance.now();
    const { outcome, chars } = await runCase(input);
    const ms = Math.round(performance.now() - started);
    console.log(JSON.stringify({ outcome, chars, ms, baselineMb: baseline, peakMb: _peakRssMb() }));
    Deno.exit(0);
  }
  const t = args.indexOf("--timeout-ms");
  const timeoutMs = t >= 0 ? Number(args[t + 1]) : 60_000;
  const o = args.indexOf("--only");
  const only = o >= 0 ? args[o + 1] : undefined;
  console.log("| class | input | outcome | time | RSS: input made → peak |");
  console.log("| ----- | ----- | ------- | ---- | ---------------------- |");
  for (const c of HOSTILE_CASES) {
    if (only && c.name !== only) continue;
    const proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "--child", c.name],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const started = performance.now();
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    const out = await proc.output();
    clearTimeout(timer);
    const elapsed = Math.round(performance.now() - started);
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    let row: string;
    try {
      const r = JSON.parse(line);
      row = `${r.outcome} | ${r.ms} ms | ${r.baselineMb} → ${r.peakMb} MB`;
    } catch {
      const err = new TextDecoder().decode(out.stderr);
      const why = out.signal === "SIGKILL"
        ? `killed after ${timeoutMs} ms`
        : /out of memory|heap limit/i.test(err)
        ? "worker crash: V8 out of memory"
        : `worker crash (exit ${out.code})`;
      row = `${why} | ${elapsed} ms | -`;
    }
    console.log(`| ${c.name} | ${c.what} | ${row} |`);
  }
}
