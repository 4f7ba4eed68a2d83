/**
 * The streaming extractor (the default path) against the cheerio path (the old default,
 * kept for sources with a CSS selector), which is the spec.
 *
 * What "equal" means here: the two extractors' raw outputs are byte-identical, so their
 * normalised texts and hashes are too (a source's hash does not change when the
 * extractor does). The comparison is with the cheerio path *without* a selector, since
 * that is what the default path replaced; with the selector `main` cheerio keeps chrome
 * inside the main element (nav, asides, search forms), so it is equal only for pages
 * whose main element holds no chrome, which one test checks on the generated pages.
 *
 * Where exact equality is not reached, the case is written down in the last tests:
 * malformed markup that HTML5 repairs with its adoption agency, and raw-text elements
 * (<style>, <script>, <title>) inside <select> or SVG, which htmlparser2's tokenizer
 * reads as raw text and HTML5 does not.
 */
import assert from "node:assert/strict";
import { extractHtmlTextWithCheerio } from "../../../shared/pipeline/html_extractor.ts";
import { extractHtmlTextStreaming } from "../../../shared/pipeline/html_stream_extractor.ts";
import { normaliseText } from "../../../shared/pipeline/normalise.ts";
import { benchSitePage, sloppyPage, SUITE_FIXTURES } from "./_html_pages.ts";

/** Asserts that both paths give the same text (raw, hence normalised). */
function assertSameText(html: string, label: string): string {
  const expected = extractHtmlTextWithCheerio(html);
  const actual = extractHtmlTextStreaming(html);
  assert.equal(actual, expected, `${label}: raw text differs`);
  assert.equal(normaliseText(actual), normaliseText(expected), `${label}: normalised differs`);
  return actual;
}

/**
 * A test of named cases `[html, text]`, one step each: both paths give the same text, and
 * it is `text`.
 */
function testSameTextCases(name: string, cases: Record<string, [string, string]>): void {
  Deno.test(name, async (t) => {
    for (const [label, [html, expected]] of Object.entries(cases)) {
      await t.step(label, () => {
        assert.equal(assertSameText(html, label), expected);
      });
    }
  });
}

Deno.test("extractHtmlTextStreaming() gives the cheerio path's text for every HTML fixture of the test suite", () => {
  for (const [name, html] of Object.entries(SUITE_FIXTURES)) assertSameText(html, name);
});

Deno.test("extractHtmlTextStreaming() gives the cheerio path's text for benchmark-site pages", () => {
  for (const i of [1, 2, 3, 42, 500]) {
    const text = assertSameText(benchSitePage(i), `bench page ${i}`);
    assert.match(text, new RegExp(`^# Policy ${i}: rules for applicants`));
    assert.doesNotMatch(text, /Generated|request|Home/);
  }
  const edited = assertSameText(benchSitePage(4, 2), "edited bench page");
  assert.match(edited, /applies \(amended in round 2\)\./);
});

Deno.test("extractHtmlTextStreaming() gives the cheerio path's text for seeded pages with real-world markup errors", () => {
  // Pages with an unclosed link before a list, and a link or </a> inside the list: HTML5's
  // adoption agency makes a copy of the link an extra list item (see the known
  // differences below).
  const adoptionAgency = new Set([504, 537]);
  let compared = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const html = sloppyPage(seed);
    if (adoptionAgency.has(seed)) {
      assert.notEqual(extractHtmlTextStreaming(html), extractHtmlTextWithCheerio(html));
      assert.match(html, /<a href=#>[^]*<[uo]l[^]*<li>[^]*(<a href=#>|<\/a>)/);
      continue;
    }
    assertSameText(html, `sloppy page ${seed}`);
    compared++;
  }
  assert.equal(compared, 598);
});

Deno.test("extractHtmlTextStreaming() equals the cheerio path with selector main on pages whose main holds no chrome", () => {
  for (const html of [SUITE_FIXTURES["pipeline_pages: policyPage 40 KB"] ?? "", benchSitePage(9)]) {
    assert.equal(
      normaliseText(extractHtmlTextStreaming(html)),
      normaliseText(extractHtmlTextWithCheerio(html, { selector: "main" })),
    );
  }
});

