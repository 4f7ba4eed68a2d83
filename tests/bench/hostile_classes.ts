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
import {
  catastrophicPattern,
  deepHtml,
  deepJson,
  pdfInflateBomb,
  pdfManyPages,
  urlDenseText,
} from "../fixtures/hostile_inputs.ts";

/** One hostile class: how to make its input, what the pipeline is given. */
export interface HostileCase {
  name: string;
  what: string;
  make(): Promise<
    { body: Uint8Array; contentType: string; patterns?: string[]; selector?: string }
  >;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** The classes, at the sizes of issue 11's findings. */
export const HOSTILE_CASES: HostileCase[] = [
  {
    name: "url_dense",
    what: "280 KB of text full of `http://`",
    make: () => Promise.resolve({ body: enc(urlDenseText(280_000)), contentType: "text/plain" }),
  },
  {
    name: "json_deep",
    what: "100 KB JSON: 12 arrays nested 4,000 deep",
    make: () =>
      Promise.resolve({ body: enc(deepJson(4_000, 12)), contentType: "application/json" }),
  },
  {
    name: "pdf_inflate_bomb",
    what: "PDF whose stream inflates to 500 MB",
    make: async () => ({ body: await pdfInflateBomb(500 << 20), contentType: "application/pdf" }),
  },
  {
    name: "pdf_10k_pages",
    what: "PDF with 10,000 pages",
    make: () => Promise.resolve({ body: pdfManyPages(10_000), contentType: "application/pdf" }),
  },
  {
    name: "pdf_60k_pages",
    what: "PDF with 60,000 pages",
    make: () => Promise.resolve({ body: pdfManyPages(60_000), contentType: "application/pdf" }),
  },
  {
    name: "html_deep",
    what: "400 KB HTML, `<div>` nested 40,000 deep",
    make: () =>
      Promise.resolve({ body: enc(deepHtml(40_000)), contentType: "text/html; charset=utf-8" }),
  },
  {
    name: "html_deep_selector",
    what: "the same with CSS selector `body`",
    make: () =>
      Promise.resolve({
        body: enc(deepHtml(40_000)),
        contentType: "text/html; charset=utf-8",
        selector: "body",
      }),
  },
  {
    name: "regex_nested_quantifier",
    what: "ignore pattern `(a+)+$` on 30 `a`s and a `!`",
    make: () => {
      const { pattern, text } = catastrophicPattern(30);
      return Promise.resolve({ body: enc(text), contentType: "text/plain", patterns: [pattern] });
    },
  },
  {
    name: "plain_10mb",
    what: "10 MB of plain words (healthy, large)",
    make: () =>
      Promise.resolve({
        body: enc("Visa fee 719 GBP from 1 January 2026.\n".repeat(10 * 1024 * 1024 / 38)),
        contentType: "text/plain",
      }),
  },
];

/** The input a case makes. */
export type HostileInput = Awaited<ReturnType<HostileCase["make"]>>;

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
