/**
 * CPU per stage of the pipeline's hot path on one bench-site page (an unchanged noisy 40 KB
 * page of tools/bench_site.ts, as a change run fetches 1,900 of 2,000): decoding and
 * extraction, normalisation, the change fingerprint, the hash, the text key. Thread CPU
 * (`/proc/thread-self/schedstat`) per call once warm, the first call's apart (cold code, as a
 * young worker runs it). Under Deno 2.9.6 and the workers' Deno 2.1.4:
 *
 *   deno run -A tests/bench/stages.ts [calls=400]
 *   STAGES_ROOT=/work/main deno run -A tests/bench/stages.ts   # another checkout's code
 *   DENO_DIR=~/.cache/deno-edge tools/npm/node_modules/deno-edge/deno run -A \
 *     --lock .stack/edge.lock --frozen --config functions/api/deno.json tests/bench/stages.ts
 * @module
 */
import { threadMs } from "./thread_cpu.ts";
import { benchSitePage } from "../fixtures/bench_page.ts";

// `STAGES_ROOT=/path/to/another/checkout`: that tree's pipeline, for a before → after.
const root = Deno.env.get("STAGES_ROOT") ?? new URL("../../", import.meta.url).pathname;
const detect: typeof import("../../shared/pipeline/detect.ts") = await import(
  `file://${root}/shared/pipeline/detect.ts`
);
const { extractDocument }: typeof import("../../shared/pipeline/extract.ts") = await import(
  `file://${root}/shared/pipeline/extract.ts`
);
const { normaliseText }: typeof import("../../shared/pipeline/normalise.ts") = await import(
  `file://${root}/shared/pipeline/normalise.ts`
);
const { changeFingerprint, sha256Hex } = detect;
const { textKey }: typeof import("../../shared/pipeline/text_key.ts") = await import(
  `file://${root}/shared/pipeline/text_key.ts`
);

const calls = Number(Deno.args[0] ?? 400);
const HTML = "text/html; charset=utf-8";
// 30 pages, and each call's text made new (a counter appended), so no result cache of the
// engine (V8 keeps the last results of split and of some replaces by subject) answers.
const bodies = Array.from(
  { length: 30 },
  (_, i) =>
    new TextEncoder().encode(benchSitePage(i, { token: crypto.randomUUID(), at: new Date() })),
);
const texts: string[] = [];
for (const body of bodies) texts.push((await extractDocument({ body, contentType: HTML })).text);
const normalised = texts.map((t) => normaliseText(t));
const fingerprints = normalised.map((t) => changeFingerprint(t));
let counter = 0;
const fresh = (list: string[]) => `${list[counter++ % list.length]}\n${counter}`;

async function stage(name: string, f: () => unknown): Promise<void> {
  const t0 = threadMs();
  await f();
  const first = threadMs() - t0;
  for (let i = 0; i < 50; i++) await f();
  const t1 = threadMs();
  for (let i = 0; i < calls; i++) await f();
  const warm = ((threadMs() - t1) / calls) * 1000;
  console.log(
    `${name.padEnd(34)} ${warm.toFixed(1).padStart(7)} µs warm, first call ${first.toFixed(2)} ms`,
  );
}

console.log(
  `Deno ${Deno.version.deno}, ${root}: 30 pages of ~${bodies[0]?.length} bytes, text ~${
    texts[0]?.length
  } chars`,
);
await stage(
  "decode + extract (streaming)",
  () => extractDocument({ body: bodies[counter++ % bodies.length]!, contentType: HTML }),
);
await stage("normaliseText", () => normaliseText(fresh(texts)));
await stage("changeFingerprint", () => changeFingerprint(fresh(normalised)));
await stage("sha256Hex", () => sha256Hex(fresh(fingerprints)));
// What every check of an unchanged page computes (the key of its extracted text).
await stage("textKey", () => textKey(fresh(texts), [], "a".repeat(64)));
