/**
 * HTML for the differential tests of the two extractor paths: every HTML fixture of the
 * test suite (copied here, deterministic, with where each comes from), the page shape of
 * the benchmark site (tools/bench_site.ts), and seeded "sloppy" pages with the markup
 * errors real sites have (unclosed paragraphs, items and cells, text and forms directly
 * in tables, unclosed inline tags, chrome, adverts, entities, CRLF line ends).
 * @module
 */
import {
  benchSitePage as benchSitePageWithNoise,
  noisyPage,
  policyPage,
  seeded,
} from "../../fixtures/pipeline_pages.ts";

/** The page of tests/unit/pipeline/html_extractor_test.ts. */
export const EXTRACTOR_TEST_PAGE =
  `<!doctype html><html><head><title>T</title><style>p{color:red}</style>
<script>var secret = "tracking";</script></head><body>
<header><a href="/">Home</a><div>Site banner</div></header>
<nav><ul><li>Menu item</li></ul></nav>
<div class="cookie-banner">Accept cookies</div>
<main>
  <h1>Skilled  worker   visa</h1>
  <p>You must have a <a href="/jobs?session=abc123">job offer</a>.<br>From an approved employer.</p>
  <h2>Fees</h2>
  <ul><li>Up to 3 years: £719</li><li>More than 3 years: £1,420</li></ul>
  <ol><li>Apply</li><li>Wait</li></ol>
  <table><caption>Surcharge</caption><tr><th>Who</th><th>Amount</th></tr><tr><td>Adult</td><td>£1,035</td></tr></table>
  <dl><dt>Dependant</dt><dd>A partner or child</dd></dl>
  <div class="ad-slot" id="ad-83f2">Advertisement 83f2</div>
  <ins class="adsbygoogle">ad</ins>
  <aside>Related links</aside>
  <iframe src="https://ads.example/frame"></iframe>
  <noscript>Enable JavaScript</noscript>
  <form><label>Search</label><input name="q"><button>Go</button></form>
  <img src="/chart.png?v=123" alt="chart">
  <p hidden>Hidden text</p>
  <script>document.write("late")</script>
</main>
<footer>© 2026 · Page generated 2026-11-28 14:03:27</footer>
</body></html>`;

/** A page of the benchmark site (tools/bench_site.ts) with its per-request noise fixed. */
export function benchSitePage(i: number, editRound?: number): string {
  const token = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
  return benchSitePageWithNoise(i, { token, at: BENCH_SITE_AT }, { editRound });
}
const BENCH_SITE_AT = new Date(1764295200000);

