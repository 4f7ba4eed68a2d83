/**
 * What a function worker's boot loads, and what it loads on first use (docs/benchmarks.md,
 * "Worker boot and hot path"): the static module graph of functions/api/index.ts holds none
 * of the packages only some requests need (cheerio for CSS selectors, jsdiff for changes,
 * unpdf for PDFs, puppeteer-core for browser sources, feed for the Atom feed), while its
 * dynamic imports do (so the CLI's bundle has them); and in a fresh Deno 2.1.4 process (a
 * young worker) the first use of each works.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";
import { runBundledEdgeProbe, runEdgeProbe } from "./edge/run_probe.ts";
import { policyPdf } from "../../fixtures/pipeline_pages.ts";

const ON_DEMAND = ["cheerio", "diff", "unpdf", "puppeteer-core", "feed"];

interface GraphModule {
  specifier: string;
  dependencies?: Array<{ code?: { specifier: string }; isDynamic?: boolean }>;
}

/** npm packages reachable from the entry point, by static imports only or by any import. */
async function reachablePackages(): Promise<{ statically: Set<string>; at_all: Set<string> }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--no-lock",
      "--config",
      "functions/api/deno.json",
      "functions/api/index.ts",
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr).slice(-2000));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: GraphModule[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const walk = (dynamic: boolean): Set<string> => {
    const packages = new Set<string>();
    const seen = new Set<string>();
    const todo = [...graph.roots];
    while (todo.length > 0) {
      const spec = todo.pop()!;
      const resolved = graph.redirects[spec] ?? spec;
      if (seen.has(resolved)) continue;
      seen.add(resolved);
      const npm = resolved.match(/^npm:\/?((?:@[^/@]+\/)?[^/@]+)/);
      if (npm) {
        packages.add(npm[1]!);
        continue; // a package's own graph is the package's
      }
      for (const dep of bySpecifier.get(resolved)?.dependencies ?? []) {
        if (dep.code && (dynamic || !dep.isDynamic)) todo.push(dep.code.specifier);
      }
    }
    return packages;
  };
  return { statically: walk(false), at_all: walk(true) };
}

Deno.test("a worker's boot loads none of the packages only some requests need; dynamic imports reach them", async () => {
  const { statically, at_all } = await reachablePackages();
  for (const name of ON_DEMAND) {
    assert.ok(!statically.has(name), `${name} is imported statically: every boot evaluates it`);
    assert.ok(at_all.has(name), `${name} is not imported at all: the bundle would miss it`);
  }
  // What every request needs stays static.
  for (const name of ["hono", "@supabase/supabase-js", "htmlparser2", "zod"]) {
    assert.ok(statically.has(name), name);
  }
});

/** What the first use of each lazily loaded package answers in a young worker. */
// deno-lint-ignore no-explicit-any
function assertFirstUses(r: any): void {
  assert.equal(r.version, "2.1.4");
  assert.equal(r.selector, "Fee: £719");
  assert.match(r.selectorError, /^is not valid: /);
  assert.match(r.pdf, /\w{4}/);
  assert.equal(r.feed, true);
  assert.deepEqual(r.change, { status: "ok", changed: true, error: null });
  assert.match(r.diff, /^\+Rule two, amended\.$/m);
  // The package loaded; only the connection to a browser that is not there failed.
  assert.doesNotMatch(r.browser, /module|import|resolve/i);
  assert.match(r.browser, /WebSocket|connect|closed|refused/i);
}

async function withPdf(fn: (pdf: string) => Promise<void>): Promise<void> {
  const pdf = await Deno.makeTempFile({ suffix: ".pdf" });
  try {
    await Deno.writeFile(pdf, await policyPdf({ pages: 1 }));
    await fn(pdf);
  } finally {
    await Deno.remove(pdf);
  }
}

Deno.test("Deno 2.1.4, fresh process: the first selector, selector check, PDF, feed, change and browser connection work", async () => {
  await withPdf(async (pdf) => {
    assertFirstUses(await runEdgeProbe("first_use_probe.ts", [pdf], ["--no-lock"]));
  });
});

Deno.test("Deno 2.1.4, fresh process, from a bundle as the stack's workers boot: the same first uses work", async () => {
  await withPdf(async (pdf) => {
    assertFirstUses(await runBundledEdgeProbe("first_use_probe.ts", [pdf]));
  });
});