testSameTextCases(
  "extractHtmlTextStreaming() lays out blocks, lists, tables and quotes as html-to-text does",
  {
    "headings get # by level": ["<h1>A</h1><h3>B</h3><h6>C</h6>", "# A\n\n### B\n\n###### C"],
    "paragraphs are separated by a blank line": ["<p>a</p><p>b</p>", "a\n\nb"],
    "an empty paragraph still separates": ["<p>a</p><p></p><p>b</p>", "a\n\n\n\nb"],
    "br ends a line, whitespace folds": ["<p>a  \n b<br>c\u200bd</p>", "a b\nc d"],
    "list items get prefixes padded to the longest": [
      "<ol><li>a<li>b<li>c<li>d<li>e<li>f<li>g<li>h<li>i<li>j</ol>",
      " 1.  a\n 2.  b\n 3.  c\n 4.  d\n 5.  e\n 6.  f\n 7.  g\n 8.  h\n 9.  i\n 10. j",
    ],
    "ordered lists honour start and type": [
      '<ol start="3" type="i"><li>a</li><li>b</li></ol>',
      " iii. a\n iv.  b",
    ],
    "nested lists are indented": [
      "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>",
      " * a\n   * b\n * c",
    ],
    "text and comments in a list are items of their own": [
      "<ul><li>a</li><!-- c --><li>b</li> x <li>c</li></ul>",
      " * a\n   \n * b\n   x\n * c",
    ],
    "a list right after text takes one line break": ["a<ul><li>b</li></ul>c", "a\n * b\n\nc"],
    "cells are joined by a bar, rows are lines": [
      "<table><caption>Fees</caption><tr><th>Who<th>Fee<tr><td>Adult<td>£719</table>",
      "Fees\n\nWho | Fee\nAdult | £719",
    ],
    "cells without a row get one": ["<table><td>a<td>b</table>", "a | b"],
    "blockquotes are quoted line by line": [
      "<blockquote><p>q1</p><p>q2</p></blockquote>",
      "> q1\n> \n> q2",
    ],
    "pre keeps its text, minus the first newline": [
      "<pre>\nfoo\n  bar</pre><pre>\n\nbaz</pre>",
      "foo\n  bar\n\n\nbaz",
    ],
    "hr is a line of dashes": ["<p>a</p><hr><p>b</p>", `a\n\n${"-".repeat(40)}\n\nb`],
    "definition lists put terms and definitions on lines": [
      "<dl><dt>Fee<dd>£719</dl>",
      "Fee\n\n£719",
    ],
    "entities are decoded and nbsp kept": [
      "<p>caf&eacute; &amp; &#8212; &lt;b&gt;&nbsp;x &copy 2026</p>",
      "café & — <b>\u00a0x © 2026",
    ],
    "link targets and images never show": [
      '<p>See <a href="/x?session=abc">the rules</a><img src="/c.png?v=1" alt="chart"></p>',
      "See the rules",
    ],
  },
);