/** Other HTML of the test suite, by where it comes from. */
export const SUITE_FIXTURES: Record<string, string> = {
  "html_extractor_test: page": EXTRACTOR_TEST_PAGE,
  "html_extractor_test: nested selector matches":
    "<div class=x><p>outer</p><div class=x><p>inner</p></div></div>",
  "html_extractor_test: article header and footer":
    `<body><header>Site</header><article><header><h1>Rule 7</h1></header>
    <p>Text of the rule.</p><footer>Effective 1 March 2026</footer></article><footer>Site footer</footer></body>`,
  "html_extractor_test: page-wide form":
    `<body><form id="aspnetForm" method="post"><input type="hidden" name="__VIEWSTATE" value="dDwtMTA4">
    <div id="content"><h1>Guidance</h1><p>Applicants must apply online.</p></div></form></body>`,
  "html_extractor_test: no main element":
    "<body><nav>Menu</nav><div><p>Only paragraph</p></div></body>",
  "extract_test: nav and main": "<html><body><nav>Menu</nav><main><p>Rule</p></main></body></html>",
  "extract_test: doctype only": "<!DOCTYPE html><main><p>Rule</p></main>",
  "pipeline_site: /etag": "<html><body><main><p>Rules version 1</p></main></body></html>",
  "pipeline_site: /charset (decoded)":
    '<html><head><meta charset="windows-1252"></head><body><main><p>Gebühr</p></main></body></html>',
  "pipeline_site: /fee": "<html><body><main><p>Fee 719</p></main></body></html>",
  "pipeline_site: /script-only": "<html><body><main><script>render()</script></main></body></html>",
  "pipeline_site: /flaky": "<html><body><main><p>Finally up</p></main></body></html>",
  "pipeline_tls: /": "<html><body><main><p>secret rules</p></main></body></html>",
  "charset_test: meta http-equiv":
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head><body><p>Caf\u00e9</p></body></html>',
  "daily_fetch_test: policy page": `<!doctype html><html><head><title>Visa rules</title>
<script>var t = 1764295200000; var r = "0b9f3c1e-1111-4222-8333-444455556666";</script></head>
<body><nav><a href="/?sid=0b9f3c1e-1111-4222-8333-444455556666">Home</a></nav>
<main><h1>Visa rules</h1><ul><li>Rule one</li><li>Rule two</li></ul></main>
<footer>Generated 2026-11-28T02:00:00.000Z</footer></body></html>`,
  "demo_site: noisy policy page": `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Visa rules &amp; fees</title>
<script>window.__state = {"requestId": "6f1c", "ts": 1764295200000};</script>
<style>body { font-family: sans-serif; }</style></head>
<body>
<header><h1>Examplia Government Portal</h1><nav><a href="/">Home</a> <a href="/policies/visa-rules.html?session=6f1c">Visa rules</a> <a href="/policies/terms.html">Terms</a></nav></header>
<main>
<h2>Visa rules &amp; fees</h2>
<ol>
<li>Applicants must hold a valid passport.</li>
<li>The fee is &pound;719.</li>
</ol>
<p><a href="/contact?sid=6f1c">Contact us</a></p>
</main>
<aside class="ad" id="ad-6f1c0000">Sponsored: offer 6f1c00</aside>
<footer>Page generated 2026-11-28T02:00:00.000Z · © Examplia</footer>
</body></html>`,
  "pipeline_pages: noisyPage": noisyPage(new Date(Date.UTC(2026, 10, 28, 2, 0, 13))),
  "pipeline_pages: policyPage 2 KB": policyPage({ bytes: 2_000 }),
  "pipeline_pages: policyPage 40 KB": policyPage({ bytes: 40 * 1024 }),
  "pipeline_pages: policyPage 40 KB, changed word": policyPage({ bytes: 40 * 1024, word: "may" }),
  "pipeline_pages: policyPage 200 KB, seed 9": policyPage({ bytes: 200 * 1024, seed: 9 }),
  "bench_site: page 0": benchSitePage(0),
  "bench_site: page 7, edited": benchSitePage(7, 3),
  "bench_site: page 999": benchSitePage(999),
};

const WORDS = (
  "applicant sponsor visa licence guidance salary threshold occupation evidence route " +
  "dependant certificate employer eligibility requirement period fee £719 €1.035 " +
  "&amp; &lt;b&gt; &nbsp; &eacute;t&eacute; caf&#233; &#x2014; 14:03:27 2026-01-01"
).split(" ");

/**
 * A seeded page with the markup errors real sites have: paragraphs, list items, cells
 * and rows left open, text and forms put directly in tables, inline tags left open
 * across blocks, a page-wide ASP.NET form or a search form, chrome, adverts, cookie
 * banners, hidden parts, comments, entities, CRLF line ends, pre and blockquote blocks.
 */
