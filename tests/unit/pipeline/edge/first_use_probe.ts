/**
 * Run by tests/unit/pipeline/lazy_modules_test.ts in a fresh process (a young worker): the
 * first use of each module the function loads on demand, printed as one JSON line.
 *
 *   deno-edge run -A --config functions/api/deno.json first_use_probe.ts <pdf-file>
 * @module
 */
import { loadConfig } from "../../../../shared/config.ts";
import { cssSelectorError } from "../../../../shared/operators/rules.ts";
import { browserSeam } from "../../../../shared/pipeline/browser_fetcher.ts";
import { extractDocument } from "../../../../shared/pipeline/extract.ts";
import { runFetchPipeline } from "../../../../shared/pipeline/pipeline.ts";
import type { RecordSnapshotInput } from "../../../../shared/pipeline/types.ts";
import type { Logger, Source } from "../../../../shared/types.ts";
import { atomOf } from "../../../../functions/api/routes/feeds.ts";
import { NEW_SOURCE_DEFAULTS } from "../../../fixtures/contract.ts";

const out: Record<string, unknown> = { version: Deno.version.deno };
const html = new TextEncoder().encode(
  "<html><body><nav>Menu</nav><main><p>Rule one.</p><div id=fees><p>Fee: £719</p></div></main></body></html>",
);

// 1. The first source with a CSS selector (the DOM path, cheerio).
out.selector = (await extractDocument({
  body: html,
  contentType: "text/html; charset=utf-8",
  selector: "#fees",
})).text;
// 2. The API's first CSS selector check (the same engine).
out.selectorError = await cssSelectorError("div[");
// 3. The first PDF (unpdf).
out.pdf = (await extractDocument({
  body: Deno.readFileSync(Deno.args[0]!),
  contentType: "application/pdf",
})).text.slice(0, 40);
// 4. The first feed (jpmonette/feed).
out.feed = (await atomOf([], { base: "http://127.0.0.1", now: new Date(0) })).includes("<feed");
// 5. The first change (its diff: jsdiff), through the whole pipeline against a local page.
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () =>
    new Response("<main><p>Rule one.</p><p>Rule two, amended.</p></main>", {
      headers: { "content-type": "text/html" },
    }),
);
const quiet = () => {};
const logger: Logger = { debug: quiet, info: quiet, warn: quiet, error: quiet };
let recorded: RecordSnapshotInput | null = null;
const source: Source = {
  ...NEW_SOURCE_DEFAULTS,
  id: crypto.randomUUID(),
  name: "probe",
  url: `http://127.0.0.1:${server.addr.port}/policy`,
  last_hash: "0".repeat(64),
  last_snapshot_id: crypto.randomUUID(),
};
const result = await runFetchPipeline(source, {
  fetch,
  clock: () => new Date(),
  logger,
  config: loadConfig({ FETCH_ALLOW_LOOPBACK: "true" }),
  store: {
    getSnapshotContent: () => Promise.resolve("Rule one.\n\nRule two."),
    getRecentSnapshots: () =>
      Promise.resolve([{ id: source.last_snapshot_id!, content: "Rule one.\n\nRule two." }]),
    recordSnapshot: (input) => {
      recorded = input;
      return Promise.resolve({
        snapshot_id: crypto.randomUUID(),
        policy_change_id: "c",
        baseline: false,
      });
    },
    updateSources: () => Promise.resolve(),
  },
}, { writeBookkeeping: false });
await server.shutdown();
out.change = { status: result.status, changed: result.changed, error: result.error_message };
out.diff = (recorded as RecordSnapshotInput | null)?.diff ?? null;
// 6. The first browser source's connection (puppeteer-core), to a browser that is not there:
// the package loads, then its connection fails.
const seam = browserSeam(
  loadConfig({ BROWSER_WS_ENDPOINT: "ws://127.0.0.1:9/devtools/browser/none" }),
  { fetch },
);
try {
  await seam!.connect(AbortSignal.timeout(5_000));
  out.browser = "connected?";
} catch (error) {
  out.browser = error instanceof Error ? error.message : String(error);
}
console.log(JSON.stringify(out));