testSameTextCases(
  "extractHtmlTextStreaming() drops what the cheerio path drops, decided when each element opens",
  {
    "scripts, styles, noscript, iframes, svg and form controls": [
      `<main><p>kept</p><script>s()</script><style>p{}</style><noscript><p>n</p></noscript>
       <iframe>i</iframe><svg><text>t</text></svg><select><option>o</select><button>b</button>
       <textarea>t</textarea><template><p>t</p></template><video>v</video></main>`,
      "kept",
    ],
    "hidden is dropped; aria-hidden and hidden=until-found are kept (collapsed accordions, a page behind a dialog)":
      [
        '<main><p hidden>h</p><span aria-hidden="true">a</span><span aria-hidden="false">kept</span>' +
        '<p hidden="">e</p><div hidden="Until-Found">collapsed clause</div></main>',
        "akept\ncollapsed clause",
      ],
    "dialogs and modal overlays are dropped": [
      '<main><div role="dialog"><h2>Allow cookies?</h2></div><div aria-modal="true">Sign up</div>' +
      '<div role="alertdialog">Alert</div><p>Policy</p></main>',
      "Policy",
    ],
    "consent managers by class or id": [
      '<main><div id="onetrust-consent-sdk">Privacy Preference Center</div>' +
      '<div class="didomi-popup">Consent</div><div class="cookie-table">Cookie list</div></main>',
      "Cookie list",
    ],
    "the document title is not text": [
      "<html><head><title>Site name</title></head><body><p>Policy</p>",
      "Policy",
    ],
    "adverts and cookie banners by class or id": [
      `<main><div class="ad-slot">a</div><div id="top_ad">b</div><ins class="adsbygoogle">c</ins>
       <div class="sponsored-links">d</div><div class="cookie-consent">e</div>
       <div class="header">kept</div><div class="download">kept too</div></main>`,
      "kept\nkept too",
    ],
    "chrome: nav, aside, landmark roles, page-level header and footer": [
      `<header>h</header><nav>n</nav><div role="banner">b</div><div role="search">s</div>
       <main><p>kept</p><aside>a</aside><footer>main's own footer</footer></main><footer>f</footer>`,
      "kept\n\nmain's own footer",
    ],
    "a search form is dropped, a page-wide form kept": [
      `<div id="content"><form><input name=q><label>Search</label></form>
       <form id="aspnetForm"><p>kept</p></form></div>`,
      "kept",
    ],
    "a form without content goes with what opened in it, even after </form>": [
      "<main><form><div>a</form>b</div><p>c</p></main>",
      "c",
    ],
    "breadcrumb trails and what the page's classes hide on a desktop screen": [
      `<main><ol class="breadcrumb"><li><a href="/">back</a></li></ol><p>Policy</p>
       <div class="app-banner d-lg-none">Get the app</div><div class="d-none d-lg-block">wide</div>
       <div class="lg:hidden">menu</div><div id="c-breadcrumbs">Home</div></main>`,
      "Policy\n\nwide",
    ],
    "a sign-up panel around an e-mail field goes with its field": [
      `<main><p>${"Policy text. ".repeat(100)}</p><section><div><h2>Join us</h2>
       <form><input type="email" name="e"></form><p>Thanks for signing up!</p></div>
       <article class="x"><p>Check your inbox</p></article></section><p>End</p></main>`,
      `${"Policy text. ".repeat(100).trim()}\n\nEnd`,
    ],
    "an e-mail field in a long section leaves the section": [
      `<main><section><p>${"Contact us. ".repeat(100)}</p><form><p>Your address</p>
       <input type="EMAIL"></form></section></main>`,
      `${"Contact us. ".repeat(100).trim()}\n\nYour address`,
    ],
    "a short page with an e-mail field is the page itself": [
      '<div><h1>Subscribe</h1><input type="email"><p>Weekly news</p></div>',
      "# Subscribe\n\nWeekly news",
    ],
  },
);

testSameTextCases("extractHtmlTextStreaming() picks the main content as the cheerio path does", {
  "a main holding a tenth of the page's text or less is a title, not the content": [
    `<main><h1>Terms</h1></main><div><p>${"Policy text. ".repeat(10)}</p></div>`,
    `# Terms\n\n${"Policy text. ".repeat(10).trim()}`,
  ],
  "the main's only article is the content when it holds most of the text": [
    `<div role="main"><article><p>${
      "Policy. ".repeat(20)
    }</p></article><h2>Still need help?</h2></div>`,
    "Policy. ".repeat(20).trim(),
  ],
  "a short article in the main is not the content": [
    `<main><article><p>Note</p></article><p>${"Policy. ".repeat(20)}</p></main>`,
    `Note\n\n${"Policy. ".repeat(20).trim()}`,
  ],
  "only the first main counts (empty: next candidate, then body)": [
    "<p>x</p><main></main><main><p>m</p></main>",
    "x\n\n\n\nm",
  ],
  "role=main when main is empty": ['<main> </main><div role="main">r</div><p>x</p>', "r"],
  "#main-content before #content before #main": [
    '<div id="main">c</div><div id="content">b</div><div id="main-content">a</div>',
    "a",
  ],
  "ids match exactly and case-sensitively": [
    '<div id="content x">A</div><div id="Content">B</div><p>C</p>',
    "A\nB\n\nC",
  ],
  ".main-content by class token": [
    '<div class="page main-content">a</div><p>x</p>',
    "a",
  ],
  "a page's only article": ["<div>x</div><article><p>a</p></article>", "a"],
  "the body when there are two articles": [
    "<article>a</article><article>b</article>",
    "a\nb",
  ],
  "the body when nothing matches": [
    "<nav>Menu</nav><div><p>Only paragraph</p></div>",
    "Only paragraph",
  ],
  "a candidate moved before its table comes first": [
    '<table id="content"><tr><td>cell</td></tr><div id="content">moved</div></table>',
    "moved",
  ],
});