export function sloppyPage(seed: number): string {
  const r = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  const words = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(" ");
  const maybe = (p: number, s: string) => (r() < p ? s : "");
  const blocks: string[] = [];
  const count = 3 + Math.floor(r() * 10);
  for (let b = 0; b < count; b++) {
    switch (Math.floor(r() * 12)) {
      case 0:
        blocks.push(`<h${1 + Math.floor(r() * 4)}>${words(3)}</h${1 + Math.floor(r() * 4)}>`);
        break;
      case 1: // paragraphs, sometimes left open
        blocks.push(`<p>${words(8)}${maybe(0.5, "</p>")}<p>${words(5)}${maybe(0.3, "</p>")}`);
        break;
      case 2: // list with unclosed items, a nested list, a comment
        blocks.push(
          `<${pick(["ul", "ol"])}${maybe(0.3, ' start="4"')}>\n<li>${words(4)}\n<li>${words(3)}${
            maybe(0.5, `<ul><li>${words(2)}</ul>`)
          }${maybe(0.3, "<!-- item -->")}<li>${words(2)}</${pick(["ul", "ol"])}>`,
        );
        break;
      case 3: // table with unclosed cells and rows, sometimes stray text or a form inside
        blocks.push(
          `<table${maybe(0.2, ' class="layout"')}>${maybe(0.3, `${words(2)}`)}${
            maybe(0.3, "<form action=/s>")
          }<tr><th>${words(1)}<th>${words(1)}<tr><td>${words(2)}<td>${words(2)}${
            maybe(0.4, "</td></tr>")
          }<tr><td>${maybe(0.3, "<p>")}${words(3)}<td>${words(1)}${maybe(0.3, "</form>")}</table>`,
        );
        break;
      case 4: // inline tags left open across blocks
        blocks.push(
          `<p><${pick(["b", "em", "a href=#", "strong"])}>${words(3)}</p><p>${words(3)}</p>`,
        );
        break;
      case 5: // chrome and adverts
        blocks.push(
          pick([
            `<nav><ul><li><a href="/">${words(1)}</a><li><a href="/x">${words(1)}</a></ul></nav>`,
            `<div class="ad-slot" id="ad-${seed}">Advertisement ${seed}</div>`,
            `<div class="cookie-banner">We use cookies <button>OK</button></div>`,
            `<aside>${words(4)}</aside>`,
            `<div role="navigation">${words(2)}</div>`,
            `<header><a href="/">${words(1)}</a></header>`,
          ]),
        );
        break;
      case 6: // hidden parts and scripts
        blocks.push(
          pick([
            `<p hidden>${words(2)}</p>`,
            `<span aria-hidden="true">${words(1)}</span>${words(2)}`,
            `<script>var x = "<p>${words(1)}</p>";</script>`,
            `<noscript><p>${words(2)}</p></noscript>`,
            `<style>.a{color:red}</style>`,
          ]),
        );
        break;
      case 7:
        blocks.push(`<pre>\n${words(3)}\n  ${words(2)}</pre>`);
        break;
      case 8:
        blocks.push(`<blockquote><p>${words(4)}<p>${words(2)}</blockquote>`);
        break;
      case 9:
        blocks.push(`<dl><dt>${words(1)}<dd>${words(4)}<dt>${words(1)}<dd>${words(2)}</dl>`);
        break;
      case 10: // a search form (dropped) or a form holding content (kept)
        blocks.push(
          pick([
            `<form><label>${words(1)}</label><input name=q><button>Go</button></form>`,
            `<form><p>${words(4)}</p><input type=submit></form>`,
          ]),
        );
        break;
      default:
        blocks.push(`<div>${words(5)}<br>${words(3)}<hr>${words(2)}</div>`);
    }
  }
  const body = blocks.join(maybe(0.5, "\n") || "\r\n");
  const frame = Math.floor(r() * 4);
  const doctype = maybe(0.6, "<!DOCTYPE html>\n");
  if (frame === 0) {
    return `${doctype}<html><head><title>${words(2)}</title></head><body><header>Site</header>` +
      `<main>${body}</main><footer>© ${words(1)}</footer></body></html>`;
  }
  if (frame === 1) {
    return `${doctype}<body><form id="aspnetForm"><input type=hidden name=__VIEWSTATE value=x>` +
      `<div id="content">${body}</div></form></body>`;
  }
  if (frame === 2) return `${doctype}<title>${words(1)}</title>${body}`;
  return `${doctype}<div class="main-content">${body}</div><article>${words(3)}</article>`;
}
