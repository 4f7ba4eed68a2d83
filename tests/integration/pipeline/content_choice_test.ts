/**
 * What the pipeline records as a change on pages the way real sites serve them: a layout
 * edit or a relative time is no change, a block page is a classified failure, a new word is.
 */
import assert from "node:assert/strict";
import { captureLogger } from "../../../shared/log.ts";
import { runFetchPipeline } from "../../../shared/pipeline/pipeline.ts";
import type { PipelineResult } from "../../../shared/pipeline/types.ts";
import { newSource, recordingSleep, testConfig } from "../../unit/pipeline/_helpers.ts";
import { stackPipelineStore } from "./_stack_pipeline_store.ts";

const POLICY = Array.from({ length: 40 }, (_, i) => `<p>Clause ${i}: we keep your data safe.</p>`)
  .join("");

type _Store = Awaited<ReturnType<typeof stackPipelineStore>>;

/**
 * Runs `fn` with a source on a local server that answers `respond()` as HTML, its rows on
 * the stack: `check()` runs the pipeline once on the source as stored now.
 */
async function withServedSource(
  respond: () => string,
  fn: (check: () => Promise<PipelineResult>, store: _Store) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(respond(), { headers: { "content-type": "text/html; charset=utf-8" } }),
  );
  let store: _Store | undefined;
  try {
    const source = newSource(`http://127.0.0.1:${server.addr.port}/terms`);
    const s = store = await stackPipelineStore([source]);
    const deps = {
      fetch,
      clock: () => new Date(),
      logger: captureLogger(),
      store: s,
      config: testConfig(),
      sleep: recordingSleep(),
      random: () => 0.5,
    };
    await fn(async () => runFetchPipeline(await s.source(source.id), deps), s);
  } finally {
    await store?.cleanup();
    await server.shutdown();
  }
}

Deno.test("runFetchPipeline() ignores layout and relative times, refuses a block page, records a new word", async () => {
  let body = "";
  await withServedSource(() => body, async (check, s) => {
    body = `<main><p>Terms</p><p>Updated yesterday</p>${POLICY}</main>`;
    assert.equal((await check()).baseline, true);

    body = `<main><h1>Terms</h1><p>Updated 3 days ago</p>${POLICY}</main>`;
    const layout = await check();
    assert.equal(layout.status, "ok");
    assert.equal(layout.changed, false);

    body = "<main><h1>Too many requests</h1><p>Try again later.</p></main>";
    const blocked = await check();
    assert.equal(blocked.status, "failed");
    assert.equal(blocked.error_class, "parse");
    assert.match(blocked.error_message ?? "", /shrank from \d+ to \d+ characters/);
    assert.equal((await s.policyChanges()).length, 0);

    body = `<main><h1>Terms</h1>${POLICY.replace("Clause 7: we keep", "Clause 7: we sell")}</main>`;
    const edited = await check();
    assert.equal(edited.changed, true);
    assert.equal((await s.policyChanges()).length, 1);
  });
});

Deno.test("runFetchPipeline() records a change only when a second fetch agrees", async () => {
  let requests = 0;
  let rotating = false;
  const respond = () => {
    requests++;
    const word = rotating ? `offer ${requests}` : "stable";
    return `<main>${POLICY}<p>Today's ${word}</p></main>`;
  };
  await withServedSource(respond, async (check, s) => {
    assert.equal((await check()).baseline, true);
    rotating = true; // every response differs: the confirmation never agrees
    const before = requests;
    const result = await check();
    assert.equal(result.status, "ok");
    assert.equal(result.changed, false);
    assert.equal(requests - before, 2);
    assert.equal((await s.policyChanges()).length, 0);
  });
});

Deno.test("runFetchPipeline() confirms a change from the same bytes, or from other bytes with the same text", async () => {
  let requests = 0;
  let padded = false; // the confirmation's body: other bytes (whitespace), the same text
  let word = "stable";
  const respond = () => {
    requests++;
    const pad = padded && requests % 2 === 0 ? "\n\n" : "";
    return `<main>${POLICY}<p>Today's ${word}</p>${pad}</main>`;
  };
  await withServedSource(respond, async (check, s) => {
    assert.equal((await check()).baseline, true);
    word = "changed";
    let before = requests;
    const same = await check();
    assert.equal(requests - before, 2, "a confirmation fetch");
    assert.equal(same.changed, true, "the same bytes again confirm it");
    word = "changed again";
    padded = true;
    before = requests;
    const other = await check();
    assert.equal(requests - before, 2);
    assert.equal(other.changed, true, "other bytes with the same text confirm it");
    assert.equal((await s.policyChanges()).length, 2);
  });
});

Deno.test("runFetchPipeline() records a change undone, and ignores a block that keeps flipping", async () => {
  let body = "";
  await withServedSource(() => body, async (check, s) => {
    const page = (banner: string) => `<main>${POLICY}<p>${banner}</p></main>`;

    body = page("Sections D.1 to D.7 apply.");
    assert.equal((await check()).baseline, true);
    body = page("Sections D.1 to D.1 apply."); // a typo
    assert.equal((await check()).changed, true);
    body = page("Sections D.1 to D.7 apply."); // fixed back: a change undone is a change
    assert.equal((await check()).changed, true);
    // The line has now come and gone twice; its third flip is furniture.
    body = page("Sections D.1 to D.1 apply.");
    const flipped = await check();
    assert.equal(flipped.status, "ok");
    assert.equal(flipped.changed, false);
    assert.equal((await s.policyChanges()).length, 2);
  });
});