testSameTextCases("extractHtmlTextStreaming() repairs malformed markup the way HTML5 does", {
  "unclosed paragraphs, items, cells and rows": [
    "<!doctype html><p>a<p>b<ul><li>c<li>d</ul><table><tr><td>e<td>f<tr><td>g</table>",
    "a\n\nb\n\n * c\n * d\n\ne | f\ng",
  ],
  "text put directly in a table moves before it": [
    "<!doctype html><div><table>stray<tr><td>cell</td></tr>more</table></div>",
    "straymore\ncell",
  ],
  "elements put directly in a table move before it": [
    "<!doctype html><table><div>moved</div><tr><td>cell</table>",
    "moved\ncell",
  ],
  "a form opened in a table stays empty, its fields stay in the table": [
    "<!doctype html><table><form><tr><td>kept</td></tr></form></table>",
    "kept",
  ],
  "in quirks mode (no doctype) a table stays inside the open p": [
    "<p>a<table><tr><td>b</td></tr>t</table>c</p>",
    "at\nb\n\nc",
  ],
  "an unclosed hidden link hides what follows, as HTML5 re-opens it": [
    '<!doctype html><main><p><a hidden href="#">icon</p><p>Text</p><h2>Title</h2></main>',
    "##",
  ],
  "end tags that match nothing open are ignored": [
    "<!doctype html><div>a</span></li></td>b</div>",
    "ab",
  ],
  "a closing heading tag closes any open heading": [
    "<!doctype html><h2>a</h3>b",
    "## a\n\nb",
  ],
  "HTML tags inside SVG leave it": [
    "<!doctype html><svg><title>t</title><p>out</p></svg>",
    "out",
  ],
  "head content never shows, content before body does": [
    "<html><head><title>T</title><meta name=x></head>text<body><p>b</p>",
    "text\n\nb",
  ],
  "CRLF line ends and NUL characters": [
    "<!doctype html><pre>\r\na\r\nb\0c</pre>",
    "a\nbc",
  ],
});

Deno.test("extractHtmlTextStreaming() known differences: the adoption agency and raw text in select or SVG", () => {
  // An unclosed <a> before a list, and a link (or </a>) inside the list: HTML5's adoption
  // agency moves the list out of the link and wraps what it held so far in a copy of the
  // link, which html-to-text lays out as an empty item. The streaming path keeps the list
  // inside the outer link (no empty item). Rare: it needs an unclosed link before a list.
  const adoption = '<a href="#">x<ul><li>y<a href="#">z</a></li></ul>';
  assert.equal(extractHtmlTextWithCheerio(adoption), "x\n   \n * yz");
  assert.equal(extractHtmlTextStreaming(adoption), "x\n * yz");
  // <style> inside <select>: HTML5 ignores the tag and reads on as markup; htmlparser2's
  // tokenizer reads everything up to </style> as CSS.
  const style = "<main><select><style>a</select><p>x</p>b</style><p>kept</p></main>";
  assert.equal(extractHtmlTextWithCheerio(style), "x\n\nb\n\nkept");
  assert.equal(extractHtmlTextStreaming(style), "");
});

Deno.test("extractHtmlTextStreaming() returns nothing for an empty page, a head only, or a dropped body", () => {
  for (
    const html of [
      "",
      "   ",
      "<!doctype html>",
      "<html><head><title>Only a title</title></head></html>",
      '<body class="ad-page"><p>x</p></body>',
      "<html hidden><body><p>x</p></body></html>",
    ]
  ) {
    assert.equal(assertSameText(html, JSON.stringify(html)), "");
  }
});
