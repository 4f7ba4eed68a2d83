/**
 * FastTokenizer (html_tokenizer.ts) against htmlparser2's own Tokenizer: the same callbacks,
 * with the same arguments, in the same order, on random pages made of what changes the
 * tokenizer's state (tags, quotes, entities with and without `;`, special tags, comments,
 * CDATA, declarations, stray `<` and `&`), written in one piece and in random chunks, and on
 * the extractor's test pages.
 */
import assert from "node:assert/strict";
import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";
import { FastTokenizer } from "../../../shared/pipeline/html_tokenizer.ts";
import { seeded } from "../../fixtures/bench_page.ts";
import { benchSitePage, EXTRACTOR_TEST_PAGE, sloppyPage, SUITE_FIXTURES } from "./_html_pages.ts";

const CALLBACKS = [
  "onattribdata",
  "onattribentity",
  "onattribend",
  "onattribname",
  "oncdata",
  "onclosetag",
  "oncomment",
  "ondeclaration",
  "onend",
  "onopentagend",
  "onopentagname",
  "onprocessinginstruction",
  "onselfclosingtag",
  "ontext",
  "ontextentity",
] as const;

/** Every callback of a tokenizer over `chunks`, with its arguments. */
function events(
  make: (cbs: TokenizerCallbacks) => Tokenizer,
  chunks: string[],
): string[] {
  const log: string[] = [];
  const cbs = Object.fromEntries(
    CALLBACKS.map((name) => [name, (...args: unknown[]) => log.push(`${name}(${args.join(",")})`)]),
  ) as unknown as TokenizerCallbacks;
  const tokenizer = make(cbs);
  for (const chunk of chunks) tokenizer.write(chunk);
  tokenizer.end();
  return log;
}

const PIECES = [
  "<",
  ">",
  "&",
  "&amp;",
  "&amp",
  "&lt",
  "&#x41;",
  "&#65",
  "&#",
  "&nbsp",
  "&notin;",
  "&noti",
  "&unknown;",
  '"',
  "'",
  "=",
  " ",
  "\n",
  "a",
  "text ",
  "é",
  "€",
  "😀",
  "<p>",
  "</p>",
  '<a href="',
  "<div class='",
  "<img alt=x&amp;y>",
  '<input value="a&quot;b">',
  "<script>",
  "</script>",
  "<style>",
  "</style>",
  "<title>",
  "</title>",
  "<textarea>",
  "</textarea>",
  "<xmp>",
  "</xmp>",
  "<!--",
  "-->",
  "--",
  "<![CDATA[",
  "]]>",
  "<!DOCTYPE html>",
  "<!doctype",
  "<?xml ",
  "?>",
  "<br/>",
  "</",
  "<<",
  "<x-y z=1>",
  "<svg>",
  "</svg>",
  "/",
];

function randomPage(random: () => number): string {
  const n = Math.floor(random() * 120);
  let out = "";
  for (let i = 0; i < n; i++) out += PIECES[Math.floor(random() * PIECES.length)];
  return out;
}

function randomChunks(text: string, random: () => number): string[] {
  const chunks: string[] = [];
  let at = 0;
  while (at < text.length) {
    const size = 1 + Math.floor(random() * 40);
    chunks.push(text.slice(at, at + size));
    at += size;
  }
  return chunks;
}

const stock = (options: { decodeEntities?: boolean }) => (cbs: TokenizerCallbacks) =>
  new Tokenizer(options, cbs);
const fast = (options: { decodeEntities?: boolean }) => (cbs: TokenizerCallbacks) =>
  new FastTokenizer(options, cbs);

Deno.test("FastTokenizer emits htmlparser2's events on 20,000 random pages, whole and in chunks", () => {
  const random = seeded(14);
  for (let i = 0; i < 20_000; i++) {
    const page = randomPage(random);
    const decodeEntities = i % 10 !== 9; // the fast paths stand aside without decoding
    const options = { decodeEntities };
    const chunks = i % 2 === 0 ? [page] : randomChunks(page, random);
    assert.deepEqual(
      events(fast(options), chunks),
      events(stock(options), chunks),
      `page ${i} (${JSON.stringify(page)}) in ${chunks.length} chunk(s)`,
    );
  }
});

Deno.test("FastTokenizer emits htmlparser2's events on the extractor's test pages", () => {
  const pages = [
    EXTRACTOR_TEST_PAGE,
    ...Object.values(SUITE_FIXTURES),
    ...Array.from({ length: 20 }, (_, i) => sloppyPage(i)),
    ...Array.from({ length: 5 }, (_, i) => benchSitePage(i)),
  ];
  for (const [i, page] of pages.entries()) {
    assert.deepEqual(
      events(fast({ decodeEntities: true }), [page]),
      events(stock({ decodeEntities: true }), [page]),
      `page ${i}`,
    );
  }
});

Deno.test("FastTokenizer skips runs: a page of plain text takes one text event", () => {
  const log = events(fast({ decodeEntities: true }), ["x".repeat(10_000) + "<b>y</b>"]);
  assert.deepEqual(log.slice(0, 2), ["ontext(0,10000)", "onopentagname(10001,10002)"]);
});
