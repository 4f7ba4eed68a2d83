import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { cssSelectorError, extractHtmlText } from "../../../shared/pipeline/html_extractor.ts";
import { EXTRACTOR_TEST_PAGE } from "./_html_pages.ts";

const PAGE = EXTRACTOR_TEST_PAGE;

Deno.test("extractHtmlText() keeps the main content and drops scripts, styles, chrome, forms and adverts", () => {
  const text = extractHtmlText(PAGE);
  for (const kept of ["Skilled worker visa", "job offer", "£719", "£1,035", "A partner or child"]) {
    assert.ok(text.includes(kept), `kept ${kept}`);
  }
  for (
    const dropped of [
      "tracking",
      "color:red",
      "Site banner",
      "Menu item",
      "Accept cookies",
      "Advertisement",
      "Related links",
      "Enable JavaScript",
      "Search",
      "Hidden text",
      "late",
      "Page generated",
      "session=abc123",
      "chart.png",
    ]
  ) {
    assert.ok(!text.includes(dropped), `dropped ${dropped}: ${text}`);
  }
});

Deno.test("extractHtmlText() puts headings, list items, table rows and line breaks on lines of their own", () => {
  const lines = extractHtmlText(PAGE).split("\n").map((l) => l.trim());
  for (
    const line of [
      "# Skilled worker visa",
      "You must have a job offer.",
      "From an approved employer.",
      "## Fees",
      "* Up to 3 years: £719",
      "* More than 3 years: £1,420",
      "1. Apply",
      "2. Wait",
      "Who | Amount",
      "Adult | £1,035",
      "Dependant",
      "A partner or child",
    ]
  ) {
    assert.ok(lines.includes(line), `line ${JSON.stringify(line)} in:\n${lines.join("\n")}`);
  }
});

Deno.test("extractHtmlText() renders only what the source's CSS selector matches", () => {
  const text = extractHtmlText(PAGE, { selector: "main ul" });
  assert.equal(text.trim(), "* Up to 3 years: £719\n * More than 3 years: £1,420");
  // With a selector, page chrome is the user's choice: a footer can be watched.
  assert.match(extractHtmlText(PAGE, { selector: "footer" }), /© 2026/);
});

Deno.test("extractHtmlText() renders nested selector matches once", () => {
  const text = extractHtmlText("<div class=x><p>outer</p><div class=x><p>inner</p></div></div>", {
    selector: ".x",
  });
  assert.equal(text.match(/inner/g)?.length, 1);
});

Deno.test("extractHtmlText() fails with parse when the selector is invalid or matches nothing", () => {
  for (const selector of ["main >>> p", "#does-not-exist"]) {
    assert.throws(
      () => extractHtmlText(PAGE, { selector }),
      (error) => error instanceof PipelineError && error.errorClass === "parse",
    );
  }
});

Deno.test("extractHtmlText() keeps an article's own header and footer", () => {
  const html = `<body><header>Site</header><article><header><h1>Rule 7</h1></header>
    <p>Text of the rule.</p><footer>Effective 1 March 2026</footer></article><footer>Site footer</footer></body>`;
  const text = extractHtmlText(html);
  assert.match(text, /# Rule 7/);
  assert.match(text, /Effective 1 March 2026/);
  assert.doesNotMatch(text, /Site footer|^Site$/m);
});

Deno.test("extractHtmlText() keeps content wrapped in one page-wide form (ASP.NET pages)", () => {
  const html =
    `<body><form id="aspnetForm" method="post"><input type="hidden" name="__VIEWSTATE" value="dDwtMTA4">
    <div id="content"><h1>Guidance</h1><p>Applicants must apply online.</p></div></form></body>`;
  const text = extractHtmlText(html);
  assert.match(text, /Applicants must apply online/);
  assert.doesNotMatch(text, /dDwtMTA4/);
});

Deno.test("extractHtmlText() falls back to the body when the page has no main element", () => {
  const text = extractHtmlText("<body><nav>Menu</nav><div><p>Only paragraph</p></div></body>");
  assert.equal(text.trim(), "Only paragraph");
});

Deno.test("cssSelectorError() accepts what the selector path runs and explains the rest", () => {
  for (const ok of ["main", "#terms > .content p", "article:not(.promo)", "div:has(> h1)"]) {
    assert.equal(cssSelectorError(ok), null, ok);
  }
  for (const bad of ["div[", "p:unknown-pseudo", "::nonsense(", "<p>", "  "]) {
    assert.ok(cssSelectorError(bad), bad);
  }
  assert.throws(
    () => extractHtmlText("<main>x</main>", { selector: "div[" }),
    /CSS selector "div\[" is not valid/,
  );
});
